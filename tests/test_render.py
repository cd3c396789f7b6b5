"""The rendered check with Debian's Chromium against pages and a badge host served on loopback.

Screenshots are kept under test-artifacts/render/ (outside git) so a person can look at them.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright

from badgewatch.config import Config
from crawler.checks.badge import BadgePatterns, SiteBadge
from crawler.render.browser import Renderer, RenderOutcome, browser_addresses
from testbed.pngs import png_size
from tests.factories import CERT, IDENT, NAME, OTHER_CERT, OTHER_IDENT, page, snippet


def render(config: Config, url: str, name: str, **kwargs: Any) -> RenderOutcome:
    site = SiteBadge(IDENT, CERT, BadgePatterns.from_spec(config.badge.spec()))

    async def go() -> RenderOutcome:
        host = url.split("/")[2]
        renderer = Renderer.from_config(config, browser_addresses(config, {host}))
        try:
            return await renderer.render(url, site, Path(config.paths.data_dir) / f"{name}.png",
                                         **kwargs)
        finally:
            await renderer.close()

    return asyncio.run(go())


# Reads an evidence PNG back in Chromium and returns the box around its magenta (#f0f) pixels,
# the outline the renderer draws around the badge or where it should be.
OUTLINE_BOX = """async (src) => {
  const img = new Image(); img.src = src; await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d'); ctx.drawImage(img, 0, 0);
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let left = Infinity, top = Infinity, right = -1, bottom = -1, count = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (px[i] > 220 && px[i + 1] < 40 && px[i + 2] > 220) {
      const x = (i / 4) % canvas.width, y = Math.floor(i / 4 / canvas.width);
      left = Math.min(left, x); right = Math.max(right, x);
      top = Math.min(top, y); bottom = Math.max(bottom, y); count++;
    }
  }
  return {count, left, top, right, bottom};
}"""


def outline_in(config: Config, png: bytes) -> dict[str, float]:
    """Async like the renders here: a sync Playwright would hold this thread's event loop."""

    async def go() -> dict[str, float]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(config.render.executable_path), args=config.render.args
            )
            try:
                tab = await browser.new_page()
                source = "data:image/png;base64," + base64.b64encode(png).decode()
                box: dict[str, float] = await tab.evaluate(OUTLINE_BOX, source)
                return box
            finally:
                await browser.close()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("name", "footer_style", "solid"),
    [("evidence_found", "text-align:center", True), ("evidence_hidden", "display:none", False)],
)
def test_evidence_outlines_the_badge_in_the_window(render_config, serve_site, name, footer_style,
                                                   solid) -> None:
    """What a reviewer sees in the evidence: the window at the page's bottom, the badge (or,
    when it has no box, the bottom centre where it belongs) outlined in magenta."""
    site = serve_site({"/": page(snippet(render_config), footer_style=footer_style)},
                      names=[NAME])
    outcome = render(render_config, site.url("/"), name)
    assert outcome.screenshot is not None
    png = outcome.screenshot.read_bytes()
    render_cfg = render_config.render
    assert png_size(png) == (render_cfg.viewport_width, render_cfg.viewport_height)
    box = outline_in(render_config, png)
    assert box["count"] > 200, box  # a drawn outline, not a stray pixel
    centre = (box["left"] + box["right"]) / 2
    assert abs(centre - render_cfg.viewport_width / 2) < 0.1 * render_cfg.viewport_width, box
    # Scrolled to the bottom of a 1,500 px page: the box is in the window's lower half.
    assert render_cfg.viewport_height / 2 < box["bottom"] < render_cfg.viewport_height, box
    # A solid outline around a found badge; a dashed one (gaps: fewer pixels) where it is not.
    width, height = box["right"] - box["left"] + 1, box["bottom"] - box["top"] + 1
    perimeter_pixels = 2 * (width + height) * 4
    assert (box["count"] > 0.9 * perimeter_pixels) is solid, (box, perimeter_pixels)


def test_compliant_badge_and_evidence(render_config, serve_site, badge_host) -> None:
    site = serve_site({"/": page(snippet(render_config))}, names=[NAME])
    outcome = render(render_config, site.url("/"), "compliant")
    assert outcome.verdict.verdict == "compliant", outcome
    assert outcome.screenshot is not None and outcome.screenshot.stat().st_size > 1000
    assert outcome.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert outcome.measurement is not None
    assert outcome.measurement["img"]["src"].endswith("/image/red.png")
    # The badge script's analytics beacon was blocked; the badge host served the script.
    assert badge_host.beacon_server.hits("/gs.gif") == 0
    assert badge_host.hits("/js/") >= 1


def test_mobile_viewport(render_config, serve_site) -> None:
    responsive = page(snippet(render_config)).replace(
        "<head>", '<head><meta name="viewport" content="width=device-width">'
    )
    site = serve_site({"/": responsive}, names=[NAME])
    outcome = render(render_config, site.url("/"), "mobile", mobile=True)
    assert outcome.verdict.verdict == "compliant", outcome.measurement
    assert outcome.measurement is not None and outcome.measurement["docWidth"] < 500


@pytest.mark.parametrize(
    ("name", "build", "reasons"),
    [
        ("commented", lambda c: page(f"<!-- {snippet(c)} -->"), ["badge_not_rendered"]),
        ("injected_after_load", lambda c: page(
            "<div id='f'></div><script>window.addEventListener('load',function(){"
            "document.getElementById('f').innerHTML="
            "unescape(\"%3Cspan id='_ideConac'%3E%3C/span%3E\");"
            "});</script>"), ["badge_not_rendered"]),
        ("other_site_code", lambda c: page(snippet(c, OTHER_IDENT, OTHER_CERT)),
         ["badge_link_wrong"]),
        ("display_none", lambda c: page(snippet(c), footer_style="display:none"),
         ["badge_hidden"]),
        ("visibility_hidden", lambda c: page(snippet(c), footer_style="visibility:hidden"),
         ["badge_hidden"]),
        ("transparent", lambda c: page(snippet(c), footer_style="opacity:0"), ["badge_hidden"]),
        ("zero_size", lambda c: page(
            f"<style>#imgConac{{width:0;height:0}}</style>{snippet(c)}"), ["badge_hidden"]),
        ("clipped", lambda c: page(f"<div style='height:2px;overflow:hidden'><br><br>{snippet(c)}"
                                   "</div>"), ["badge_hidden"]),
        ("off_screen", lambda c: page(
            f"<div style='position:absolute;left:-5000px'>{snippet(c)}</div>"), ["badge_hidden"]),
        ("covered", lambda c: page(
            snippet(c) + "<div style='position:absolute;left:0;right:0;top:0;bottom:0;"
            "background:#fff;z-index:10'>浮动广告</div>", footer_style="position:relative;"
            "text-align:center"), ["badge_hidden"]),
        ("at_top", lambda c: page("", before=f"<div style='text-align:center'>{snippet(c)}</div>"),
         ["badge_not_bottom"]),
        ("right_aligned", lambda c: page(snippet(c), footer_style="text-align:right"),
         ["badge_not_centered"]),
    ],
)
def test_rendered_reason(render_config, serve_site, name, build, reasons) -> None:
    site = serve_site({"/": page("") if build is None else build(render_config)}, names=[NAME])
    outcome = render(render_config, site.url("/"), name)
    assert outcome.verdict.verdict == "non_compliant", outcome
    assert list(outcome.verdict.reasons) == reasons, outcome.measurement
    assert outcome.screenshot is not None and outcome.screenshot.exists()


def test_revoked_badge_shows_error_image(render_config, serve_site, badge_host) -> None:
    badge_host.revoke(IDENT)
    site = serve_site({"/": page(snippet(render_config))}, names=[NAME])
    outcome = render(render_config, site.url("/"), "revoked")
    assert list(outcome.verdict.reasons) == ["badge_image_error"]
    assert outcome.measurement is not None
    assert outcome.measurement["img"]["src"].endswith("red_error.png")


def test_badge_host_down_is_not_a_failure(render_config, serve_site, badge_host) -> None:
    site = serve_site({"/": page(snippet(render_config))}, names=[NAME])
    badge_host.stop()
    outcome = render(render_config, site.url("/"), "badge_host_down")
    assert outcome.verdict.verdict == "not_checked"
    assert outcome.verdict.reasons == ("render_error",)


def test_hanging_page_does_not_stall(render_config, serve_site) -> None:
    from testbed.siteserver import Route

    site = serve_site({"/": Route(action="hang"), "/ok": page(snippet(render_config))},
                      names=[NAME])
    config = render_config.model_copy(
        update={"render": render_config.render.model_copy(update={"page_timeout": 2})}
    )
    site_badge = SiteBadge(IDENT, CERT, BadgePatterns.from_spec(config.badge.spec()))

    async def both() -> list[RenderOutcome]:
        addresses = browser_addresses(config, {site.url().split("/")[2]})
        renderer = Renderer.from_config(config, addresses)
        try:
            return list(await asyncio.gather(
                renderer.render(site.url("/"), site_badge),
                renderer.render(site.url("/ok"), site_badge),
            ))
        finally:
            await renderer.close()

    hung, ok = asyncio.run(both())
    assert hung.verdict.verdict == "not_checked"
    assert ok.verdict.verdict == "compliant"


def test_contexts_are_recycled(render_config, serve_site) -> None:
    """Each lane's context is closed and replaced every ``pages_per_context`` renders, so at
    most ``concurrency`` contexts are ever open."""
    site = serve_site({"/": page(snippet(render_config))}, names=[NAME])
    config = render_config.model_copy(update={"render": render_config.render.model_copy(
        update={"pages_per_context": 2, "concurrency": 1})})
    badge = SiteBadge(IDENT, CERT, BadgePatterns.from_spec(config.badge.spec()))

    async def five() -> tuple[list[str], int, int]:
        renderer = Renderer.from_config(config, browser_addresses(config, {site.names[0]}))
        try:
            verdicts = []
            for _ in range(5):
                outcome = await renderer.render(site.url("/"), badge)
                verdicts.append(outcome.verdict.verdict)
            assert renderer._browser is not None
            return verdicts, renderer.contexts_opened, len(renderer._browser.contexts)
        finally:
            await renderer.close()

    verdicts, opened, open_now = asyncio.run(five())
    assert verdicts == ["compliant"] * 5
    assert opened == 3  # renders 1-2, 3-4, 5
    assert open_now == 1
