"""Pages in GBK and UTF-16, declared in the HTTP header, in a <meta>, or by a byte order mark.

The crawl decodes each page once, as a browser does, and uses that text for the links it
follows, the title it stores and the badge check. Chinese link paths are requested as a browser
requests them: the path percent-encoded in UTF-8, the query in the page's encoding (UTF-8 for
UTF-16 pages).
"""

from __future__ import annotations

import codecs
from pathlib import Path
from urllib.parse import quote

import pytest

from crawler.urls import LinkFilter, request_url
from testbed.siteserver import Route, government_page
from tests.crawling import crawl_site, last_check
from tests.factories import badge, register


def encoded(path: str, query: str = "", query_codec: str = "utf-8") -> str:
    """The request target a browser sends for a link to ``path?query``."""
    target = quote(path, safe="/")
    if query:
        target += "?" + quote(query.encode(query_codec), safe="=&")
    return target


def chinese_page(title: str, links: list[str], charset: str, *, meta: bool) -> str:
    text = government_page(title, links, badge(1), size_kb=6, charset=charset)
    if not meta:
        text = text.replace(f'<meta charset="{charset}">\n', "")
        assert "charset" not in text[:600]
    return text


# (served at, title, charset, how it is declared, the Chinese link on it: path, query)
CASES = [
    ("/gbk-header.html", "国标页头声明", "gbk", "header", "/新闻/国标一.html", ""),
    ("/gbk-meta.html", "国标元素声明", "gbk", "meta", "/新闻/元标.html", "类=通知"),
    ("/u16-bom.html", "统一码字节序", "utf-16-le", "bom", "/新闻/十六.html", ""),
    ("/u16-header.html", "统一码页头声明", "utf-16-le", "header", "/新闻/十六头.html", "类=公告"),
]


def route_for(title: str, charset: str, declared: str, links: list[str]) -> Route:
    if charset == "gbk":
        text = chinese_page(title, links, "gbk", meta=declared == "meta")
        body = text.encode("gbk")
    else:
        text = chinese_page(title, links, "utf-16le", meta=False)
        body = text.encode("utf-16-le")
        if declared == "bom":
            body = codecs.BOM_UTF16_LE + body
    content_type = f"text/html; charset={charset}" if declared == "header" else "text/html"
    return Route(body=body, content_type=content_type)


def test_links_titles_and_verdicts_of_gbk_and_utf16_pages(
    crawl_env, tmp_path: Path, serve_site
) -> None:
    routes: dict[str, Route | str] = {
        "/": government_page("首页", [served for served, *_ in CASES], badge(1), size_kb=4),
    }
    targets = {}
    for served, title, charset, declared, path, query in CASES:
        link = path + (f"?{query}" if query else "")
        query_codec = "gbk" if charset == "gbk" else "utf-8"
        target = encoded(path, query, query_codec)
        # The same link twice: as written in Chinese, and already percent-encoded.
        routes[served] = route_for(title, charset, declared, [link, target])
        targets[served] = target
        # Answered only at the exact target a browser would request.
        routes[target] = government_page(f"{title}的链接", [], badge(1), size_kb=3)
    site = serve_site(routes, names=["编码.政务"])
    register(crawl_env, tmp_path, [(1, "编码.政务", site.ip, None)])

    s = crawl_site(crawl_env, "编码.政务")

    _, pages = last_check(crawl_env)
    for served, title, *_ in CASES:
        assert pages[served].title == title, served
        assert pages[served].verdict == "compliant", served
        target = targets[served]
        assert site.hits(target) == 1, (served, target, [r.path for r in site.requests])
        assert pages[target].verdict == "compliant", target
        assert pages[target].title == f"{title}的链接"
    assert not any("%EF%BF%BD" in r.path for r in site.requests)
    assert s["pages_checked"] == 1 + 2 * len(CASES)
    assert s["status"] == "compliant"


@pytest.mark.parametrize(
    ("url", "codec", "requested"),
    [
        ("http://h/新闻/一.html?类=通知", "gbk",
         "http://h/%E6%96%B0%E9%97%BB/%E4%B8%80.html?%C0%E0=%CD%A8%D6%AA"),
        ("http://h/新闻/一.html?类=通知", "gb18030",
         "http://h/%E6%96%B0%E9%97%BB/%E4%B8%80.html?%C0%E0=%CD%A8%D6%AA"),
        ("http://h/a?q=通知", "utf-8", "http://h/a?q=%E9%80%9A%E7%9F%A5"),
        ("http://h/a?q=한", "gbk", "http://h/a?q=%26%2354620%3B"),  # the URL standard: &#54620;
        ("http://邯郸.政务/通知?x=1#frag", "gbk", "http://xn--ve4aqf.xn--zfr164b/%E9%80%9A%E7%9F%A5?x=1"),
        ("http://h/%E6%96%B0/a b", "utf-8", "http://h/%E6%96%B0/a b"),  # ASCII: as it is
    ],
)
def test_links_are_requested_as_a_browser_requests_them(url, codec, requested) -> None:
    assert request_url(url, codec) == requested


def test_a_link_written_in_chinese_and_percent_encoded_is_one_url() -> None:
    links = LinkFilter(hosts=frozenset({"h.example"}), max_pages=10, max_query_variants=5,
                       max_url_length=2083)
    first = links.admit("/新闻/一.html?类=通知", "http://h.example/", "gbk")
    assert first == "http://h.example/%E6%96%B0%E9%97%BB/%E4%B8%80.html?%C0%E0=%CD%A8%D6%AA"
    assert links.admit(first, "http://h.example/", "gbk") is None
    assert links.scheduled == 1
