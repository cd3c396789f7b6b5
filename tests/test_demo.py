"""The README's main job: ``badgewatch demo`` runs the whole product and its report is right.

CI runs the suite in a clean clone after the README's setup (``scripts/test.sh`` runs
``scripts/setup.sh``); this test runs the README's demo command there, in an empty directory,
with no badgewatch settings in the environment, and reads the report it wrote.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.factories import parse_page, texts

ROOT = Path(__file__).resolve().parent.parent

# What each demo site shows, and what an office reader must find in the report: the state and
# at least these reasons. The court's application stopped at the paper materials: no site.
EXPECTED = {
    "浙江省人民政府.政务": ("compliant", set()),
    "杭州市人民政府.政务": ("overdue", {"badge_missing"}),
    "西湖区人民政府.政务": ("overdue", {"badge_other_site"}),
    "浙江教育.政务": ("overdue", {"badge_inactive"}),
    "浙江财政.政务": ("overdue", {"badge_hidden"}),
    "杭州数据.政务": ("overdue", {"badge_not_centered"}),
    "杭州档案.政务": ("unreachable", set()),
    "西湖市场监管.政务": ("dns_mismatch", set()),
    "西湖文旅.政务": ("pending", {"badge_missing"}),
    "西湖司法.政务": ("compliant", set()),  # the red page badgewatch serves itself
}


def _cn(iso: str) -> str:
    year, month, day = (int(part) for part in iso.split("-"))
    return f"{year}年{month}月{day}日"


def readme_main_command() -> str:
    readme = (ROOT / "README.md").read_text("utf-8")
    block = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert block is not None, "the README opens with a sh block of the two commands"
    commands = [line for line in block.group(1).splitlines() if line and not line.startswith("#")]
    return commands[0]


def chromium_processes() -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"chromium" in (entry / "cmdline").read_bytes().split(b"\0")[0]:
                    count += 1
            except OSError:
                continue
    return count


@pytest.mark.timeout(900)
def test_demo_runs_the_product_and_its_report_matches_its_sites(tmp_path: Path) -> None:
    command = readme_main_command()
    assert command == "bash scripts/setup.sh && .venv/bin/badgewatch demo"
    demo = command.split(" && ")[1].split()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BADGEWATCH_")}
    before = chromium_processes()
    done = subprocess.run(
        [str(ROOT / demo[0]), *demo[1:]],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    print(out[-2500:])  # the demo's own summary, kept in the test log

    # It says where the office report is, under ./var/demo, and the report is there.
    match = re.search(r"^office report: (.+)$", out, re.M)
    assert match is not None, out[-2000:]
    page = Path(match.group(1))
    assert page.is_relative_to(tmp_path / "var" / "demo") and page.name == "office-330000.html"
    data = json.loads(page.with_suffix(".json").read_text("utf-8"))

    sites = {s["domain_display"]: s for s in data["sites"]}
    assert sorted(sites) == sorted(EXPECTED)
    for domain, (state, reasons) in EXPECTED.items():
        site = sites[domain]
        assert site["state"] == state, (domain, site)
        assert reasons <= set(site["reasons"]), (domain, site["reasons"])
        # Listed on its own office's page (the province lists its own; the others link down).
        own = parse_page(page.parent / f"office-{site['office']}.html")
        assert domain in texts(own, '#site-table td[data-label="网站"] span.note'), domain
    assert sites["杭州市人民政府.政务"]["pages_failing"] == 2  # two of its six pages
    assert data["counts"]["compliant"] == 2 and data["total"] == 10
    # The red page was served by badgewatch and rendered with its badge at the bottom centre.
    renders = sqlite3.connect(tmp_path / "var" / "demo" / "badgewatch.db").execute(
        "SELECT r.url, r.verdict FROM page_renders r JOIN sites s ON s.last_check_id = r.check_id"
        " JOIN red_pages p ON p.site_id = s.id"
    ).fetchall()
    assert renders and {verdict for _, verdict in renders} == {"compliant"}, renders
    # 浙江省人民政府.政务, issued in step 1, is then re-reviewed (已开办网站复核) and approved: the
    # same badge, the date recorded, one 复核通过 email and SMS, still compliant after the crawl.
    issued = re.search(r"^#1 .*\(浙江省人民政府\.政务\)\n(?:  .*\n)*?  badge (CA\d{21}), ", out,
                       re.M)
    assert issued is not None, out[:3000]
    badge = issued.group(1)
    assert re.search(r"^#\d+ 浙江省人民政府办公厅 — 已开办网站复核 浙江省人民政府门户网站 "
                     r"\(浙江省人民政府\.政务\)$", out, re.M)
    assert f"  badge {badge} kept, re-reviewed on " in out
    kept = re.search(rf"^re-reviewed: 浙江省人民政府\.政务 kept badge {badge} "
                     r"\(复核通过 (\d{4}-\d\d-\d\d)\), now compliant$", out, re.M)
    assert kept is not None, out[-3000:]
    assert sites["浙江省人民政府.政务"]["identifier"] == badge  # as the report lists it
    assert re.search(r"to handler1@demo\.example\.cn: .*（浙江省人民政府\.政务）复核通过$", out,
                     re.M)
    database = sqlite3.connect(tmp_path / "var" / "demo" / "badgewatch.db")
    assert database.execute(
        "SELECT identifier, rereviewed_on FROM sites WHERE rereviewed_on IS NOT NULL"
    ).fetchall() == [(badge, kept.group(1))]
    assert [row[0] for row in database.execute(
        "SELECT channel FROM outbox WHERE key LIKE 'rereview-approved:%' ORDER BY channel"
    )] == ["email", "sms"]
    # The roll-up: the province links down to both offices beneath it.
    assert {o["code"] for o in data["offices"]} == {"330100"}
    assert (page.parent / "office-330106.html").exists()
    # A failing site's page shows its rendered evidence.
    hidden = parse_page(page.parent / sites["浙江财政.政务"]["page"])
    problems = [row[0] for row in (texts(tr, "td") for tr in hidden.css("#reasons tbody tr"))]
    assert any(p.startswith("网站标识在页面上看不到") for p in problems), problems
    shots = [img.attributes["src"] or "" for img in hidden.css("#evidence img")]
    assert shots and all(src.startswith("data:image/png;base64,") for src in shots), shots
    # The offices were told, with what changed and a link to their report.
    assert re.search(r"to bb330000@demo\.example\.cn: .*日报", out)
    digest = sqlite3.connect(tmp_path / "var" / "demo" / "badgewatch.db").execute(
        "SELECT body FROM outbox WHERE key LIKE 'office-digest:%:email' AND recipient = ?",
        ("bb330000@demo.example.cn",),
    ).fetchone()[0]
    assert "浙江财政.政务" in digest and "逾期未整改" in digest
    assert f"详细报告：{page.resolve().as_uri()}" in digest

    # One domain is about to expire, in 20 days: printed, reported, in the digest, reminded.
    portal = sites["浙江省人民政府.政务"]
    expires_on = portal["expires_on"]
    assert portal["expiry"] == "expiring" and expires_on
    assert [s for s in sites if sites[s]["expiry"]] == ["浙江省人民政府.政务"]
    assert re.search(rf"^  domain expires on {expires_on} \(in 20 days\)", out, re.M)
    assert re.search(rf"^浙江省人民政府\.政务 +domain expiring on {expires_on}", out, re.M)
    own = parse_page(page.parent / "office-330000.html")
    cells = [texts(tr, 'td[data-label="域名到期"]') for tr in own.css("#site-table tbody tr")
             if "浙江省人民政府.政务" in texts(tr, 'td[data-label="网站"] span.note')]
    assert cells == [[f"域名即将到期（{_cn(expires_on)}）"]]
    assert "域名即将到期，到期日期" in digest and "（还剩 20 天）" in digest
    assert re.search(r"to handler1@demo\.example\.cn: .*域名将于.*到期", out)

    # Nothing keeps running: no site or badge host answers, no browser is left.
    for ip in ("127.0.3.1", "127.0.3.2"):
        with pytest.raises(OSError), socket.create_connection((ip, 80), timeout=2):
            pass
    assert chromium_processes() <= before

