"""Pages built to make the check slow: it must stay linear in the page size on every input.

Each case is built at two sizes, 100 KB and 400 KB. The check must give a sensible verdict at
both, and the work it reports (``PageVerdict.work``: characters handed to each scanning pass
plus the steps taken in Python) must grow with the page, not faster: four times the page, at
most 4.6 times the work, and never more than ``WORK_PER_CHAR`` per character (a few passes
over the page; ``MORE_WORK`` names the cases that need more, and why). A step taken in Python
counts for 50 characters, so a page that stops the check every 20 characters fails the bound:
constructs that cannot change the verdict must not stop it. The counts are deterministic; one
CPU-time ratio (best of three, generous bound) guards what the counts cannot see, the regular
expressions' own backtracking. A crawl with a 1 MB hostile page beside a normal site shows the
stall is gone end to end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from badgewatch.config import BadgeConfig
from crawler.checks import SiteBadge, check_page
from crawler.render.stage import SiteSample
from testbed.siteserver import government_page
from tests.factories import ascii_name, badge, by_domain, pages, register, run
from workflow.issuance import issued_snippet, make_code

ID = "CA330000000604258890010"
CERT = "0A87C46FEE4D331AE053022819ACDC8C"
CODE = make_code(BadgeConfig(), ID, CERT)
URL = CODE.script_url
V1 = issued_snippet(BadgeConfig(), CODE)
V3 = f'<script src="{URL}"></script>'
CALL = V1.removeprefix('<script type="text/javascript">').removesuffix("</script>")
SITE = SiteBadge(ID, CERT)
SIZES = (100_000, 400_000)
WORK_PER_CHAR = 5


def fill(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit))


def wrap(junk: str, tail: str = V1) -> str:
    """The junk in a page body, the issued badge after it (in the footer)."""
    return f"<html><head><title>t</title></head><body>{junk}<div>{tail}</div></body></html>"


def nested_writes(levels: int, size: int) -> str:
    """The bare script written by ``document.write("...")`` nested ``levels`` deep, with
    ``size`` characters of text beside it at the innermost level."""
    markup = f"<script src={URL}></script><p>{'x' * size}</p>"
    for _ in range(levels):
        quoted = markup.replace("\\", "\\\\").replace('"', '\\"').replace("</", "<\\/")
        markup = f'<script>document.write("{quoted}");</script>'
    return wrap(markup, "")


# name: (build(size) -> page, the first reason expected)
CASES: dict[str, tuple[Callable[[int], str], str]] = {
    "unclosed tags named like the host": (
        lambda n: wrap(fill("<dcs.conac.cn ", n) + ">"), "ok"),
    "the issue's page: nothing but <dcs.conac.cn": (
        lambda n: fill("<dcs.conac.cn ", n), "badge_missing"),
    "closed tags named like the host": (lambda n: wrap(fill("<dcs.conac.cn>", n)), "ok"),
    "the host in text": (lambda n: wrap(fill("dcs.conac.cn ", n)), "ok"),
    "the host in text between tags": (lambda n: wrap(fill("<i>dcs.conac.cn</i>", n)), "ok"),
    "the span id on every element": (lambda n: wrap(fill("<i id=_ideConac>", n)), "ok"),
    # once a placeholder span is known, another span id can change nothing in markup
    "the span id, every element different": (
        lambda n: wrap("".join(f"<i id=_ideConac n={i}>" for i in range(n // 24))), "ok"),
    "placeholder spans, each different": (
        lambda n: wrap("".join(f'<span id="_ideConac" class="c{i}"></span>'
                               for i in range(n // 44))), "ok"),
    # an id in passing matters only where a tag can have it as its id: the check looks ahead
    "the span id in a class, every element different": (
        lambda n: wrap("".join(f"<i class=_ideConac n={i}>" for i in range(n // 24))), "ok"),
    "the image id in a title, every element different": (
        lambda n: wrap("".join(f"<i title=imgConac n={i}>" for i in range(n // 24))), "ok"),
    "the host in attribute values": (lambda n: wrap(fill('<i a="dcs.conac.cn">', n)), "ok"),
    "one tag with endless attributes": (
        lambda n: wrap("<dcs.conac.cn" + fill(" a", n) + ">"), "ok"),
    "an unclosed attribute quote": (
        lambda n: wrap('<i a="' + fill("dcs.conac.cn ", n)), "badge_missing"),
    # the comment never closes: the badge in the footer is inside it
    "unclosed comments with the host": (
        lambda n: wrap(fill("<!--dcs.conac.cn ", n)), "badge_inactive"),
    "comments with the host": (lambda n: wrap(fill("<!--dcs.conac.cn-->", n)), "ok"),
    "empty comments": (lambda n: wrap(fill("<!---->", n)), "ok"),
    "commented-out snippets": (lambda n: wrap(fill(f"<!--{V3}-->", n)), "ok"),
    "commented-out scripts, each different": (
        lambda n: wrap("".join(f'<!--<script src="{URL}?{i}"></script>-->'
                               for i in range(n // 100))), "ok"),
    "commented-out badges of other sites, one after another": (
        lambda n: wrap("\n".join(f"<!-- {other_snippet(i)} -->" for i in range(n // 240))),
        "ok"),
    # the first script runs to the badge's </script>: markup read as script does not parse
    "unclosed scripts with the host": (
        lambda n: wrap(fill("<script>dcs.conac.cn ", n)), "badge_broken"),
    "scripts with the host": (lambda n: wrap(fill('<script>"dcs.conac.cn"</script>', n)), "ok"),
    "many scripts, no closers": (lambda n: wrap(fill("<script>", n)), "badge_broken"),
    "many small strings in one script": (
        lambda n: wrap("<script>" + fill('"";', n) + CALL + "</script>", ""), "ok"),
    "one long concatenation with the host": (
        lambda n: wrap("<script>var a = " + fill('"dcs.conac.cn" + ', n) + '"";</script>'),
        "ok"),
    "many unescape calls with the host": (
        lambda n: wrap("<script>" + fill('unescape("dcs.conac.cn");', n) + "</script>"), "ok"),
    "many broken unescape calls on one line": (
        lambda n: wrap("<script>" + fill("unescape(x dcs.conac.cn ", n) + "</script>"), "ok"),
    "regular expressions that never close": (
        lambda n: wrap("<script>" + fill("(/[", n) + "dcs.conac.cn</script>"), "ok"),
    "line comments inside line comments": (
        lambda n: wrap("<script>" + fill("// ", n) + URL + "\n</script>"), "ok"),
    "unterminated strings on every line": (
        lambda n: wrap("<script>" + fill("'dcs.conac.cn\n", n) + "</script>"), "ok"),
    "percent escapes": (
        lambda n: wrap('<script>document.write(unescape("' + fill("%3C", n)
                       + 'dcs.conac.cn"));</script>'), "ok"),
    "the bare script three writes deep": (lambda n: nested_writes(3, n), "ok"),
    # deeper than the check follows (pages nest three or four at most): left to the browser
    "the bare script ten writes deep": (lambda n: nested_writes(10, n), "ok"),
    "many </body>": (lambda n: wrap(fill("</body>", n)), "ok"),
    "nested templates": (
        lambda n: wrap(fill("<template>", n // 2) + V1 + fill("</template>", n // 2), ""),
        "badge_inactive"),
    "nested templates with text between": (
        lambda n: wrap(fill("<template> x ", n // 2) + V1 + fill("</template>\n", n // 2), ""),
        "badge_inactive"),
    "a page of '<'": (lambda n: wrap(fill("<", n)), "ok"),
    "svg islands broken by <div>": (lambda n: wrap(fill("<svg><div>", n)), "ok"),
    "certificate links without </a>": (
        lambda n: wrap(fill(f'<a href="//bszs.conac.cn/sitename?method=show&id={CERT}">', n)),
        "ok"),
    "static badge images": (
        lambda n: wrap(fill('<img id="imgConac" src="//dcs.conac.cn/image/red.png">', n)),
        "ok"),
    "the issued code again and again": (lambda n: wrap(fill(V1, n)), "ok"),
    "the issued code again and again, a line break between": (
        lambda n: wrap(fill(V1 + "\n", n)), "ok"),
    "the same certificate link and image again and again": (
        lambda n: wrap(fill(f'<p><a href="//bszs.conac.cn/sitename?method=show&id={CERT}">'
                            f'<img src="//dcs.conac.cn/image/red.png"></a></p>', n)), "ok"),
    # one script to the end of the page, and one line: a JavaScript comment holds the badge
    "<!-- in scripts, with <script> inside": (
        lambda n: wrap(fill("<script><!--<script>dcs.conac.cn", n)), "badge_inactive"),
    # distinct badges, a different one every 60-100 characters: each must be looked at
    "static badge images, each different": (
        lambda n: wrap("".join(f'<img alt={i} id="imgConac" src="//dcs.conac.cn/image/red.png">'
                               for i in range(n // 62))), "ok"),
    "certificate links, each different": (
        lambda n: wrap("".join(f'<a href="//bszs.conac.cn/sitename?method=show&id={i:032X}">'
                               for i in range(n // 83))), "ok"),
    "badge scripts, each different": (
        lambda n: wrap("".join(f'<script src="{URL}?{i}"></script>' for i in range(n // 100))),
        "ok"),
}

# Cases that need more than a few passes, and why: a script holding a hit is read twice more
# (the pass looking for syntax errors and the pass over its hits), and markup written by
# document.write once more at each level the check follows.
MORE_WORK = {
    **dict.fromkeys(
        ("unclosed scripts with the host", "many scripts, no closers",
         "many small strings in one script", "one long concatenation with the host",
         "line comments inside line comments", "<!-- in scripts, with <script> inside",
         "percent escapes"),
        8),
    # distinct badges: each is a finding, a step in Python
    **dict.fromkeys(("static badge images, each different",
                     "certificate links, each different", "badge scripts, each different"), 7),
    # constructs that give nothing make the check look ahead once for where an id matters
    **dict.fromkeys(("the span id in a class, every element different",
                     "the image id in a title, every element different"), 7),
    "the bare script three writes deep": 22,
    "the bare script ten writes deep": 27,
}


def other_snippet(i: int) -> str:
    """The issued code of another site, a different one for each ``i``."""
    code = make_code(BadgeConfig(), f"CA3300000006042{i:08d}", CERT)
    return issued_snippet(BadgeConfig(), code)


def measure(build: Callable[[int], str]) -> list[tuple[int, int, str]]:
    """(characters, work, first reason) at each size."""
    out = []
    for size in SIZES:
        text = build(size)
        verdict = check_page(text, SITE)
        out.append((len(text), verdict.work, verdict.reasons[0]))
    return out


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(CASES))
def test_hostile_page_is_checked_in_linear_work(name: str) -> None:
    build, expected = CASES[name]
    (small_n, small_work, small_reason), (big_n, big_work, big_reason) = measure(build)
    if expected:
        assert small_reason == big_reason == expected
    assert big_work <= MORE_WORK.get(name, WORK_PER_CHAR) * big_n, (big_work, big_n)
    assert big_work / small_work <= 1.15 * big_n / small_n, (small_work, big_work)


def cpu_seconds(text: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        check_page(text, SITE)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.timeout(300)
def test_hostile_pages_cost_cpu_in_proportion() -> None:
    """What the work counts cannot see: the CPU time of four times the page stays near four
    times, never the sixteen a quadratic pass would take."""
    ratios = {}
    for name, (build, _) in CASES.items():
        small, big = (build(size) for size in SIZES)
        ratios[name] = cpu_seconds(big) / max(cpu_seconds(small), 1e-4)
    assert {name: r for name, r in ratios.items() if r > 8} == {}


def test_every_other_site_named_in_many_comments_is_reported() -> None:
    """Comments read as one stretch still name every identifier they hold, in page order."""
    page = CASES["commented-out badges of other sites, one after another"][0](100_000)
    verdict = check_page(page, SITE)
    count = 100_000 // 240
    assert verdict.reasons == ("ok",)
    assert verdict.identifiers == (
        *(f"CA3300000006042{i:08d}" for i in range(count)), ID)


@pytest.mark.parametrize(("name", "unit", "copies"), [
    ("static badge images", '<img id="imgConac" src="//dcs.conac.cn/image/red.png">', 7000),
    ("certificate links", f'<a href="//bszs.conac.cn/sitename?method=show&id={CERT}">', 3000),
    ("issued code with a line break", V1 + "\n", 900),
    ("images, each different",
     '<img id="imgConac" src="//dcs.conac.cn/image/red.png" alt="{}">', 2000),
])
def test_a_badge_again_and_again_is_counted_every_time(name: str, unit: str, copies: int) -> None:
    """A construct read once for all its copies, or findings kept as a first, a last and a
    count: the message still says how many badges the page shows, and the findings listed
    stand for all of them (the first and the last of each kind at least)."""
    page = wrap("".join(unit.format(i) for i in range(copies)))
    verdict = check_page(page, SITE)
    assert verdict.reasons == ("ok", "badge_duplicate")
    assert f"页面上共有 {copies + 1} 处网站标识" in verdict.message
    assert len(verdict.badges) < 20
    offsets = [b.offset for b in verdict.badges]
    assert page.index(unit.format(0)) in offsets
    assert page.rindex(unit.format(copies - 1)) in offsets or unit.startswith("<script")


def test_work_is_reported_for_ordinary_pages() -> None:
    page = government_page("首页", ["/a.html"], V1, size_kb=30)
    verdict = check_page(page, SITE)
    assert verdict.reasons == ("ok",)
    assert 0 < verdict.work <= WORK_PER_CHAR * len(page)


@pytest.mark.timeout(240)
def test_a_hostile_page_does_not_stall_the_crawl(
    crawl_env: dict[str, str], tmp_path: Path, serve_site
) -> None:
    """1 MB of ``<dcs.conac.cn `` on one site's page; the crawl finishes and both sites, that
    one and a normal one, get their verdicts."""
    hostile_routes = pages(2, lambda i: badge(1))
    hostile_routes["/p/1.html"] = "<html><body>" + fill("<dcs.conac.cn ", 1_000_000)
    hostile = serve_site(hostile_routes, names=["恶意.政务"])
    normal = serve_site(pages(3, lambda i: badge(2)), names=["正常.政务"])
    register(crawl_env, tmp_path, [(1, "恶意.政务", hostile.ip, None),
                                   (2, "正常.政务", normal.ip, None)])
    result = run(crawl_env, "crawl", "--json", code=None)
    data = json.loads(result.output)
    assert data["run"]["state"] == "finished", result.output
    sites = by_domain(result.output)
    assert sites[ascii_name("正常.政务")]["status"] == "compliant"
    bad = sites[ascii_name("恶意.政务")]
    assert bad["status"] == "non_compliant"
    assert bad["reasons"] == ["badge_missing"]
    assert bad["pages_failing"] == 1


SPAN = '<span id="_ideConac"></span>'
PATH = "33/000/0000/60425889"
# Badges the fast path must still find: it stops only where a host is followed by a path, an
# escape, a port or a quote and '+', or at an id.
STILL_FOUND = {
    "the URL built from pieces": (
        f"{SPAN}<script>var s = document.createElement('script');"
        f's.src = "http://" + "dcs.conac.cn" + "/js/{PATH}/{ID}.js";'
        "document.body.appendChild(s);</script>"),
    "slashes escaped in a JSON-style string": (
        f"<div class='f'></div><script>$('.f').append(\"<span id=\\\"_ideConac\\\"><\\/span>"
        f"<script src=\\\"http:\\/\\/dcs.conac.cn\\/js\\/{PATH.replace('/', chr(92) + '/')}"
        f"\\/{ID}.js\\\"><\\/script>\");</script>"),
    "slashes percent-encoded in the issued code": V1.replace(
        "http://dcs.conac.cn/js/", "http:%2F%2Fdcs.conac.cn%2Fjs/"),
    "a port after the host": V1.replace("dcs.conac.cn/", "dcs.conac.cn:80/"),
}


@pytest.mark.parametrize("name", list(STILL_FOUND))
def test_the_fast_path_still_finds(name: str) -> None:
    verdict = check_page(wrap("", STILL_FOUND[name]), SITE)
    assert verdict.reasons[0] == "ok", verdict.message
    assert verdict.identifiers == (ID,)


def test_a_remembered_construct_is_not_replayed_in_another_context() -> None:
    """The same placeholder span inside a <template> (inert) and outside it: only the second
    lets the async badge script fill it."""
    inert = wrap("", f"<template>{SPAN}</template><script async src='{URL}'></script>")
    assert check_page(inert, SITE).reasons == ("badge_broken",)
    live = wrap("", f"<template>{SPAN}</template>{SPAN}<script async src='{URL}'></script>")
    assert check_page(live, SITE).reasons == ("ok",)


def test_a_remembered_image_depends_on_the_link_around_it() -> None:
    """The badge image inside a certificate link is that link's image; the same image outside
    any link is a second hard-coded badge."""
    image = '<img src="//dcs.conac.cn/image/red.png">'
    link = f'<a href="//bszs.conac.cn/sitename?method=show&amp;id={CERT}">{image}</a>'
    assert check_page(wrap("", link), SITE).reasons == ("badge_static_copy",)
    assert check_page(wrap("", link + image), SITE).reasons == (
        "badge_static_copy", "badge_duplicate")


def test_a_remembered_construct_is_not_replayed_at_another_depth() -> None:
    """The same script text once at the top and once nested five document.write levels deep:
    the nested one is past the depth the check follows."""
    deep = nested_writes(5, 10).removeprefix("<html><head><title>t</title></head><body>")
    deep = deep.removesuffix("<div></div></body></html>")
    verdict = check_page(wrap(f"<script src={URL}></script>{deep}", ""), SITE)
    assert verdict.reasons == ("ok",)
    assert [b.why for b in verdict.badges] == [None, "nested"]
    # not judged statically: left to the browser, which renders every such page of a site
    assert (verdict.badges[1].form, verdict.badges[1].state) == ("unknown", "live")
    sample = SiteSample(limit=5)
    sample.consider("http://example.xn--zfr164b/p.html", home=False, tree=None, verdict=verdict)
    assert sample.urls == {"http://example.xn--zfr164b/p.html": "undecided"}
