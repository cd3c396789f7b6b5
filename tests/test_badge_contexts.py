"""Where a badge sits decides whether it runs: attribute values, foreign content (<svg>,
<math>), module and nomodule scripts, integrity and crossorigin, elements whose content is
text, and a second badge that overwrites the first.

Every row of the table was rendered in Debian's Chromium with our badge host before it was
encoded here; ``test_chromium_agrees_with_the_static_check`` renders them all again, so the
model stays checked against the browser.
"""

from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass

import pytest

from badgewatch.config import BadgeConfig, DnsConfig
from crawler.checks import BadgePatterns, SiteBadge, check_page
from testbed.badgehost import Registration
from testbed.siteserver import Route
from workflow.issuance import decoded_snippet, issued_snippet, make_code

ID = "CA330000000604258890010"
CERT = "0A87C46FEE4D331AE053022819ACDC8C"
OTHER_ID = "CA330000000604258900010"
OTHER_CERT = "1800CB4DBB7B99F0E06310291AAC09C6"


@dataclass(frozen=True)
class Codes:
    """The badge code of our site and of another one, in every form, for one configuration."""

    v1: str  # the issued document.write(unescape(...)) snippet
    v2: str  # the decoded span + script
    v3: str  # the bare script
    url: str
    other_v1: str
    other_v3: str
    other_url: str
    span: str

    @classmethod
    def of(cls, config: BadgeConfig) -> Codes:
        own, other = make_code(config, ID, CERT), make_code(config, OTHER_ID, OTHER_CERT)
        return cls(
            v1=issued_snippet(config, own),
            v2=decoded_snippet(config, own),
            v3=f'<script src="{own.script_url}"></script>',
            url=own.script_url,
            other_v1=issued_snippet(config, other),
            other_v3=f'<script src="{other.script_url}"></script>',
            other_url=other.script_url,
            span=f"<span id='{config.span_id}'></span>",
        )


def page(body: str) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>某县人民政府</title></head>"
        f"<body><p>政务公开</p>{body}<p>主办单位：某县人民政府办公室</p></body></html>"
    )


# What the browser shows: our badge, the other site's, or none; EITHER: ours or the other
# site's, depending on which script loads first.
OWN, OTHER, NONE, EITHER = "own", "other", "none", "either"


def table(c: Codes) -> dict[str, tuple[str, tuple[str, ...], str | None, str]]:
    """name: (page, reasons, a word the message must contain, what Chromium shows)."""
    v1_js = c.v1.removeprefix('<script type="text/javascript">').removesuffix("</script>")
    return {
        # attribute values are never markup
        "bare script in a data- attribute": (
            page(f"<div data-x='{c.v3}'>页脚</div>"), ("badge_inactive",), "属性值", NONE),
        "span and script in an input value": (
            page(f"<input value='{c.v2.replace(chr(39), chr(34))}'>"), ("badge_inactive",),
            "属性值", NONE),
        "issued snippet escaped in a title attribute": (
            page(f'<a title="{html.escape(c.v1)}">链接</a>'), ("badge_inactive",), "属性值",
            NONE),
        "an unclosed quote swallows the rest of the page": (
            page(f"<div title='页脚>{c.v3}"), ("badge_inactive",), "属性值", NONE),
        "<!-- inside an attribute value starts no comment": (
            page(f'<div title="<!--">{c.v1}</div><div title="-->"></div>'), ("ok",), None,
            OWN),
        "<script> inside an attribute value starts no script": (
            page(f'<div title="<script>">{c.v1}</div>'), ("ok",), None, OWN),
        # foreign content: <svg> and <math>
        "bare script inside <svg>": (
            page(f"<svg>{c.v3}</svg>"), ("badge_inactive",), "<svg>", NONE),
        "issued snippet inside <svg> (SVG scripts run inline code)": (
            page(f"<svg>{c.v1}</svg>"), ("ok",), None, OWN),
        "span and script inside <svg> (the span leaves the svg)": (
            page(f"<svg>{c.v2}</svg>"), ("ok",), None, OWN),
        "SVG script with href": (
            page(f'<svg><script href="{c.url}"></script></svg>'), ("ok",), None, OWN),
        "script in an svg <foreignObject> is HTML": (
            page(f"<svg><foreignObject>{c.v2}</foreignObject></svg>"), ("ok",), None, OWN),
        "<p> inside <svg> ends the svg": (
            page(f"<svg><p>{c.v1}</p></svg>"), ("ok",), None, OWN),
        "self-closed <svg/> holds nothing": (page(f"<svg/>{c.v1}"), ("ok",), None, OWN),
        "bare script inside <math>": (
            page(f"<math>{c.v3}</math>"), ("badge_inactive",), "<math>", NONE),
        "issued snippet inside <math>": (
            page(f"<math>{c.v1}</math>"), ("badge_inactive",), "<math>", NONE),
        # script attributes
        "nomodule external script": (
            page(f"{c.span}<script nomodule src='{c.url}'></script>"), ("badge_inactive",),
            "nomodule", NONE),
        "nomodule issued snippet": (
            page(c.v1.replace("<script ", "<script nomodule ")), ("badge_inactive",),
            "nomodule", NONE),
        "module external script with a span": (
            page(f"{c.span}<script type='module' src='{c.url}'></script>"),
            ("badge_broken",), "module", NONE),
        "module issued snippet": (
            page(f'<script type="module">{v1_js}</script>'), ("badge_broken",), "module",
            NONE),
        "integrity with a sha384 hash": (
            page(f"<script src='{c.url}' integrity='sha384-{'A' * 64}'></script>"),
            ("badge_broken",), "integrity", NONE),
        "integrity that is no hash (browsers ignore it)": (
            page(f"<script src='{c.url}' integrity='bogus'></script>"), ("ok",), None, OWN),
        "integrity with an upper-case algorithm (no hash to Chromium)": (
            page(f"<script src='{c.url}' integrity='SHA384-{'A' * 64}'></script>"), ("ok",),
            None, OWN),
        "integrity with one hash among other words": (
            page(f"<script src='{c.url}' integrity='bogus sha256-{'A' * 43}='></script>"),
            ("badge_broken",), "integrity", NONE),
        "crossorigin": (
            page(f"<script src='{c.url}' crossorigin='anonymous'></script>"),
            ("badge_broken",), "crossorigin", NONE),
        # elements whose content is text
        **{
            f"issued snippet in <{name}>": (
                page(f"<{name}>{c.v1}</{name}>"), ("badge_inactive",), f"<{name}>", NONE)
            for name in ("textarea", "xmp", "title", "iframe", "noembed", "noframes", "style")
        },
        "issued snippet after <plaintext>": (
            page(f"<plaintext>{c.v1}"), ("badge_inactive",), "<plaintext>", NONE),
        "<!-- in a script hides </script> (double-escaped script data)": (
            page(f"<script><!--\ndocument.write('{c.span.replace(chr(39), chr(34))}"
                 f"<script src=\"{c.url}\"></script>');\n//--></script>"),
            ("ok",), None, OWN),
        "quotes broken inside document.write('...')": (
            page(f"<script>document.write('{c.span}<script src=\"{c.url}\"><\\/script>');"
                 "</script>"),
            ("badge_broken",), "语法错误", NONE),
        # two badges: the last script to run fills the first span
        "own issued code, then another site's": (
            page(c.v1 + c.other_v1), ("badge_other_site", "badge_duplicate"), OTHER_ID, OTHER),
        "another site's issued code, then own": (
            page(c.other_v1 + c.v1), ("ok", "badge_duplicate"), None, OWN),
        "own bare script, then another site's": (
            page(c.span + c.v3 + c.other_v3), ("badge_other_site", "badge_duplicate"),
            OTHER_ID, OTHER),
        "own issued code, then another site's deferred": (
            page(c.v1 + c.other_v3.replace("<script ", "<script defer ")),
            ("badge_other_site", "badge_duplicate"), OTHER_ID, OTHER),
        "own deferred after a span, then another site's (defer runs after parsing)": (
            page(c.span + c.v3.replace("<script ", "<script defer ") + c.other_v3),
            ("ok", "badge_duplicate"), None, OWN),
        # an async script runs once loaded: before or after the other site's (Chromium showed
        # both); the other site's badge may be the one on screen
        "own async after a span, then another site's": (
            page(c.span + c.v3.replace("<script ", "<script async ") + c.other_v3),
            ("badge_other_site", "badge_duplicate"), OTHER_ID, EITHER),
    }


DEFAULT = Codes.of(BadgeConfig())
SITE = SiteBadge(ID, CERT)
TABLE = table(DEFAULT)


@pytest.mark.parametrize("name", list(TABLE))
def test_context(name: str) -> None:
    body, reasons, mention, _ = TABLE[name]
    result = check_page(body.encode("utf-8"), SITE)
    assert result.reasons == reasons, result.message
    assert result.verdict == ("compliant" if reasons[0] == "ok" else "non_compliant")
    if mention is not None:
        assert mention in result.message, result.message


def test_inactive_message_names_the_element() -> None:
    result = check_page(page(f"<textarea>{DEFAULT.v1}</textarea>"), SITE)
    assert "位于 <textarea> 中，作为文字显示" in result.message, result.message


def test_other_site_message_says_it_overwrites_ours() -> None:
    result = check_page(page(DEFAULT.v1 + DEFAULT.other_v1), SITE)
    assert "覆盖" in result.message and OTHER_ID in result.message, result.message
    assert result.identifiers == (ID, OTHER_ID)


def static_shows(reasons: tuple[str, ...]) -> str:
    return {"ok": OWN, "badge_other_site": OTHER}.get(reasons[0], NONE)


@pytest.mark.parametrize("name", list(TABLE))
def test_table_says_what_chromium_showed(name: str) -> None:
    """The table's last column (what Chromium showed) agrees with its expected verdict: a page
    that may show the other site's badge fails."""
    _, reasons, _, shown = TABLE[name]
    assert static_shows(reasons) == (OTHER if shown == EITHER else shown)


BROWSER_MEASURE = """() => {
  const shown = [];
  const look = (doc) => {
    for (const a of doc.querySelectorAll('a[href*="method=show"]')) {
      const r = a.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) shown.push(a.href);
    }
  };
  look(document);
  for (const f of document.querySelectorAll('iframe')) {
    try { look(f.contentDocument); } catch (e) {}
  }
  return shown;
}"""


@pytest.mark.timeout(240)
def test_chromium_agrees_with_the_static_check(
    badge_host, badge_config: BadgeConfig, dns_config: DnsConfig, serve_site
) -> None:
    """Each row rendered in Chromium: the badge it shows is the one the static check expects,
    and the static check gives the row's verdict for the test badge host's names too."""
    from playwright.async_api import async_playwright

    badge_host.register(Registration(ID, CERT, "某县人民政府办公室", "某县人民政府网", "a.政务"))
    badge_host.register(Registration(OTHER_ID, OTHER_CERT, "另一单位", "另一网站", "b.政务"))
    rows = table(Codes.of(badge_config))
    names = list(rows)
    site = serve_site(
        {f"/{i}.html": Route(body=rows[name][0], content_type="text/html; charset=utf-8")
         for i, name in enumerate(names)},
        names=["contexts.test"],
    )
    patterns = SiteBadge(ID, CERT, BadgePatterns.from_spec(badge_config.spec()))
    for name in names:
        assert check_page(rows[name][0], patterns).reasons == rows[name][1], name
    rules = ", ".join(
        [f"MAP {host} {badge_host.ip}" for host in badge_host.names]
        + [f"MAP contexts.test {site.ip}", "MAP * ~NOTFOUND"]
    )

    async def render_all() -> dict[str, str]:
        seen: dict[str, str] = {}
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", f"--host-resolver-rules={rules}"],
            )
            try:
                tab = await browser.new_page()
                for i, name in enumerate(names):
                    await tab.goto(f"http://contexts.test/{i}.html", wait_until="load",
                                   timeout=60_000)
                    # async and deferred scripts have run by load; images need a moment
                    await tab.wait_for_load_state("networkidle", timeout=60_000)
                    links = await tab.evaluate(BROWSER_MEASURE)
                    owners = {OWN if CERT in link else OTHER if OTHER_CERT in link else link
                              for link in links}
                    if len(owners) > 1:
                        seen[name] = str(sorted(owners))
                    else:
                        seen[name] = owners.pop() if owners else NONE
            finally:
                await browser.close()
        return seen

    seen = asyncio.run(render_all())
    expected = {name: rows[name][3] for name in names}
    for name in names:
        if expected[name] == EITHER and seen[name] in (OWN, OTHER):
            expected[name] = seen[name]
    assert {name: seen[name] for name in names} == expected
