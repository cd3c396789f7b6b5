"""Sitemaps and sitemap indexes from hostile servers: loops, depth, thousands, size, other hosts.

Each site is served on loopback and crawled by the real ``badgewatch crawl``; the assertions are
what the crawl did (requests the site received, Scrapy's request count, pages checked) and the
caps it counted in the site's refused counters.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from badgewatch.config import ConfigError, load_config
from testbed.siteserver import Route, government_page
from tests.crawling import crawl_site, last_check
from tests.factories import ascii_name, badge, register

XML = "application/xml; charset=utf-8"


def index(*locs: str) -> str:
    entries = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}'
        "</sitemapindex>"
    )


def urlset(*locs: str, filler: int = 0, filler_host: str = "elsewhere.example") -> str:
    """A urlset of ``locs``, then ``filler`` entries of ~170 bytes on another host (to make
    the file large without adding pages of this site)."""
    entries = [f"<url><loc>{loc}</loc></url>" for loc in locs]
    entries.extend(
        f"<url><loc>http://{filler_host}/archive/2024/notice-{i:08d}.html</loc>"
        "<lastmod>2024-05-01T08:00:00+08:00</lastmod><changefreq>monthly</changefreq>"
        "<priority>0.5</priority></url>\n"
        for i in range(filler)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(entries)
        + "</urlset>"
    )


def page(title: str) -> str:
    return government_page(title, [], badge(1), size_kb=3)


def robots(*sitemaps: str) -> Route:
    lines = ["User-agent: *", "Disallow:"] + [f"Sitemap: {url}" for url in sitemaps]
    return Route(body="\n".join(lines) + "\n", content_type="text/plain")


def test_indexes_listing_themselves_and_each_other_are_fetched_once(
    crawl_env, tmp_path: Path, serve_site
) -> None:
    host = ascii_name("地图环.政务")
    base = f"http://{host}"
    routes: dict[str, Route | str] = {
        "/": page("首页"),
        # Listed twice in robots.txt, and by itself, and by the index it lists.
        "/robots.txt": robots(f"{base}/sitemap.xml", f"{base}/sitemap.xml"),
        "/sitemap.xml": index(f"{base}/sitemap.xml", f"{base}/a.xml"),
        "/a.xml": index(f"{base}/b.xml", f"{base}/sitemap.xml", f"{base}/a.xml"),
        "/b.xml": index(f"{base}/a.xml", f"{base}/pages.xml"),
        "/pages.xml": urlset(*(f"{base}/s/{i}.html" for i in range(5))),
    }
    routes.update({f"/s/{i}.html": page(f"地图页{i}") for i in range(5)})
    site = serve_site(routes, names=["地图环.政务"])
    register(crawl_env, tmp_path, [(1, "地图环.政务", site.ip, None)])

    s = crawl_site(crawl_env, "地图环.政务")

    for path in ("/sitemap.xml", "/a.xml", "/b.xml", "/pages.xml"):
        assert site.hits(path) == 1, path
    # robots.txt, the home page, four sitemaps and the five pages they list: nothing more.
    assert s["stats"]["downloader/request_count"] == 11
    assert s["pages_checked"] == 6
    assert s["status"] == "compliant"
    refused, pages = last_check(crawl_env)
    assert {f"/s/{i}.html" for i in range(5)} <= set(pages)
    assert refused["sitemap_repeat"] == 5


def test_nested_indexes_stop_at_the_configured_depth(crawl_env, tmp_path: Path, serve_site) -> None:
    host = ascii_name("地图深.政务")
    base = f"http://{host}"
    routes: dict[str, Route | str] = {"/": page("首页")}
    # /sitemap.xml (depth 0) lists /u0.xml and /d1.xml (depth 1), which list /u1.xml, /d2.xml…
    for k in range(10):
        name = "/sitemap.xml" if k == 0 else f"/d{k}.xml"
        routes[name] = index(f"{base}/u{k}.xml", f"{base}/d{k + 1}.xml")
        routes[f"/u{k}.xml"] = urlset(f"{base}/deep/{k}.html")
        routes[f"/deep/{k}.html"] = page(f"第{k}层")
    site = serve_site(routes, names=["地图深.政务"])
    register(crawl_env, tmp_path, [(1, "地图深.政务", site.ip, None)])
    env = {**crawl_env, "BADGEWATCH_CRAWL_MAX_SITEMAP_DEPTH": "3"}

    s = crawl_site(env, "地图深.政务")

    fetched = {p for p in routes if p.endswith(".xml") and site.hits(p)}
    assert fetched == {"/sitemap.xml", "/d1.xml", "/d2.xml", "/d3.xml",
                       "/u0.xml", "/u1.xml", "/u2.xml"}
    assert all(site.hits(p) == 1 for p in fetched)
    refused, pages = last_check(env)
    assert {p for p in pages if p.startswith("/deep/")} == {f"/deep/{k}.html" for k in range(3)}
    assert refused["sitemap_depth"] == 2  # /u3.xml and /d4.xml, listed at depth 4
    assert s["pages_checked"] == 4


def test_an_index_of_thousands_is_capped_in_sitemaps_and_urls(
    crawl_env, tmp_path: Path, serve_site
) -> None:
    host = ascii_name("地图多.政务")
    base = f"http://{host}"
    routes: dict[str, Route | str] = {
        "/": page("首页"),
        "/sitemap.xml": index(*(f"{base}/sm/{i}.xml" for i in range(3000))),
    }
    one = page("地图多页")
    for i in range(3000):
        routes[f"/sm/{i}.xml"] = Route(body=urlset(f"{base}/p/{i}.html"), content_type=XML)
        routes[f"/p/{i}.html"] = one
    site = serve_site(routes, names=["地图多.政务"])
    register(crawl_env, tmp_path, [(1, "地图多.政务", site.ip, None)])
    env = {
        **crawl_env,
        "BADGEWATCH_CRAWL_MAX_SITEMAPS": "20",
        "BADGEWATCH_CRAWL_MAX_SITEMAP_URLS": "10",
    }

    s = crawl_site(env, "地图多.政务")

    sitemap_requests = [r for r in site.requests if r.path.endswith(".xml")]
    assert len(sitemap_requests) == 20  # the index and the first 19 it lists
    assert len({r.path for r in sitemap_requests}) == 20
    page_requests = [r for r in site.requests if r.path.startswith("/p/")]
    assert len(page_requests) == 10
    assert s["stats"]["downloader/request_count"] == 1 + 1 + 20 + 10
    assert s["pages_checked"] == 11
    refused, _ = last_check(env)
    assert refused["sitemap_cap"] == 3000 - 19
    assert refused["sitemap_urls_cap"] == 19 - 10


def test_large_and_compressed_sitemaps_are_read_up_to_their_own_cap(
    crawl_env, tmp_path: Path, serve_site
) -> None:
    host = ascii_name("地图大.政务")
    base = f"http://{host}"

    def big(prefix: str, filler: int) -> str:
        return urlset(*(f"{base}/{prefix}/{i}.html" for i in range(3)), filler=filler)

    plain = big("big", 42_000)  # about 7 MB: over the 5 MB page cap, under the sitemap cap
    assert 6_000_000 < len(plain) < 9_000_000
    huge = big("huge", 60_000)  # about 10 MB: over the configured sitemap cap
    assert len(huge) > 9_500_000
    routes: dict[str, Route | str] = {
        "/": page("首页"),
        "/robots.txt": robots(
            f"{base}/big.xml", f"{base}/big.xml.gz", f"{base}/enc.xml", f"{base}/huge.xml"
        ),
        "/big.xml": Route(body=plain, content_type=XML),
        # A gzip file, as most sites serve .xml.gz: no Content-Encoding.
        "/big.xml.gz": Route(
            body=gzip.compress(big("gz", 42_000).encode(), mtime=0),
            content_type="application/x-gzip",
        ),
        # Compressed on the wire: Content-Encoding: gzip.
        "/enc.xml": Route(body=big("enc", 42_000), content_type=XML, gzip=True),
        "/huge.xml": Route(body=huge, content_type=XML),
    }
    for prefix in ("big", "gz", "enc", "huge"):
        routes.update({f"/{prefix}/{i}.html": page(f"{prefix}{i}") for i in range(3)})
    site = serve_site(routes, names=["地图大.政务"])
    register(crawl_env, tmp_path, [(1, "地图大.政务", site.ip, None)])
    env = {**crawl_env, "BADGEWATCH_CRAWL_MAX_SITEMAP_BYTES": "9000000",
           "BADGEWATCH_CRAWL_DOWNLOAD_TIMEOUT": "20"}

    s = crawl_site(env, "地图大.政务")

    refused, pages = last_check(env)
    for prefix in ("big", "gz", "enc"):
        for i in range(3):
            assert pages[f"/{prefix}/{i}.html"].verdict == "compliant", (prefix, i)
    assert not [p for p in pages if p.startswith("/huge/")]
    assert site.hits("/huge/0.html") == 0
    assert refused["sitemap_too_large"] == 1
    assert s["pages_checked"] == 1 + 9


def test_sitemaps_on_other_hosts_are_not_fetched(crawl_env, tmp_path: Path, serve_site) -> None:
    host = ascii_name("地图外.政务")
    base = f"http://{host}"
    other = serve_site(
        {
            "/sitemap.xml": urlset(f"{base}/x/0.html"),
            "/more.xml": urlset(f"{base}/x/0.html"),
        },
        names=["cdn.other.example"],
    )
    site = serve_site(
        {
            "/": page("首页"),
            "/robots.txt": robots("http://cdn.other.example/sitemap.xml", f"{base}/index.xml"),
            "/index.xml": index("http://cdn.other.example/more.xml", f"{base}/own.xml"),
            "/own.xml": urlset(f"{base}/x/1.html"),
            "/x/0.html": page("外部列出"),
            "/x/1.html": page("本站列出"),
        },
        names=["地图外.政务"],
    )
    register(crawl_env, tmp_path, [(1, "地图外.政务", site.ip, None)])

    s = crawl_site(crawl_env, "地图外.政务")

    assert other.requests == []
    refused, pages = last_check(crawl_env)
    assert "/x/1.html" in pages and "/x/0.html" not in pages
    assert refused["sitemap_off_site"] == 2
    assert s["pages_checked"] == 2


def test_sitemap_settings_have_defaults_and_are_validated() -> None:
    crawl = load_config(environ={}).crawl
    assert (crawl.max_sitemaps, crawl.max_sitemap_depth) == (100, 3)
    assert (crawl.max_sitemap_urls, crawl.max_sitemap_bytes) == (50_000, 50 * 1024 * 1024)
    for key, value in (("MAX_SITEMAPS", "-1"), ("MAX_SITEMAP_DEPTH", "x"),
                       ("MAX_SITEMAP_BYTES", "10")):
        with pytest.raises(ConfigError, match=rf"\[crawl\] {key.lower()}"):
            load_config(environ={f"BADGEWATCH_CRAWL_{key}": value})
