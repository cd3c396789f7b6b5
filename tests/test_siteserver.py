"""The loopback websites the crawler is tested against: real sockets, real HTTP, real DNS."""

from __future__ import annotations

import gzip
import http.client
import socket
import threading
import time
import urllib.error
import urllib.request
from email.message import Message
from html.parser import HTMLParser

import pytest

from badgewatch.resolver import lookup, make_resolver
from testbed.siteserver import (
    IpPool,
    PoolExhausted,
    Route,
    SiteServer,
    government_page,
    redirect,
)
from tests.factories import wait_for

HANDAN = "xn--ve4aqf.xn--zfr164b"  # 邯郸.政务
UA = "badgewatch-test/1.0"
BADGE = (
    '<script type="text/javascript">document.write(unescape("%3Cspan id=\'_ideConac\' %3E'
    "%3C/span%3E%3Cscript src='http://dcs.conac.cn/js/05/107/0000/41468768/"
    "CA051070000414687680001.js' type='text/javascript'%3E%3C/script%3E\"));</script>"
)

# No proxy from the environment, and redirects are not followed unless a test asks.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_no_redirect = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def fetch(
    url: str,
    *,
    host: str | None = None,
    method: str = "GET",
    opener: urllib.request.OpenerDirector = _direct,
    timeout: float = 5.0,
) -> tuple[int, Message, bytes]:
    """(status, headers, body) of one request; HTTP errors are answers too."""
    headers = {"User-Agent": UA}
    if host is not None:
        headers["Host"] = host
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def raw_request(
    server: SiteServer, path: str, *, method: str = "GET", timeout: float = 5.0
) -> tuple[http.client.HTTPResponse, bytes]:
    """One request over http.client, so transport failures surface as themselves."""
    conn = http.client.HTTPConnection(server.ip, server.port, timeout=timeout)
    try:
        conn.request(method, path, headers={"User-Agent": UA})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)


# --- answers --------------------------------------------------------------------------------


def test_route_answers_with_its_status_type_and_body(serve_site) -> None:
    site = serve_site({"/": "<html><body>首页</body></html>", "/gone": Route(status=410)})
    status, headers, body = fetch(f"http://{site.ip}/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert body.decode("utf-8") == "<html><body>首页</body></html>"
    assert int(headers["Content-Length"]) == len(body)
    assert fetch(f"http://{site.ip}/gone")[0] == 410
    assert site.port == 80
    assert site.requests[0] == ("GET", "/", site.ip, UA)


def test_unknown_path_answers_404_html(serve_site) -> None:
    site = serve_site({"/": "home"})
    status, headers, body = fetch(site.url("/nope.html"))
    assert status == 404
    assert headers["Content-Type"].startswith("text/html")
    assert "404" in body.decode("utf-8")
    assert site.hits("/nope.html") == 1


def test_plain_bodies_are_typed_by_extension(serve_site) -> None:
    site = serve_site(
        {
            "/robots.txt": "User-agent: *\nDisallow: /private/\n",
            "/sitemap.xml": '<?xml version="1.0"?><urlset></urlset>',
            "/list.php": "<html></html>",
            "/files/report.pdf": b"%PDF-1.4 fake",
        }
    )
    assert fetch(site.url("/robots.txt"))[1]["Content-Type"] == "text/plain; charset=utf-8"
    assert "xml" in fetch(site.url("/sitemap.xml"))[1]["Content-Type"]
    assert fetch(site.url("/list.php"))[1]["Content-Type"] == "text/html; charset=utf-8"
    status, headers, body = fetch(site.url("/files/report.pdf"))
    assert (status, headers["Content-Type"], body) == (200, "application/pdf", b"%PDF-1.4 fake")


def test_text_body_is_encoded_in_the_declared_charset_and_bytes_are_sent_as_is(serve_site) -> None:
    page = '<meta charset="gbk"><p>邯郸市人民政府</p>'
    site = serve_site(
        {
            "/gbk": Route(body=page, content_type="text/html; charset=GBK"),
            # A page that says UTF-8 but is GBK: the liar the crawler must cope with.
            "/lies": Route(body=page.encode("gbk"), content_type="text/html; charset=utf-8"),
        }
    )
    assert fetch(site.url("/gbk"))[2] == page.encode("gbk")
    _, headers, body = fetch(site.url("/lies"))
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert body == page.encode("gbk")


def test_route_headers_replace_the_defaults(serve_site) -> None:
    site = serve_site(
        {"/": Route(body="x", headers={"content-type": "application/octet-stream", "X-A": "1"})}
    )
    _, headers, _ = fetch(site.url("/"))
    assert headers.get_all("Content-Type") == ["application/octet-stream"]
    assert headers["X-A"] == "1"


def test_redirect_sends_location_and_can_be_followed(serve_site) -> None:
    site = serve_site(
        {
            "/old": redirect("/new"),
            "/moved": redirect("http://www.example.gov.cn/", status=301),
            "/new": "new page",
        }
    )
    status, headers, _ = fetch(site.url("/old"), opener=_no_redirect)
    assert (status, headers["Location"]) == (302, "/new")
    assert fetch(site.url("/moved"), opener=_no_redirect)[0] == 301
    assert fetch(site.url("/old"))[2] == b"new page"
    assert [r.path for r in site.requests][-2:] == ["/old", "/new"]


def test_redirect_refuses_a_status_that_is_not_3xx() -> None:
    with pytest.raises(ValueError, match="3xx"):
        redirect("/x", status=200)


def test_gzip_route_sends_the_compressed_body(serve_site) -> None:
    big = "<p>政务公开</p>" * 50_000  # 0.9 MB of page in a few kilobytes on the wire
    site = serve_site({"/bomb": Route(body=big, gzip=True)})
    response, wire = raw_request(site, "/bomb")
    assert response.getheader("Content-Encoding") == "gzip"
    assert int(response.getheader("Content-Length", "0")) == len(wire) < 20_000
    assert gzip.decompress(wire).decode("utf-8") == big


def test_delay_holds_the_answer_back(serve_site) -> None:
    site = serve_site({"/slow": Route(body="late", delay=0.4)})
    started = time.monotonic()
    assert fetch(site.url("/slow"))[2] == b"late"
    assert time.monotonic() - started >= 0.4


def test_chunk_delay_trickles_the_body(serve_site) -> None:
    body = b"x" * 400
    site = serve_site(
        {
            "/trickle": Route(body=body, chunk_size=100, chunk_delay=0.1),
            "/chunked": Route(body=body, chunk_size=100, chunked=True),
        }
    )
    started = time.monotonic()
    response, data = raw_request(site, "/trickle")
    assert data == body
    assert time.monotonic() - started >= 0.3  # three pauses between four pieces
    response, data = raw_request(site, "/chunked")
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Content-Length") is None
    assert data == body


def test_head_answers_headers_without_body(serve_site) -> None:
    site = serve_site({"/": "<html>" + "x" * 1000 + "</html>"})
    response, data = raw_request(site, "/", method="HEAD")
    assert response.status == 200
    assert response.getheader("Content-Length") == "1013"
    assert data == b""
    assert site.requests[-1].method == "HEAD"


# --- hostile answers ------------------------------------------------------------------------


def test_reset_route_resets_the_connection(serve_site) -> None:
    site = serve_site({"/reset": Route(action="reset"), "/close": Route(action="close")})
    with pytest.raises(ConnectionResetError):
        raw_request(site, "/reset")
    with pytest.raises(http.client.RemoteDisconnected):
        raw_request(site, "/close")
    assert site.hits("/reset") == 1


def test_hang_never_answers_but_other_requests_are_served(serve_site) -> None:
    site = serve_site({"/hang": Route(action="hang"), "/": "home"})
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        raw_request(site, "/hang", timeout=0.5)
    assert time.monotonic() - started < 2
    assert fetch(site.url("/"))[2] == b"home"


def test_stop_is_prompt_while_a_hang_and_a_delay_are_in_progress() -> None:
    pool = IpPool()
    site = pool.serve({"/hang": Route(action="hang"), "/slow": Route(body="x", delay=60)})
    outcomes: list[BaseException | None] = []

    def client(path: str) -> None:
        try:
            raw_request(site, path, timeout=30)
        except BaseException as exc:
            outcomes.append(exc)
        else:
            outcomes.append(None)

    clients = [threading.Thread(target=client, args=(p,)) for p in ("/hang", "/slow")]
    for thread in clients:
        thread.start()
    wait_for(lambda: len(site.requests) == 2, 5, "both requests in progress")
    started = time.monotonic()
    site.stop()
    assert time.monotonic() - started < 1
    pool.release(site.ip)
    for thread in clients:
        thread.join(timeout=2)
    assert len(outcomes) == 2
    assert all(isinstance(exc, http.client.RemoteDisconnected) for exc in outcomes)


def test_stop_closes_kept_alive_connections_and_the_port() -> None:
    pool = IpPool()
    site = pool.serve({"/": "home"})
    conn = http.client.HTTPConnection(site.ip, 80, timeout=5)
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"home"  # HTTP/1.1: the connection stays open
    site.stop()
    site.stop()  # twice is fine
    pool.release(site.ip)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        conn.request("GET", "/")
        conn.getresponse()
    conn.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((site.ip, 80), timeout=2).close()


# --- routing --------------------------------------------------------------------------------


def test_query_matches_only_routes_that_name_one(serve_site) -> None:
    site = serve_site({"/list": "list any", "/list?page=2": "list two", "/news?id=2": "news two"})
    assert fetch(site.url("/list?page=2"))[2] == b"list two"
    assert fetch(site.url("/list?page=3"))[2] == b"list any"
    assert fetch(site.url("/list"))[2] == b"list any"
    assert fetch(site.url("/news?id=2"))[2] == b"news two"
    assert fetch(site.url("/news?id=1"))[0] == 404
    assert fetch(site.url("/news"))[0] == 404
    assert site.hits("/list") == 3
    assert site.hits("/list?page=2") == 1
    assert site.hits("/news") == 3


def test_routes_change_while_the_site_runs(serve_site) -> None:
    site = serve_site()
    assert fetch(site.url("/"))[0] == 404
    site.set_route("/", "now here")
    assert fetch(site.url("/"))[2] == b"now here"
    site.set_route("/", Route(status=503, body="maintenance"))
    assert fetch(site.url("/"))[0] == 503
    site.remove_route("/")
    site.remove_route("/never-there")
    assert fetch(site.url("/"))[0] == 404
    site.clear_requests()
    assert site.requests == []


def test_host_header_and_user_agent_are_logged(serve_site) -> None:
    site = serve_site({"/": "home"})
    fetch(f"http://{site.ip}/?a=1", host="www.example.gov.cn")
    assert site.requests == [("GET", "/?a=1", "www.example.gov.cn", UA)]


def test_route_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="status"):
        Route(status=99)
    with pytest.raises(ValueError, match="negative"):
        Route(delay=-1)
    with pytest.raises(ValueError, match="action"):
        Route(action="explode")  # type: ignore[arg-type]
    with pytest.raises(LookupError):
        Route(encoding="no-such-charset")
    with pytest.raises(ValueError, match="path"):
        SiteServer("127.0.0.1", {"robots.txt": "x"}, port=0)


def test_site_on_a_free_port_puts_the_port_in_urls() -> None:
    with SiteServer("127.0.0.1", {"/": "home"}, port=0, names=["www.example.gov.cn"]) as site:
        assert site.port != 80
        assert site.url("/a?b=1") == f"http://www.example.gov.cn:{site.port}/a?b=1"
        assert fetch(site.url("/", name="127.0.0.1"))[2] == b"home"


# --- names ----------------------------------------------------------------------------------


def test_serve_site_publishes_its_names_in_dns(serve_site, dns_config) -> None:
    one = serve_site({"/": "邯郸"}, names=["邯郸.政务", "www.handan.gov.cn"])
    two = serve_site({"/": "other"}, names=["www.other.gov.cn"])
    assert one.ip != two.ip
    resolver = make_resolver(dns_config)
    assert lookup(resolver, "邯郸.政务").ipv4 == (one.ip,)
    assert lookup(resolver, HANDAN).ipv4 == (one.ip,)
    assert lookup(resolver, "www.handan.gov.cn").ipv4 == (one.ip,)
    assert lookup(resolver, "www.other.gov.cn").ipv4 == (two.ip,)
    assert one.url("/a") == f"http://{HANDAN}/a"
    assert one.url("/a", name="www.handan.gov.cn") == "http://www.handan.gov.cn/a"

    # What a crawler does: resolve through DNS, connect to the address on port 80, send the name.
    (address,) = lookup(resolver, HANDAN).ipv4
    status, _, body = fetch(f"http://{address}/", host=HANDAN)
    assert (status, body.decode("utf-8")) == (200, "邯郸")
    assert one.requests[-1].host == HANDAN
    assert two.requests == []


def test_ip_pool_skips_taken_addresses_and_reuses_released_ones() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.2.10", 80))
        squatter.listen(1)
        pool = IpPool("127.0.2.10", "127.0.2.11")
        assert pool.acquire() == "127.0.2.11"
        with pytest.raises(PoolExhausted):
            pool.acquire()
        pool.release("127.0.2.11")
        assert pool.acquire() == "127.0.2.11"


def test_ip_pool_refuses_addresses_that_are_not_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        IpPool("10.0.0.1", "10.0.0.9")


# --- pages ----------------------------------------------------------------------------------


def test_government_page_has_links_footer_and_size() -> None:
    links = [f"/xxgk/{i}.html" for i in range(50)]
    page = government_page("邯郸市人民政府", links, BADGE)
    size = len(page.encode("utf-8"))
    assert 29 * 1024 <= size <= 30 * 1024
    parser = _Links()
    parser.feed(page)
    assert parser.hrefs == links
    for text in ("主办单位", "ICP备", "公网安备", "网站标识码", "<title>邯郸市人民政府</title>"):
        assert text in page
    footer = page.index('<div class="footer">')
    assert footer < page.index(BADGE) < page.index("</body>")
    assert page.count("</body>") == 1
    assert page.rstrip().endswith("</html>")
    assert page == government_page("邯郸市人民政府", links, BADGE)


def test_government_page_padding_holds_no_badge_and_sizes_follow_the_charset() -> None:
    plain = government_page("某某县人民政府", ["/"], "", size_kb=20, charset="gbk")
    assert "conac" not in plain.lower()
    assert '<meta charset="gbk">' in plain
    assert 19 * 1024 <= len(plain.encode("gbk")) <= 20 * 1024
    for charset in ("gb2312", "gb18030"):  # every character of the template fits the old sets
        page = government_page("邯郸市人民政府", ["/a"], "", size_kb=5, charset=charset)
        assert 4 * 1024 <= len(page.encode(charset, errors="strict")) <= 5 * 1024
    small = government_page("某某县人民政府", [], "", size_kb=0)
    assert len(small.encode("utf-8")) < 10 * 1024
    huge = government_page("某某县", [f"/p/{i}" for i in range(20_000)], "", size_kb=30)
    assert huge.count("<a href=") == 20_000  # more links than size: no padding, all links kept


def test_government_page_escapes_the_title_and_refuses_unknown_charsets() -> None:
    page = government_page("<script>x</script>", [], "")
    assert "<script>x</script>" not in page
    with pytest.raises(LookupError):
        government_page("x", [], "", charset="no-such-charset")
