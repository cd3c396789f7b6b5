"""The rendered verdict from measurements: each rule on plain data, no browser."""

from __future__ import annotations

import pytest

from crawler.checks.badge import SiteBadge
from crawler.checks.rendered import Measurement, Rect, RenderRules, judge, render_failed

CERT = "0A87C46FEE4D331AE053022819ACDC8C"
SITE = SiteBadge("CA330000000604258890010", CERT)
HREF = f"http://bszs.conac.cn/sitename?method=show&id={CERT}"
GOOD = Measurement(
    found=True,
    filled=True,
    href=HREF,
    image_src="http://dcs.conac.cn/image/red.png",
    image_width=110,
    rect=Rect(628, 1900, 110, 55),
    doc_width=1366,
    doc_height=2000,
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


def test_thresholds_are_configurable() -> None:
    slightly_off = replace(rect=Rect(950, 1400, 110, 55))
    assert judge(slightly_off, SITE, RenderRules()).reasons == (
        "badge_not_bottom", "badge_not_centered",
    )
    loose = RenderRules(bottom_fraction=0.4, center_tolerance=0.25)
    assert judge(slightly_off, SITE, loose).reasons == ("ok",)


def test_unknown_certificate_accepts_any_registry_link() -> None:
    site = SiteBadge("CA330000000604258890010")
    other = replace(href="//bszs.conac.cn/sitename?method=show&id=" + "A" * 32)
    assert judge(other, site, RenderRules()).verdict == "compliant"


def test_probe_data_and_failure() -> None:
    measure = Measurement.from_probe(
        {"found": True, "filled": True, "href": HREF,
         "img": {"src": "http://x/red.png", "naturalWidth": 110},
         "rect": {"x": 628, "y": 1900, "width": 110, "height": 55},
         "docWidth": 1366, "docHeight": 2000}
    )
    assert measure == replace(image_src="http://x/red.png")
    failed = render_failed("浏览器意外退出")
    assert failed.verdict == "not_checked" and failed.reasons == ("render_error",)
    assert "不会使网站被判为不合规" in failed.message
