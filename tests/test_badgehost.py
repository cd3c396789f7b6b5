"""Our own badge host: script, images and certificate page over real HTTP, then in Chromium.

The browser tests load a page served on loopback that carries the issued snippet, in Debian's
Chromium with host-resolver rules mapping the site and badge hosts to their addresses (and
nothing else), and check what the script did to the DOM.
"""

from __future__ import annotations

import contextlib
import struct
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from badgewatch.config import BadgeConfig, DnsConfig
from badgewatch.resolver import lookup, make_resolver
from testbed.badgehost import IMAGE_SIZE, BadgeHost, Registration
from testbed.pngs import SIGNATURE, png_size
from testbed.siteserver import Route, government_page
from tests.servers.badges import BEACON_HOST, BEACON_PATH, LiveBadgeHost
from tests.servers.sites import ServeSite
from workflow.issuance import certificate_url, issued_snippet, make_code, script_url

IDENT = "CA330000000604299710001"
OTHER = "CA051070000414687680001"
CERT = "0A87C46FEE4D331AE053022819ACDC8C"
CERT2 = "05C2ED68A8F661C9E053012819ACF5E5"
SITE = "邯郸.政务"
SITE_ASCII = "xn--ve4aqf.xn--zfr164b"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def registration(
    identifier: str = IDENT, certificate: str = CERT, **overrides: Any
) -> Registration:
    values: dict[str, Any] = {
        "unit": "邯郸市人民政府办公室",
        "site_name": "邯郸市人民政府",
        "domain": SITE,
        "kind": "party",
    }
    values.update(overrides)
    return Registration(identifier=identifier, certificate=certificate, **values)


def fetch(host: BadgeHost, url: str) -> tuple[int, Message, bytes]:
    """GET ``url`` from the badge host's address, with the URL's host name as Host header."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    request = urllib.request.Request(
        f"http://{host.ip}{target}", headers={"Host": parts.netloc, "User-Agent": "test"}
    )
    try:
        with _direct.open(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


def image_url(config: BadgeConfig, name: str) -> str:
    return f"{config.image_base}/{name}"


def pixel(png: bytes, x: int, y: int) -> tuple[int, int, int]:
    """One pixel of an unfiltered 8-bit RGB PNG with a single IDAT chunk (what pngs writes)."""
    width, _ = png_size(png)
    offset = 8
    while True:
        length, kind = struct.unpack(">I4s", png[offset : offset + 8])
        if kind == b"IDAT":
            raw = zlib.decompress(png[offset + 8 : offset + 8 + length])
            break
        offset += 12 + length
    stride = 1 + width * 3
    assert raw[y * stride] == 0  # filter type None
    start = y * stride + 1 + x * 3
    r, g, b = raw[start : start + 3]
    return r, g, b


# --- plain HTTP -----------------------------------------------------------------------------


def test_script_writes_span_and_fills_the_first_with_link_and_image(
    badge_host: LiveBadgeHost, badge_config: BadgeConfig
) -> None:
    badge_host.register(registration())
    status, headers, body = fetch(badge_host, script_url(badge_config, IDENT))
    assert status == 200
    assert headers["Content-Type"] == "application/javascript; charset=utf-8"
    js = body.decode("utf-8")
    assert "document.write(\"<span id='_ideConac' ></span>\")" in js
    assert 'document.getElementById("_ideConac")' in js
    assert "//bszs.badges.test/sitename?method=show&amp;id=" + CERT in js
    assert '<img id=\\"imgConac\\" vspace=\\"0\\" hspace=\\"0\\" border=\\"0\\"' in js
    assert 'src=\\"//dcs.badges.test/image/red.png\\" data-bd-imgshare-binded=\\"1\\"' in js
    assert "http://recv1.badges.test/gs.gif?" in js
    assert f"id={IDENT}&r=" in js
    assert "red_error.png" not in js
    assert badge_host.hits("/js/33/000/0000/60429971/") == 1


def test_script_image_follows_kind_and_revocation(
    badge_host: LiveBadgeHost, badge_config: BadgeConfig
) -> None:
    badge_host.register(registration())
    badge_host.register(registration(OTHER, CERT2, kind="institution"))

    def image_in_script(identifier: str) -> str:
        _, _, body = fetch(badge_host, script_url(badge_config, identifier))
        js = body.decode("utf-8")
        return js.split("/image/", 1)[1].split("\\", 1)[0]

    assert image_in_script(IDENT) == "red.png"
    assert image_in_script(OTHER) == "blue.png"
    assert badge_host.revoke(IDENT).revoked
    badge_host.revoke(OTHER)
    assert image_in_script(IDENT) == "red_error.png"
    assert image_in_script(OTHER) == "blue_error.png"
    badge_host.register(registration())  # registering again restores it
    assert image_in_script(IDENT) == "red.png"


def test_script_unknown_or_mismatched_paths_are_404(
    badge_host: LiveBadgeHost, badge_config: BadgeConfig
) -> None:
    badge_host.register(registration())
    base = badge_config.script_base
    good = script_url(badge_config, IDENT)
    assert fetch(badge_host, good)[0] == 200
    for url in (
        script_url(badge_config, OTHER),  # well formed, not registered
        f"{base}/05/107/0000/41468768/{IDENT}.js",  # digits of another identifier
        f"{base}/33/000/0000/60429972/{IDENT}.js",  # one digit off
        f"{base}/33/000/0000/{IDENT}.js",  # a level missing
        f"{base}/{IDENT}.js",
        good.removesuffix(".js"),
        good.replace("/js/", "/script/"),
    ):
        status, _, body = fetch(badge_host, url)
        assert status == 404, url
        assert b"imgConac" not in body
    with pytest.raises(KeyError):
        badge_host.revoke(OTHER)


def test_images_are_real_pngs_that_can_be_told_apart(
    badge_host: LiveBadgeHost, badge_config: BadgeConfig
) -> None:
    images = {}
    for name in ("red.png", "blue.png", "red_error.png", "blue_error.png"):
        status, headers, body = fetch(badge_host, image_url(badge_config, name))
        assert status == 200, name
        assert headers["Content-Type"] == "image/png"
        assert "max-age=" in headers["Cache-Control"]
        assert body.startswith(SIGNATURE)
        assert png_size(body) == IMAGE_SIZE == (110, 55)
        images[name] = body
    assert len(set(images.values())) == 4
    inside = (30, 10)  # inside the frame, off the error images' cross
    red, blue = pixel(images["red.png"], *inside), pixel(images["blue.png"], *inside)
    assert red[0] > 150 > red[2] and blue[2] > 150 > blue[0]
    for name in ("red_error.png", "blue_error.png"):
        grey = pixel(images[name], *inside)
        assert max(grey) - min(grey) < 10, name  # grey where the normal image is coloured
    assert pixel(images["red_error.png"], 55, 27) == pixel(images["red_error.png"], 0, 0)
    assert fetch(badge_host, image_url(badge_config, "green.png"))[0] == 404
    assert badge_host.hits("/image/") == 5


def test_certificate_page_shows_the_registration(
    badge_host: LiveBadgeHost, badge_config: BadgeConfig
) -> None:
    badge_host.register(registration())
    url = certificate_url(badge_config, CERT)
    status, headers, body = fetch(badge_host, url)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    page = body.decode("utf-8")
    for text in (
        "<th>单位名称</th><td>邯郸市人民政府办公室</td>",
        "<th>网站名称</th><td>邯郸市人民政府</td>",
        f"<th>域名</th><td>{SITE}</td>",
        f"<th>网站标识</th><td>{IDENT}</td>",
        "<th>单位类型</th><td>党政机关</td>",
        "<th>状态</th><td>正常</td>",
    ):
        assert text in page
    assert fetch(badge_host, url.replace(CERT, CERT.lower()))[0] == 200
    badge_host.revoke(IDENT)
    assert "<th>状态</th><td>已撤销</td>" in fetch(badge_host, url)[2].decode("utf-8")


def test_certificate_page_unknown_or_malformed_is_404(
    badge_host: LiveBadgeHost, badge_config: BadgeConfig
) -> None:
    badge_host.register(registration())
    good = certificate_url(badge_config, CERT)
    for url in (
        certificate_url(badge_config, CERT2),  # not registered
        good.replace("method=show", "method=list"),
        good.replace("?method=show&", "?"),
        good[:-1],  # 31 hex digits
        good.replace("/sitename", "/other"),
    ):
        status, _, body = fetch(badge_host, url)
        assert status == 404, url
        assert "您访问的页面不存在" in body.decode("utf-8")


def test_any_host_name_gets_every_path(
    badge_host: LiveBadgeHost, badge_config: BadgeConfig
) -> None:
    badge_host.register(registration())
    script = urlsplit(script_url(badge_config, IDENT)).path
    cert = certificate_url(badge_config, CERT).split("/", 3)[3]
    for host in ("bszs.badges.test", "dcs.badges.test", "elsewhere.test"):
        assert fetch(badge_host, f"http://{host}{script}")[0] == 200
        assert fetch(badge_host, f"http://{host}/image/blue.png")[0] == 200
        assert fetch(badge_host, f"http://{host}/{cert}")[0] == 200
    assert {r.host for r in badge_host.requests} == {
        "bszs.badges.test",
        "dcs.badges.test",
        "elsewhere.test",
    }


def test_names_resolve_and_env_points_at_the_host(
    badge_host: LiveBadgeHost, badge_config: BadgeConfig, dns_config: DnsConfig
) -> None:
    assert BadgeHost.hostnames(badge_config) == ("dcs.badges.test", "bszs.badges.test")
    resolver = make_resolver(dns_config)
    for name in BadgeHost.hostnames(badge_config):
        assert lookup(resolver, name).ipv4 == (badge_host.ip,)
    assert lookup(resolver, BEACON_HOST).ipv4 == (badge_host.beacon_server.ip,)
    assert badge_host.beacon_server.ip != badge_host.ip
    assert badge_host.env == {
        "BADGEWATCH_BADGE_SCRIPT_BASE": "http://dcs.badges.test/js",
        "BADGEWATCH_BADGE_IMAGE_BASE": "http://dcs.badges.test/image",
        "BADGEWATCH_BADGE_CERTIFICATE_URL": badge_config.certificate_url,
    }


def test_hostnames_are_distinct_and_ascii() -> None:
    config = BadgeConfig(
        script_base="https://标识.政务/js",
        image_base="http://IMG.badges.test:8080/i",
        certificate_url="http://标识.政务/cert/{certificate}.html",
    )
    assert BadgeHost.hostnames(config) == ("xn--iwvr90f.xn--zfr164b", "img.badges.test")
    assert BadgeHost.hostnames(BadgeConfig()) == ("dcs.conac.cn", "bszs.conac.cn")


def test_certificate_id_in_the_path_and_set_routes_take_precedence(ip_pool) -> None:
    config = BadgeConfig(
        script_base="http://badges.test",
        image_base="http://badges.test/img",
        certificate_url="http://badges.test/cert/{certificate}.html",
    )
    ip = ip_pool.acquire()
    try:
        with BadgeHost(config, ip, [registration()], relative=False) as host:
            status, _, body = fetch(host, certificate_url(config, CERT))
            assert status == 200
            assert IDENT in body.decode("utf-8")
            assert fetch(host, "http://badges.test/cert/" + CERT + ".htm")[0] == 404
            url = script_url(config, IDENT)
            assert urlsplit(url).path == "/33/000/0000/60429971/" + IDENT + ".js"
            js = fetch(host, url)[2].decode("utf-8")
            assert "http://badges.test/img/red.png" in js
            assert "new Image" not in js  # no beacon_url, no beacon
            host.set_route(urlsplit(url).path, Route(status=503, body="busy"))
            assert fetch(host, url)[0] == 503
    finally:
        ip_pool.release(ip)


def test_registration_is_validated() -> None:
    with pytest.raises(ValueError, match="21 digits"):
        registration("CA1234")
    with pytest.raises(ValueError, match="32 hexadecimal"):
        registration(certificate="XYZ")
    with pytest.raises(ValueError, match="kind"):
        registration(kind="school")


def test_a_certificate_belongs_to_one_identifier(badge_host: LiveBadgeHost) -> None:
    badge_host.register(registration())
    with pytest.raises(ValueError, match="already belongs"):
        badge_host.register(registration(OTHER, CERT))


# --- in Chromium ----------------------------------------------------------------------------

_PROBE = """(id) => {
    const spans = Array.from(document.querySelectorAll('[id="' + id + '"]'));
    const first = document.getElementById(id);
    const img = first && first.querySelector("img");
    const link = first && first.querySelector("a");
    return {
        spans: spans.map((s) => s.innerHTML),
        firstIsOutside: !!first && first.closest("#footer") === null,
        src: img ? img.getAttribute("src") : null,
        currentSrc: img ? img.currentSrc : null,
        naturalWidth: img ? img.naturalWidth : null,
        imgId: img ? img.id : null,
        href: link ? link.href : null,
        target: link ? link.target : null,
    };
}"""


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@contextlib.contextmanager
def chromium(pw: Playwright, hosts: dict[str, str]) -> Iterator[Browser]:
    """Debian's Chromium that resolves exactly ``hosts`` (name → address) and nothing else."""
    rules = ", ".join([f"MAP {name} {ip}" for name, ip in hosts.items()] + ["MAP * ~NOTFOUND"])
    browser = pw.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=[*CHROMIUM_ARGS, f"--host-resolver-rules={rules}"],
        timeout=30_000,
    )
    try:
        yield browser
    finally:
        browser.close()


@contextlib.contextmanager
def opened(browser: Browser, url: str, *, block: str | None = None) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = context.new_page()
        try:
            if block is not None:
                page.route(block, lambda route: route.abort())
            page.goto(url, wait_until="load", timeout=15_000)
            yield page
        finally:
            page.close()
    finally:
        context.close()


def hosts_for(site_ip: str, badge_host: LiveBadgeHost, *, beacon: bool = False) -> dict[str, str]:
    hosts = {SITE_ASCII: site_ip}
    hosts.update(dict.fromkeys(BadgeHost.hostnames(badge_host.config), badge_host.ip))
    if beacon:
        hosts[BEACON_HOST] = badge_host.beacon_server.ip
    return hosts


def snippet_page(config: BadgeConfig, identifier: str, certificate: str) -> str:
    code = make_code(config, identifier, certificate)
    return government_page("邯郸市人民政府", [], issued_snippet(config, code), size_kb=4)


@pytest.mark.parametrize(
    ("kind", "revoked", "image"),
    [
        ("party", False, "red.png"),
        ("institution", False, "blue.png"),
        ("party", True, "red_error.png"),
        ("institution", True, "blue_error.png"),
    ],
)
def test_issued_snippet_renders_the_badge(
    playwright: Playwright,
    badge_host: LiveBadgeHost,
    badge_config: BadgeConfig,
    serve_site: ServeSite,
    kind: str,
    revoked: bool,
    image: str,
) -> None:
    badge_host.register(registration(kind=kind, revoked=revoked))
    site = serve_site({"/": snippet_page(badge_config, IDENT, CERT)}, names=[SITE])
    with (
        chromium(playwright, hosts_for(site.ip, badge_host)) as browser,
        opened(browser, site.url("/")) as page,
    ):
        seen = page.evaluate(_PROBE, badge_config.span_id)
    # the snippet's span, filled, then the empty one the script wrote (the saved-DOM sandwich)
    assert len(seen["spans"]) == 2
    assert image in seen["spans"][0] and seen["spans"][1] == ""
    assert seen["src"] == f"//dcs.badges.test/image/{image}"
    assert seen["currentSrc"] == f"http://dcs.badges.test/image/{image}"
    assert seen["naturalWidth"] == 110
    assert seen["imgId"] == "imgConac"
    assert seen["href"] == certificate_url(badge_config, CERT)
    assert seen["target"] == "_blank"
    assert badge_host.hits(urlsplit(script_url(badge_config, IDENT)).path) == 1
    assert badge_host.hits(f"/image/{image}") == 1
    assert site.hits("/") == 1


def test_placeholder_span_earlier_in_the_page_gets_the_badge(
    playwright: Playwright,
    badge_host: LiveBadgeHost,
    badge_config: BadgeConfig,
    serve_site: ServeSite,
) -> None:
    badge_host.register(registration())
    page_html = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>邯郸</title></head><body>"
        "<div id='footer'><p>主办单位：邯郸市人民政府办公室</p>"
        "<span id='_ideConac'></span></div>"
        "<p>正文</p>"
        f"<script src='{script_url(badge_config, IDENT)}' type='text/javascript'></script>"
        "</body></html>"
    )
    site = serve_site({"/": page_html}, names=[SITE])
    with (
        chromium(playwright, hosts_for(site.ip, badge_host)) as browser,
        opened(browser, site.url("/")) as page,
    ):
        seen = page.evaluate(_PROBE, badge_config.span_id)
        in_footer = page.evaluate("() => !!document.querySelector('#footer #_ideConac img')")
    assert len(seen["spans"]) == 2  # the placeholder, and the one the script wrote
    first, written = seen["spans"]
    assert "red.png" in first and in_footer
    assert written == ""
    assert seen["naturalWidth"] == 110
    assert seen["href"] == certificate_url(badge_config, CERT)


def test_unknown_identifier_leaves_the_span_empty(
    playwright: Playwright,
    badge_host: LiveBadgeHost,
    badge_config: BadgeConfig,
    serve_site: ServeSite,
) -> None:
    badge_host.register(registration())
    site = serve_site({"/": snippet_page(badge_config, OTHER, CERT2)}, names=[SITE])
    with (
        chromium(playwright, hosts_for(site.ip, badge_host)) as browser,
        opened(browser, site.url("/")) as page,
    ):
        seen = page.evaluate(_PROBE, badge_config.span_id)
    assert seen["spans"] == [""]  # the snippet's span; the script never ran
    assert seen["src"] is None
    assert badge_host.hits(urlsplit(script_url(badge_config, OTHER)).path) == 1  # a 404
    assert badge_host.hits("/image/") == 0


def test_beacon_fires_unless_the_renderer_blocks_it(
    playwright: Playwright,
    badge_host: LiveBadgeHost,
    badge_config: BadgeConfig,
    serve_site: ServeSite,
) -> None:
    badge_host.register(registration())
    site = serve_site({"/": snippet_page(badge_config, IDENT, CERT)}, names=[SITE])
    beacons = badge_host.beacon_server
    hosts = hosts_for(site.ip, badge_host, beacon=True)
    with chromium(playwright, hosts) as browser:
        with opened(browser, site.url("/")) as page:
            page.wait_for_function("() => window._ideConacBeacon.complete")
            assert page.evaluate(_PROBE, badge_config.span_id)["naturalWidth"] == 110
        assert beacons.hits(BEACON_PATH) == 1
        (request,) = beacons.requests
        assert request.path.startswith(f"{BEACON_PATH}?id={IDENT}&r=0.")
        assert request.host == BEACON_HOST

        with opened(browser, site.url("/"), block=f"http://{BEACON_HOST}/**") as page:
            seen = page.evaluate(_PROBE, badge_config.span_id)
        assert seen["naturalWidth"] == 110  # the badge still renders
        assert beacons.hits(BEACON_PATH) == 1  # and no second beacon arrived
