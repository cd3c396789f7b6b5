"""Benchmark: the page check (``crawler.checks.check_page``) in pages per second.

Measures, in one run and on the same bytes:
  * baseline: one ``bytes.find`` of an absent needle over the page (the cheapest possible look
    at every byte, the floor any check pays);
  * the check on a generated ~30 KB government-style page without a badge, the same page with
    the issued badge in its footer, and every page of ``../shared/corpus`` (read in place);
  * for scale, the obvious implementation: BeautifulSoup (lxml) over the whole page, then a
    search for the badge span and script.

Prints microseconds per page, pages per second and the ratio to the baseline of the same page.
Targets: well under 1 ms for a 30 KB page without a badge, about 1 ms with one.

Then the worst cases it can construct (issue 11): pages built to make the check slow, at
100 KB and 400 KB, each beside a generated government page with the badge of the same size in
bytes, with the ratio of their times, the check's own count of its work per character
(``PageVerdict.work``) and the verdict. The check must stay linear on every input; the target
for the ratio is a small multiple (at most 5) of the typical page. Also the text path: the
same typical page checked as decoded text, as the spider hands it over.

    .venv/bin/python bench/check.py [--seconds S] [--worst-only]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crawler.checks import SiteBadge, check_page  # noqa: E402

IDENTIFIER = "CA330000000604258890010"
BADGE = (
    '<script type="text/javascript">document.write(unescape("%3Cspan id=\'_ideConac\' %3E'
    "%3C/span%3E%3Cscript src='http://dcs.conac.cn/js/33/000/0000/60425889/"
    f"{IDENTIFIER}.js' type='text/javascript'%3E%3C/script%3E\"));</script>"
)
WORDS = [
    "政务公开", "通知公告", "政策解读", "办事服务", "互动交流", "人民政府", "工作动态", "部门文件",
    "规划计划", "财政预决算", "人事信息", "建议提案", "公共服务", "依申请公开", "新闻发布会",
    "专题专栏", "便民服务",
]


def government_page(badge: bool, size: int = 30_000, seed: int = 7) -> bytes:
    """A page shaped like a county government's: head with metadata, styles and scripts, a
    navigation bar, a news list of ~50 same-site links, article text, and a footer with ICP,
    公安备案, 网站标识码 and the 找错 widget (plus the issued badge when ``badge``)."""
    rng = random.Random(seed)
    head = (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        "<title>某县人民政府 - 政务公开</title>\n"
        '<meta name="SiteName" content="某县人民政府">\n'
        '<meta name="SiteDomain" content="www.example.gov.cn">\n'
        '<meta name="SiteIDCode" content="3301000001">\n'
        '<link rel="stylesheet" href="/css/style.css">\n'
        '<script src="/js/jquery-1.12.4.min.js"></script>\n'
        "<script>var _hmt = _hmt || []; function tab(n){ for (var i = 0; i < 4; i++) {"
        " document.getElementById('t' + i).className = i == n ? 'on' : ''; } }</script>\n"
        "</head>\n<body>\n"
    )
    nav = '<div class="nav"><ul>' + "".join(
        f'<li><a href="/col/col{i}/index.html">{w}</a></li>' for i, w in enumerate(WORDS)
    ) + "</ul></div>\n"
    footer = (
        '<div class="footer"><div class="wrap"><table width="100%"><tr>'
        '<td align="center" width="120">' + (BADGE if badge else "") + "</td>"
        '<td><p>主办单位：某县人民政府办公室　承办单位：某县大数据发展中心</p>'
        '<p><a href="https://beian.miit.gov.cn" target="_blank">浙ICP备12345678号-1</a>'
        '　<img src="/images/ga.png"><a href="http://www.beian.gov.cn/portal/registerSystemInfo'
        '?recordcode=33010202000123">浙公网安备 33010202000123号</a>　网站标识码：3301000001</p>'
        "</td><td width=\"110\"><script id=\"_jiucuo_\" sitecode='3301000001' "
        "src='https://zfwzgl.www.gov.cn/exposure/jiucuo.js'></script></td></tr></table></div>"
        "</div>\n</body>\n</html>\n"
    )
    parts = [head, nav, '<div class="main"><div class="list"><ul>']
    for i in range(50):
        title = "".join(rng.choice(WORDS) for _ in range(3))
        parts.append(
            f'<li><span class="date">2024-0{1 + i % 9}-{10 + i % 18}</span>'
            f'<a href="/art/2024/{i}/art_{1000 + i}.html" title="{title}">{title}</a></li>'
        )
    parts.append('</ul></div><div class="article">')
    body_size = sum(len(p.encode()) for p in parts) + len(footer.encode())
    while body_size < size:
        sentence = "".join(rng.choice(WORDS) for _ in range(12)) + "。"
        parts.append(f"<p>{sentence}</p>")
        body_size += len(f"<p>{sentence}</p>".encode())
    parts.append("</div></div>\n")
    parts.append(footer)
    return "".join(parts).encode("utf-8")


def per_call(func: Callable[[], object], seconds: float) -> float:
    """CPU seconds per call, measured over about ``seconds`` after one warm-up call (CPU time:
    the check is CPU-bound, and other work on the machine swings wall-clock times)."""
    func()
    calls, start = 0, time.process_time()
    batch = 1
    while True:
        for _ in range(batch):
            func()
        calls += batch
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return elapsed / calls
        batch = min(batch * 2, 4096)


def bs4_check(page: bytes) -> bool:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, "lxml")
    return soup.find(id="_ideConac") is not None or any(
        "dcs.conac.cn" in (s.get("src") or "") or "dcs.conac.cn" in (s.string or "")
        for s in soup.find_all("script")
    )


def fill(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit))


def in_page(junk: str) -> bytes:
    """The junk in a page body, the issued badge in the footer after it."""
    return (
        f"<html><head><title>t</title></head><body>{junk}<div>{BADGE}</div></body></html>"
    ).encode()


SCRIPT = f"http://dcs.conac.cn/js/33/000/0000/60425889/{IDENTIFIER}.js"
CALL = BADGE.removeprefix('<script type="text/javascript">').removesuffix("</script>")
CERT = "0A87C46FEE4D331AE053022819ACDC8C"
LINK = f'<a href="//bszs.conac.cn/sitename?method=show&id={CERT}">'
IMAGE = '<img id="imgConac" src="//dcs.conac.cn/image/red.png">'


def distinct(unit: Callable[[int], str], size: int) -> str:
    """``unit(0)``, ``unit(1)``… up to ``size`` characters: the same construct, each copy
    different."""
    parts, total, i = [], 0, 0
    while total < size:
        part = unit(i)
        parts.append(part)
        total, i = total + len(part), i + 1
    return "".join(parts)


def other_site(i: int) -> str:
    """The issued code of another site, a different one for each ``i``."""
    return BADGE.replace(IDENTIFIER, f"CA3300000006042{i:08d}")


def writes_deep(levels: int, size: int) -> bytes:
    """The bare script written by ``document.write("...")`` ``levels`` deep, ``size``
    characters of text beside it at the innermost level."""
    markup = f"<script src={SCRIPT}></script><p>{'x' * size}</p>"
    for _ in range(levels):
        quoted = markup.replace("\\", "\\\\").replace('"', '\\"').replace("</", "<\\/")
        markup = f'<script>document.write("{quoted}");</script>'
    return in_page(markup)


# The pages that cost the check the most per byte (tests/test_hostile_pages.py has the whole
# collection, each at two sizes, with the verdict it must give), by what the check does with
# them: hits that cannot matter, copies of one construct, constructs read together, markup
# the expressions read slowly, one big script, and distinct badges (each needs a look).
WORST: dict[str, Callable[[int], bytes]] = {
    "the issue's page: nothing but '<dcs.conac.cn '": lambda n: fill("<dcs.conac.cn ", n)
    .encode(),
    "the host in text between tags": lambda n: in_page(fill("<i>dcs.conac.cn</i>", n)),
    "closed tags named like the host": lambda n: in_page(fill("<dcs.conac.cn>", n)),
    "the span id on every element": lambda n: in_page(fill("<i id=_ideConac>", n)),
    "the span id, every element different": lambda n: in_page(
        distinct(lambda i: f"<i id=_ideConac n={i}>", n)),
    "the span id in a class, every element different": lambda n: in_page(
        distinct(lambda i: f"<i class=_ideConac n={i}>", n)),
    "static badge images": lambda n: in_page(fill(IMAGE, n)),
    "certificate links without </a>": lambda n: in_page(fill(LINK, n)),
    "a certificate link with its image, again and again": lambda n: in_page(
        fill(f"<p>{LINK}{IMAGE}</a></p>", n)),
    "the issued code again and again": lambda n: in_page(fill(BADGE, n)),
    "commented-out scripts, each different": lambda n: in_page(
        distinct(lambda i: f'<!--<script src="{SCRIPT}?{i}"></script>-->', n)),
    "commented-out badges of other sites": lambda n: in_page(
        distinct(lambda i: f"<!-- {other_site(i)} -->\n", n)),
    "many </body>": lambda n: in_page(fill("</body>", n)),
    "nested templates": lambda n: in_page(fill("<template>", n // 2) + fill("</template>",
                                                                              n // 2)),
    "a page of '<'": lambda n: in_page(fill("<", n)),
    "svg islands broken by <div>": lambda n: in_page(fill("<svg><div>", n)),
    "the host and a path in text between tags": lambda n: in_page(
        fill("<i>dcs.conac.cn/js</i>", n)),
    "percent escapes in unescape()": lambda n: in_page(
        '<script>document.write(unescape("' + fill("%3C", n) + 'dcs.conac.cn/"));</script>'),
    "unclosed scripts with the host": lambda n: in_page(fill("<script>dcs.conac.cn/ ", n)),
    "many small strings in one script, then the badge": lambda n: in_page(
        "<script>" + fill('"";', n) + CALL + "</script>").replace(BADGE.encode(), b""),
    "one long concatenation with the host": lambda n: in_page(
        "<script>var a = " + fill('"dcs.conac.cn" + ', n) + '"";</script>'),
    "the bare script three document.write levels deep": lambda n: writes_deep(3, n),
    # each of these is a badge the check must find, a different one every 60-100 bytes
    "static badge images, each different": lambda n: in_page(
        distinct(lambda i: IMAGE.replace("<img ", f"<img alt={i} "), n)),
    "certificate links, each different": lambda n: in_page(
        distinct(lambda i: LINK.replace(CERT, f"{i:032X}"), n)),
    "badge scripts, each different": lambda n: in_page(
        distinct(lambda i: f'<script src="{SCRIPT}?{i}"></script>', n)),
}


def worst_cases(site: SiteBadge, seconds: float) -> None:
    """Each worst case beside the typical page of the same size, and the text path."""
    print("\nworst cases, each beside a generated government page with the badge of the same"
          " size in bytes (time ratio; work per character; verdict)")
    for size in (100_000, 400_000):
        typical = government_page(True, size)
        typical_s = per_call(partial(check_page, typical, site), seconds)
        text = typical.decode()
        text_s = per_call(partial(check_page, text, site), seconds)
        plain_s = per_call(partial(check_page, government_page(False, size), site), seconds)
        print(f"\n{size // 1000} KB  typical page with the badge: {typical_s * 1e6:9.0f} µs"
              f" as bytes, {text_s * 1e6:.0f} µs as text; without the badge"
              f" {plain_s * 1e6:.0f} µs")
        ratios: dict[str, float] = {}
        for name, build in WORST.items():
            page = build(size)
            check = per_call(partial(check_page, page, site), seconds)
            verdict = check_page(page, site)
            ratios[name] = ratio = check / typical_s
            print(f"  {name[:52]:52} {check * 1e6:9.0f} µs {ratio:6.1f}x"
                  f" {verdict.work / len(page):5.1f}/char  {verdict.reasons[0]}")
        worst = max(ratios, key=ratios.__getitem__)
        over = [name for name, ratio in ratios.items() if ratio > 5]
        print(f"  worst: {ratios[worst]:.1f}x the typical page ({worst});"
              f" {len(over)} of {len(ratios)} over 5x, {sum(r > 8 for r in ratios.values())}"
              f" over 8x ({'PASS' if not over else 'MISS'}: target at most 5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.3, help="time per measurement")
    parser.add_argument("--worst-only", action="store_true", help="only the worst cases")
    args = parser.parse_args()
    site = SiteBadge(IDENTIFIER)
    if args.worst_only:
        worst_cases(site, args.seconds)
        return
    pages: list[tuple[str, bytes]] = [
        ("generated 30 KB, no badge", government_page(False)),
        ("generated 30 KB, badge in footer", government_page(True)),
    ]
    pages += [(p.name, p.read_bytes()) for p in sorted(CORPUS.glob("[0-9]*"))]

    print(f"{'page':56} {'KB':>6} {'check µs':>9} {'pages/s':>9} {'find µs':>8} {'ratio':>6}")
    total_check = total_base = 0.0
    for name, page in pages:
        check = per_call(partial(check_page, page, site), args.seconds)
        base = per_call(partial(page.find, b"\x00never-there\x00"), args.seconds / 3)
        verdict = check_page(page, site)
        if name.startswith("generated"):
            print(f"  -> {verdict.verdict}, {', '.join(verdict.reasons)}")
        else:
            total_check += check
            total_base += base
        print(
            f"{name[:56]:56} {len(page) / 1000:6.1f} {check * 1e6:9.1f} {1 / check:9.0f}"
            f" {base * 1e6:8.2f} {check / base:6.1f}"
        )
    n = len(pages) - 2
    print(
        f"\ncorpus ({n} files): mean {total_check / n * 1e6:.1f} µs/page,"
        f" {n / total_check:.0f} pages/s; baseline mean {total_base / n * 1e6:.2f} µs"
    )
    for name, page in pages[:2]:
        soup = per_call(partial(bs4_check, page), args.seconds)
        check = per_call(partial(check_page, page, site), args.seconds)
        print(
            f"BeautifulSoup(lxml) reference, {name}: {soup * 1e6:.0f} µs/page"
            f" ({soup / check:.0f}x the check)"
        )
    worst_cases(site, args.seconds)


if __name__ == "__main__":
    main()
