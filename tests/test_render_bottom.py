"""'At the bottom of the page' in Chromium: judged by what follows the badge and the last screen.

Short and long real pages on loopback, each rendered at 1366×768 through one Renderer: a badge
that is the last thing on a one-screen page, or is followed only by a footer, is at the bottom;
a badge followed by the article, at the top of a one-screen page, or pinned to the top of the
window is not. A fixed or sticky footer is at the bottom wherever the window is scrolled.
"""

from __future__ import annotations

import pytest

from badgewatch.config import Config
from testbed.siteserver import government_page
from tests.factories import NAME, render_all, snippet

ARTICLE = (
    "<h2>关于做好2026年度政务公开工作的通知</h2>"
    + "<p>各区县人民政府，市政府各部门：为深入贯彻落实政务公开工作要求，进一步提升政务公开质量，"
    "现就做好本年度政务公开工作通知如下。一、加强组织领导，压实工作责任。二、突出公开重点，"
    "回应社会关切。三、完善制度机制，提升公开实效。</p>" * 3
)
FOOTER_LINKS = (
    '<p><a href="/map.html">网站地图</a> | <a href="/contact.html">联系我们</a> | '
    '<a href="/about.html">关于本站</a> | <a href="/help.html">使用帮助</a></p>'
)
COPYRIGHT = (
    "<p>主办单位：某某市人民政府办公室　承办单位：某某市大数据发展管理局</p>"
    "<p>网站标识码：3300000001　浙ICP备12345678号　浙公网安备 33010202000001号</p>"
    "<p>地址：某某市人民路1号　邮编：310000　联系电话：0571-87000000</p>"
)


def short(body: str) -> str:
    """A one-screen page: a banner, a few lines, and ``body``."""
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>短页面</title>
<style>body{{margin:0;font-family:"WenQuanYi Zen Hei",sans-serif}}
.banner{{background:#1f4e8c;color:#fff;padding:12px}}</style></head>
<body>{body}</body></html>"""


def centred(markup: str, style: str = "") -> str:
    return f'<div style="text-align:center;{style}">{markup}</div>'


def long_page(body: str, style: str = "") -> str:
    """A page three screens long whose content ends with ``body``."""
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>长页面</title>
<style>body{{margin:0;font-family:"WenQuanYi Zen Hei",sans-serif{style}}}
.main{{height:2000px;background:#f4f6fa;padding:20px}}</style></head>
<body><div class="main"><h1>某某市人民政府</h1><p>政务公开 · 政务服务 · 互动交流</p></div>
{body}</body></html>"""


# name -> (page, the rendered reasons)
CASES = {
    # Issue 11, defect 8: the one-screen page whose last element is the centred badge.
    "short_badge_last": (lambda c: short(
        '<div class="banner"><h1>某某市人民政府</h1></div><p>欢迎访问。</p>' + centred(snippet(c))),
        ["ok"]),
    "short_badge_then_footer": (lambda c: short(
        '<div class="banner"><h1>某某市人民政府</h1></div>'
        + centred(snippet(c) + FOOTER_LINKS + COPYRIGHT)), ["ok"]),
    # The same lines below the badge in a container with no footer-like name.
    "short_badge_then_plain_lines": (lambda c: short(
        '<div class="banner"><h1>某某市人民政府</h1></div>' + ARTICLE
        + centred(snippet(c)) + f'<div class="info" style="text-align:center">{COPYRIGHT}</div>'),
        ["ok"]),
    "short_badge_at_top": (lambda c: short(
        centred(snippet(c)) + '<div class="banner"><h1>某某市人民政府</h1></div>' + ARTICLE),
        ["badge_not_bottom"]),
    # Last in the markup, but placed at the top of the window: what a reader sees counts.
    "short_badge_last_but_drawn_on_top": (lambda c: short(
        '<div class="banner" style="margin-top:80px"><h1>某某市人民政府</h1></div>' + ARTICLE
        + centred(snippet(c), "position:absolute;top:0;left:0;right:0")),
        ["badge_not_bottom"]),
    "long_badge_then_footer": (lambda c: long_page(
        f'<div class="footer" style="text-align:center">{snippet(c)}{FOOTER_LINKS}{COPYRIGHT}'
        "</div>"), ["ok"]),
    "long_badge_then_article": (lambda c: long_page(
        centred(snippet(c)) + ARTICLE + '<div style="height:1200px"></div>'),
        ["badge_not_bottom"]),
    # Within the last screen, but the article goes on below it.
    "long_badge_in_last_screen_then_article": (lambda c: long_page(
        centred(snippet(c)) + ARTICLE), ["badge_not_bottom"]),
    "long_fixed_footer": (lambda c: long_page(
        '<div class="ft" style="position:fixed;left:0;right:0;bottom:0;text-align:center;'
        f'background:#1f4e8c;color:#fff">{snippet(c)}</div>', ";padding-bottom:100px"),
        ["ok"]),
    "long_sticky_footer": (lambda c: long_page(
        '<div style="position:sticky;bottom:0;text-align:center;background:#1f4e8c;color:#fff">'
        f"{snippet(c)}{COPYRIGHT}</div>"), ["ok"]),
    # The page the benchmark and the demo serve: article, then the footer text, then the badge.
    "government_page": (lambda c: government_page(
        "某某市人民政府", [f"/tzgg/{n}.html" for n in range(50)], f"<!-- 网站标识 -->{snippet(c)}",
        size_kb=30), ["ok"]),
    # Pinned to the top of the window: never at the bottom, however far one scrolls.
    "long_fixed_header": (lambda c: long_page(
        '<div style="position:fixed;left:0;right:0;top:0;text-align:center;background:#fff">'
        f"{snippet(c)}</div>" + COPYRIGHT), ["badge_not_bottom"]),
}


@pytest.fixture
def outcomes(render_config: Config, serve_site):
    site = serve_site({f"/{name}": build(render_config) for name, (build, _) in CASES.items()},
                      names=[NAME])
    return render_all(render_config, {name: site.url(f"/{name}") for name in CASES})


def test_bottom_is_what_follows_the_badge_and_the_last_screen(outcomes) -> None:
    got = {name: list(outcome.verdict.reasons) for name, outcome in outcomes.items()}
    expected = {name: reasons for name, (_, reasons) in CASES.items()}
    wrong = [f"{name}: {got[name]} (want {expected[name]}) {outcomes[name].measurement}"
             for name in CASES if got[name] != expected[name]]
    assert not wrong, "\n".join(wrong)
    assert "页面底部" in outcomes["short_badge_at_top"].verdict.message
