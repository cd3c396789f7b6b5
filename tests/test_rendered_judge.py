"""The rendered verdict from measurements: each rule on plain data, no browser."""

from __future__ import annotations

import pytest

from crawler.checks.badge import SiteBadge
from crawler.checks.rendered import (
    BadgeLoads,
    BadgeScript,
    FailedLoad,
    Following,
    Measurement,
    Rect,
    RenderRules,
    Violation,
    blocked_by,
    judge,
    render_failed,
)

CERT = "0A87C46FEE4D331AE053022819ACDC8C"
SITE = SiteBadge("CA330000000604258890010", CERT)
HREF = f"http://bszs.conac.cn/sitename?method=show&id={CERT}"
SCRIPT = "http://dcs.conac.cn/js/33/000/0000/60425889/CA330000000604258890010.js"
IMAGE = "http://dcs.conac.cn/image/red.png"
GOOD = Measurement(
    found=True,
    filled=True,
    href=HREF,
    image_src=IMAGE,
    image_width=110,
    rect=Rect(628, 1900, 110, 55),
    doc_width=1366,
    doc_height=2000,
    view_height=768,
    view_top=600,
    following=Following(),
)


def replace(**changes) -> Measurement:
    return Measurement(**{**GOOD.__dict__, **changes})


def test_compliant() -> None:
    verdict = judge(GOOD, SITE, RenderRules())
    assert (verdict.verdict, verdict.reasons) == ("compliant", ("ok",))


@pytest.mark.parametrize(
    ("measure", "reasons"),
    [
        (Measurement(found=False, doc_width=1366, doc_height=900), ["badge_not_rendered"]),
        (replace(filled=False), ["badge_not_rendered"]),
        (replace(image_width=0), ["badge_image_error"]),
        (replace(image_src="http://dcs.conac.cn/image/red_error.png"), ["badge_image_error"]),
        (replace(href="http://bszs.conac.cn/sitename?method=show&id=" + "1" * 32),
         ["badge_link_wrong"]),
        (replace(href="http://example.com/"), ["badge_link_wrong"]),
        (replace(hidden="display:none"), ["badge_hidden"]),
        (replace(rect=Rect(628, 1900, 0, 0)), ["badge_hidden"]),
        (replace(rect=Rect(628, 300, 110, 55)), ["badge_not_bottom"]),
        (replace(rect=Rect(1200, 1900, 110, 55)), ["badge_not_centered"]),
        (replace(rect=Rect(20, 200, 110, 55)), ["badge_not_bottom", "badge_not_centered"]),
    ],
)
def test_each_rule(measure: Measurement, reasons: list[str]) -> None:
    verdict = judge(measure, SITE, RenderRules())
    assert verdict.verdict == "non_compliant"
    assert list(verdict.reasons) == reasons
    assert any("\u4e00" <= ch <= "\u9fff" for ch in verdict.message)


def short(y: float, following: Following | None = None, doc_height: float = 400) -> Measurement:
    """A one-screen page (shorter than the 768 px window) with the badge's top at ``y``."""
    return replace(rect=Rect(628, y, 110, 55), doc_height=doc_height, view_top=y,
                   following=following if following is not None else Following())


FOOTER = Following(text=160, links=4, extent=90)  # links and copyright lines below the badge
ARTICLE = Following(text=900, links=3, headings=2, extent=520)

# Issue 11, defect 8: "at the bottom" is what follows the badge and the last screen.
BOTTOM = {
    # the case: a one-screen page ending with its centred badge
    "short page, badge last": (short(164, doc_height=225), True),
    "short page, badge then a footer": (short(120, FOOTER, doc_height=320), True),
    "short page, badge at the top, then the article": (short(10, ARTICLE), False),
    "short page, then only a heading": (short(10, Following(text=12, headings=1, extent=40)),
                                        False),
    "short page, then a large image": (short(10, Following(media=1, extent=300)), False),
    "short page, then a short unmarked text": (short(300, Following(text=400, extent=60)), True),
    "short page, then a little too much text": (short(300, Following(text=401, extent=60)),
                                                False),
    "short page, then a footer's worth of links": (short(300, Following(links=40, extent=60)),
                                                   True),
    "short page, then a link list": (short(300, Following(links=41, extent=60)), False),
    "short page, then link menus": (short(300, Following(controls=6, extent=30)), True),
    "short page, then a form": (short(300, Following(controls=7, extent=30)), False),
    "short page, content far below": (short(10, Following(text=20, extent=401)), False),
    "short page, more below than the probe counts": (short(10, Following(capped=True)), False),
    "long page, badge mid-page, nothing below": (replace(rect=Rect(628, 1000, 110, 55)), False),
    "long page, top of the last screen": (replace(rect=Rect(628, 1232, 110, 55)), True),
    "long page, just above the last screen": (replace(rect=Rect(628, 1231, 110, 55)), False),
    "long page, last screen, then the article": (replace(following=ARTICLE), False),
    "fixed footer at the window's bottom": (replace(fixed=True, view_top=700), True),
    "fixed bar at the window's top": (replace(fixed=True, view_top=0), False),
    "fixed just above the window's middle": (replace(fixed=True, view_top=383), False),
    "what follows not measured": (replace(following=None), True),
    "window height unknown: the document is one screen": (
        replace(view_height=0, rect=Rect(628, 10, 110, 55)), True),
}


@pytest.mark.parametrize(("measure", "bottom"), list(BOTTOM.values()), ids=list(BOTTOM))
def test_bottom_is_what_follows_and_the_last_screen(measure: Measurement, bottom: bool) -> None:
    verdict = judge(measure, SITE, RenderRules())
    assert ("badge_not_bottom" not in verdict.reasons) is bottom, verdict
    assert verdict.verdict == ("compliant" if bottom else "non_compliant")


def test_thresholds_are_configurable() -> None:
    slightly_off = replace(rect=Rect(950, 1900, 110, 55), following=Following(text=500))
    assert judge(slightly_off, SITE, RenderRules()).reasons == (
        "badge_not_bottom", "badge_not_centered",
    )
    loose = RenderRules(center_tolerance=0.25, footer_text=600)
    assert judge(slightly_off, SITE, loose).reasons == ("ok",)


def test_unknown_certificate_accepts_any_registry_link() -> None:
    site = SiteBadge("CA330000000604258890010")
    other = replace(href="//bszs.conac.cn/sitename?method=show&id=" + "A" * 32)
    assert judge(other, site, RenderRules()).verdict == "compliant"


def test_probe_data_and_failure() -> None:
    data = {"found": True, "filled": True, "href": HREF,
            "img": {"src": "http://x/red.png", "naturalWidth": 110},
            "rect": {"x": 628, "y": 1900, "width": 110, "height": 55},
            "docWidth": 1366, "docHeight": 2000, "viewHeight": 768, "viewTop": 600,
            "fixed": False,
            "after": {"text": 0, "links": 0, "headings": 0, "media": 0, "controls": 0,
                      "extent": 0, "capped": False},
            "scripts": [{"src": SCRIPT, "module": False, "nomodule": True, "integrity": False,
                         "crossorigin": False, "errored": False}],
            "violations": [{"blocked": "inline", "directive": "script-src-elem",
                            "inMeta": True}]}
    measure = Measurement.from_probe(data)
    assert measure == replace(image_src="http://x/red.png")
    loads = BadgeLoads.from_probe(data, failed=[FailedLoad(IMAGE, "image", "csp")],
                                  pending=[SCRIPT])
    assert loads == BadgeLoads(
        failed=(FailedLoad(IMAGE, "image", "csp"),),
        pending=(SCRIPT,),
        scripts=(BadgeScript(SCRIPT, nomodule=True),),
        violations=(Violation("inline", "script-src-elem", in_meta=True),),
    )
    hidden = Measurement.from_probe({"found": True, "filled": True, "hidden": "display:none"})
    assert hidden.following is None
    failed = render_failed("浏览器意外退出")
    assert failed.verdict == "not_checked" and failed.reasons == ("render_error",)
    assert "不会使网站被判为不合规" in failed.message


# --- why the badge did not load: the page's doing, or ours -----------------------------------


def refused(url: str = SCRIPT, failure: str = "net::ERR_CONNECTION_REFUSED",
            resource: str = "script") -> FailedLoad:
    return FailedLoad(url, resource, failure)


# Issue 11, defect 3. name -> (what the browser saw, by the page?, words of the message)
CAUSES = {
    "CSP in <meta> stops the script": (BadgeLoads(
        failed=(refused(failure="csp"),),
        violations=(Violation(SCRIPT, "script-src-elem", in_meta=True),)),
        True, ("内容安全策略", "<meta", "标识脚本", "http://dcs.conac.cn")),
    "CSP header stops the image": (BadgeLoads(
        violations=(Violation(IMAGE, "img-src"),)),
        True, ("内容安全策略", "HTTP 响应头", "标识图片")),
    "CSP default-src stops the image": (BadgeLoads(
        failed=(refused(IMAGE, "csp", "image"),),
        violations=(Violation(IMAGE, "default-src"),)),
        True, ("内容安全策略", "标识图片", "default-src")),
    "blocked as csp, no violation event": (BadgeLoads(failed=(refused(failure="csp"),)),
                                           True, ("内容安全策略", "标识脚本")),
    "mixed content": (BadgeLoads(failed=(refused(failure="mixed-content"),)),
                      True, ("HTTPS", "混合内容")),
    "cross-origin embedder policy": (BadgeLoads(failed=(
        refused(IMAGE, "corp-not-same-origin-after-defaulted-to-same-origin-by-coep",
                "image"),)), True, ("安全策略", "标识图片")),
    "nomodule: never requested": (BadgeLoads(scripts=(BadgeScript(SCRIPT, nomodule=True),)),
                                  True, ("nomodule",)),
    "module refused by CORS": (BadgeLoads(
        failed=(refused(failure="net::ERR_FAILED"),),
        scripts=(BadgeScript(SCRIPT, module=True, errored=True),)), True, ("module",)),
    "integrity fails": (BadgeLoads(scripts=(BadgeScript(SCRIPT, integrity=True,
                                                        errored=True),)), True, ("integrity",)),
    "crossorigin refused": (BadgeLoads(
        failed=(refused(failure="net::ERR_FAILED"),),
        scripts=(BadgeScript(SCRIPT, crossorigin=True, errored=True),)),
        True, ("crossorigin",)),
    "Trusted Types stop the badge code's document.write": (BadgeLoads(
        violations=(Violation("trusted-types-sink", "require-trusted-types-for"),)),
        True, ("Trusted Types", "document.write")),
    "inline badge code stopped by CSP": (BadgeLoads(
        violations=(Violation("inline", "script-src-elem"),)), True, ("内联脚本",)),
    "a page policy beats an outage": (BadgeLoads(
        failed=(refused(IMAGE, resource="image"), refused(failure="csp")),
        violations=(Violation(SCRIPT, "script-src-elem"),)), True, ("标识脚本",)),
    "refused": (BadgeLoads(failed=(refused(),)), False, ("标识服务器无法访问",
                                                         "ERR_CONNECTION_REFUSED")),
    "name not resolved": (BadgeLoads(failed=(refused(failure="net::ERR_NAME_NOT_RESOLVED"),)),
                          False, ("标识服务器无法访问", "ERR_NAME_NOT_RESOLVED")),
    "timed out": (BadgeLoads(failed=(refused(failure="net::ERR_TIMED_OUT"),)),
                  False, ("ERR_TIMED_OUT",)),
    # Our own request blocking ([render] blocked_hosts naming a badge host) is ours.
    "our own block": (BadgeLoads(failed=(refused(failure="net::ERR_BLOCKED_BY_CLIENT"),)),
                      False, ("ERR_BLOCKED_BY_CLIENT",)),
    "an error page instead of the script": (BadgeLoads(
        failed=(refused(failure="net::ERR_BLOCKED_BY_ORB"),)), False, ("不是脚本或图片",)),
    "the badge host's own resource policy": (BadgeLoads(failed=(
        refused(IMAGE, "corp-not-same-site", "image"),)),
        False, ("标识服务器", "corp-not-same-site")),
    "5xx answer": (BadgeLoads(failed=(refused(failure="net::ERR_ABORTED"),),
                              http_errors=((SCRIPT, 503),)), False, ("HTTP 503",)),
    "no answer in time": (BadgeLoads(pending=(SCRIPT,)), False, ("没有响应", "标识脚本")),
    # A module (or integrity) script whose host is down: the outage, not the markup, is known.
    "module script, host down": (BadgeLoads(
        failed=(refused(),), scripts=(BadgeScript(SCRIPT, module=True, errored=True),)),
        False, ("ERR_CONNECTION_REFUSED",)),
    "integrity script, host down": (BadgeLoads(
        failed=(refused(),), scripts=(BadgeScript(SCRIPT, integrity=True, errored=True),)),
        False, ("ERR_CONNECTION_REFUSED",)),
}


@pytest.mark.parametrize(("loads", "by_page", "words"), list(CAUSES.values()), ids=list(CAUSES))
def test_why_the_badge_did_not_load(loads: BadgeLoads, by_page: bool,
                                    words: tuple[str, ...]) -> None:
    blocked = blocked_by(loads)
    assert blocked is not None
    assert blocked.by_page is by_page
    assert all(word in blocked.why for word in words), blocked.why


@pytest.mark.parametrize("loads", [
    BadgeLoads(),
    # Loaded and ran: its attributes did not stop it.
    BadgeLoads(scripts=(BadgeScript(SCRIPT, crossorigin=True),)),
    BadgeLoads(scripts=(BadgeScript(SCRIPT, integrity=True),)),
    # An inline script the policy stopped, while the badge script itself is in the page.
    BadgeLoads(scripts=(BadgeScript(SCRIPT),),
               violations=(Violation("inline", "script-src-elem"),)),
])
def test_nothing_stopped_the_badge(loads: BadgeLoads) -> None:
    assert blocked_by(loads) is None


CSP_SCRIPT = BadgeLoads(failed=(refused(failure="csp"),),
                        violations=(Violation(SCRIPT, "script-src-elem"),))
OUTAGE = BadgeLoads(failed=(refused(),))


@pytest.mark.parametrize(
    ("measure", "loads", "verdict", "reasons"),
    [
        # Not rendered: the page's block is a failure saying so; our outage is not checked.
        (replace(filled=False), CSP_SCRIPT, "non_compliant", ("badge_not_rendered",)),
        (replace(filled=False), OUTAGE, "not_checked", ("render_error",)),
        (replace(filled=False), BadgeLoads(), "non_compliant", ("badge_not_rendered",)),
        # The image did not load: the same.
        (replace(image_width=0, rect=Rect(628, 1900, 0, 0)),
         BadgeLoads(violations=(Violation(IMAGE, "img-src"),)),
         "non_compliant", ("badge_not_rendered",)),
        (replace(image_width=0), BadgeLoads(failed=(refused(IMAGE, resource="image"),)),
         "not_checked", ("render_error",)),
        # The revoked badge's error image did load: the registry's verdict stands.
        (replace(image_src="http://dcs.conac.cn/image/red_error.png"), OUTAGE,
         "non_compliant", ("badge_image_error",)),
        # Shown: a failed request elsewhere changes nothing.
        (GOOD, OUTAGE, "compliant", ("ok",)),
        (replace(rect=Rect(1200, 1900, 110, 55)), OUTAGE, "non_compliant",
         ("badge_not_centered",)),
    ],
)
def test_the_verdict_with_what_stopped_the_badge(measure: Measurement, loads: BadgeLoads,
                                                 verdict: str, reasons: tuple[str, ...]) -> None:
    got = judge(measure, SITE, RenderRules(), loads)
    assert (got.verdict, got.reasons) == (verdict, reasons), got
    if loads is CSP_SCRIPT:
        assert got.message.startswith("页面在浏览器中打开后，网站标识没有显示出来：")
        assert "内容安全策略" in got.message
    if verdict == "not_checked":
        assert "标识服务器" in got.message and "不会使网站被判为不合规" in got.message
