"""A badge the page itself stops from loading fails; a badge host we cannot reach is not checked.

Real pages on loopback, rendered in Debian's Chromium: the page's own Content-Security-Policy
(in ``<meta>`` and in the HTTP header, several directives), module, ``nomodule``,
``integrity`` and ``crossorigin`` badge scripts, and an HTTPS page loading the badge over HTTP
(mixed content) are the page's doing: ``badge_not_rendered`` with a message saying what
blocked the badge. A stopped, hanging, failing or unresolvable badge host is our failure to
check: ``not_checked``. Our own blocking of the analytics beacons is neither.

Each test renders its pages through one Renderer (one browser, one context a lane).
"""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from badgewatch.config import Config
from crawler.render.browser import RenderOutcome
from testbed.localdns import LocalDnsServer
from testbed.siteserver import IpPool, Route, SiteServer
from tests.factories import IDENT, NAME, page, render_all, snippet
from workflow.issuance import script_url

CSP = "Content-Security-Policy"


def csp_meta(policy: str) -> str:
    return f'<meta http-equiv="{CSP}" content="{policy}">'


def with_head(html: str, head: str) -> str:
    return html.replace("<head>", f"<head>{head}", 1)


def script_tag(config: Config, attributes: str) -> str:
    """The badge's span and script in plain markup, the script element given ``attributes``."""
    return (f'<span id="{config.badge.span_id}"></span>'
            f'<script {attributes} src="{script_url(config.badge, IDENT)}"></script>')


def summary(outcomes: dict[str, RenderOutcome]) -> dict[str, tuple[str, tuple[str, ...], str]]:
    return {name: (o.verdict.verdict, o.verdict.reasons, o.verdict.message)
            for name, o in outcomes.items()}


# name -> (page, the words the message must contain). Every one is badge_not_rendered.
PAGE_BLOCKS = {
    "csp_meta_script": (
        lambda c: with_head(page(snippet(c)), csp_meta("script-src 'self' 'unsafe-inline'")),
        ("内容安全策略", "标识脚本", "<meta")),
    "csp_header_script": (
        lambda c: Route(body=page(snippet(c)), headers={CSP: "script-src 'self' 'unsafe-inline'"}),
        ("内容安全策略", "标识脚本", "HTTP 响应头")),
    "csp_header_default": (
        lambda c: Route(body=page(snippet(c)),
                        headers={CSP: "default-src 'self' 'unsafe-inline'"}),
        ("内容安全策略", "标识脚本")),
    "csp_header_img": (
        lambda c: Route(body=page(snippet(c)), headers={CSP: "img-src 'self' data:"}),
        ("内容安全策略", "标识图片")),
    "csp_meta_img_by_default": (
        lambda c: with_head(page(snippet(c)), csp_meta(
            "default-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline' "
            "http://dcs.badges.test")),
        ("内容安全策略", "标识图片", "<meta")),
    "csp_header_no_inline": (
        lambda c: Route(body=page(snippet(c)),
                        headers={CSP: "script-src 'self' http://dcs.badges.test"}),
        ("内容安全策略", "内联脚本")),
    "csp_header_trusted_types": (
        lambda c: Route(body=page(snippet(c)),
                        headers={CSP: "require-trusted-types-for 'script'"}),
        ("内容安全策略", "Trusted Types", "HTTP 响应头")),
    "csp_meta_trusted_types": (
        lambda c: with_head(page(snippet(c)), csp_meta("require-trusted-types-for 'script'")),
        ("内容安全策略", "Trusted Types", "<meta")),
    "module": (lambda c: page(script_tag(c, 'type="module"')), ("module",)),
    "nomodule": (lambda c: page(script_tag(c, "nomodule")), ("nomodule",)),
    "integrity": (lambda c: page(script_tag(c, 'integrity="sha384-' + "A" * 64 + '"')),
                  ("integrity",)),
    "crossorigin": (lambda c: page(script_tag(c, 'crossorigin="anonymous"')), ("crossorigin",)),
}


def test_a_badge_blocked_by_the_page_fails(render_config, serve_site) -> None:
    """Issue 11, defect 3: the page's own policy or markup keeps the badge from loading."""
    routes = {f"/{name}": build(render_config) for name, (build, _) in PAGE_BLOCKS.items()}
    site = serve_site(routes, names=[NAME])
    got = render_all(render_config, {name: site.url(f"/{name}") for name in PAGE_BLOCKS})
    wrong = {}
    for name, (_, words) in PAGE_BLOCKS.items():
        verdict = got[name].verdict
        if (verdict.verdict, verdict.reasons) != ("non_compliant", ("badge_not_rendered",)) or \
                not all(word in verdict.message for word in words):
            wrong[name] = (verdict.verdict, verdict.reasons, verdict.message, words)
    assert not wrong, wrong
    # The evidence of a failing page is kept: the dashed outline where the badge belongs.
    assert all(got[name].screenshot is not None for name in PAGE_BLOCKS)


def test_what_the_page_blocks_beside_the_badge_is_not_a_failure(render_config,
                                                                serve_site) -> None:
    """A policy that stops only the beacon, or only reports, leaves the badge showing."""
    routes = {
        # The badge host is allowed; the analytics beacon's host is not.
        "/beacon_only": Route(body=page(snippet(render_config)), headers={
            CSP: "default-src 'self' 'unsafe-inline' http://dcs.badges.test"}),
        "/report_only": Route(body=page(snippet(render_config)), headers={
            f"{CSP}-Report-Only": "default-src 'self'"}),
        "/allowed": with_head(page(snippet(render_config)), csp_meta(
            "script-src 'self' 'unsafe-inline' http://dcs.badges.test; img-src *")),
    }
    site = serve_site(routes, names=[NAME])
    got = render_all(render_config, {name.strip("/"): site.url(name) for name in routes})
    assert {name: o.verdict.verdict for name, o in got.items()} == dict.fromkeys(
        ["beacon_only", "report_only", "allowed"], "compliant"), summary(got)


def test_our_own_beacon_blocking_is_not_the_page(render_config, serve_site, badge_host) -> None:
    """With third parties allowed, the renderer aborts the beacon request by request
    (net::ERR_BLOCKED_BY_CLIENT): the page is still compliant and the beacon never sent."""
    config = render_config.model_copy(update={"render": render_config.render.model_copy(
        update={"allow_third_party": True})})
    site = serve_site({"/": page(snippet(config))}, names=[NAME])
    got = render_all(config, {"home": site.url("/")})
    assert got["home"].verdict.verdict == "compliant", summary(got)
    assert badge_host.beacon_server.hits("/gs.gif") == 0


def test_a_badge_host_we_cannot_reach_is_not_checked(render_config, serve_site,
                                                     badge_host) -> None:
    """A refused connection to the badge host is our outage, whatever the page says."""
    site = serve_site({
        "/plain": page(snippet(render_config)),
        # The page's policy allows the badge host; only the outage stops the badge.
        "/with_policy": Route(body=page(snippet(render_config)), headers={
            CSP: "script-src 'self' 'unsafe-inline' http://dcs.badges.test"}),
        "/module": page(script_tag(render_config, 'type="module"')),
    }, names=[NAME])
    badge_host.stop()
    got = render_all(render_config, {name: site.url(f"/{name}")
                                     for name in ("plain", "with_policy", "module")})
    for outcome in got.values():
        assert outcome.verdict.verdict == "not_checked", summary(got)
        assert outcome.verdict.reasons == ("render_error",)
        assert "标识服务器无法访问" in outcome.verdict.message, summary(got)
        assert "ERR_CONNECTION_REFUSED" in outcome.verdict.message, summary(got)


def test_a_badge_host_name_that_does_not_resolve_is_not_checked(
        render_config, serve_site, badge_host, dns_server: LocalDnsServer) -> None:
    site = serve_site({"/": page(snippet(render_config))}, names=[NAME])
    for name in badge_host.names:
        dns_server.remove(name)
    got = render_all(render_config, {"home": site.url("/")})
    verdict = got["home"].verdict
    assert (verdict.verdict, verdict.reasons) == ("not_checked", ("render_error",)), verdict
    assert "标识服务器无法访问" in verdict.message
    assert "ERR_NAME_NOT_RESOLVED" in verdict.message


def test_a_badge_host_that_fails_or_hangs_is_not_checked(render_config, serve_site,
                                                         badge_host) -> None:
    """A 5xx answer is the badge host's failure; a script that never comes is a timeout. An
    identifier the host does not know (404, an HTML page the browser refuses to run) is the
    host's answer too: whether the page carries this site's code is the static check's job."""
    from testbed.badgehost import Registration

    other, other_cert = "CA330000000604258900010", "1800CB4DBB7B99F0E06310291AAC09C6"
    badge_host.register(Registration(other, other_cert, "单位", "网站", "另一.政务"))
    badge_host.set_route(urlsplit(script_url(render_config.badge, IDENT)).path,
                         Route(status=503, body="busy", content_type="text/plain"))
    badge_host.set_route(urlsplit(script_url(render_config.badge, other)).path,
                         Route(action="hang"))
    site = serve_site({
        "/failing": page(snippet(render_config)),
        "/hanging": page(snippet(render_config, other, other_cert)),
        "/unknown": page(snippet(render_config, "CA330000000604258890099", "9" * 32)),
    }, names=[NAME])
    got = render_all(render_config, {name: site.url(f"/{name}") for name in ("failing", "unknown")})
    # The hang is cut off by the page time limit: short here, since nothing ever answers.
    hurried = render_config.model_copy(update={"render": render_config.render.model_copy(
        update={"page_timeout": 5})})
    got |= render_all(hurried, {"hanging": site.url("/hanging")})
    assert {name: o.verdict.verdict for name, o in got.items()} == dict.fromkeys(
        got, "not_checked"), summary(got)
    assert "HTTP 503" in got["failing"].verdict.message, summary(got)
    assert "标识服务器没有响应" in got["hanging"].verdict.message, summary(got)
    assert "标识服务器的回答不是脚本或图片" in got["unknown"].verdict.message, summary(got)


# --- mixed content: an HTTPS page that loads the badge over HTTP ----------------------------


def _self_signed(directory: Path, name: str) -> ssl.SSLContext:
    """A server context with a throw-away certificate for ``name`` (Chromium is told to
    ignore certificate errors: the test is about mixed content, not about trust)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


@pytest.fixture
def tls_site(tmp_path, ip_pool: IpPool, dns_server: LocalDnsServer) -> Iterator[SiteServer]:
    """A site on port 443 of its own loopback address, speaking TLS, named tls.site.test."""
    name = "tls.site.test"
    context = _self_signed(tmp_path, name)
    ip = ip_pool.acquire()
    server = SiteServer(ip, port=443, names=[name])
    # The listening socket handed to TLS; each connection shakes hands in its own thread.
    server._server.socket = context.wrap_socket(
        server._server.socket, server_side=True, do_handshake_on_connect=False)
    server.start()
    dns_server.set_records(name, a=[ip])
    yield server
    dns_server.remove(name)
    server.stop()
    ip_pool.release(ip)


def test_mixed_content_is_the_page(render_config, tls_site: SiteServer) -> None:
    tls_site.set_route("/", page(snippet(render_config)))
    config = render_config.model_copy(update={"render": render_config.render.model_copy(
        update={"args": [*render_config.render.args, "--ignore-certificate-errors"]})})
    got = render_all(config, {"https": "https://tls.site.test/"})
    verdict = got["https"].verdict
    assert (verdict.verdict, verdict.reasons) == ("non_compliant", ("badge_not_rendered",)), \
        summary(got)
    assert "HTTPS" in verdict.message and "混合内容" in verdict.message, verdict.message
