"""Office reports: what an office reader sees in the HTML, the CSV and the JSON.

A province (330000) with a prefecture (330100) and a county (330106) beneath it; sites in each,
checked over three days, built directly with the models (see tests/test_deadlines.py).
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.cli.main import cli
from badgewatch.config import ReportsConfig
from badgewatch.runtime import Runtime
from monitor.notices import office_digests
from monitor.reporting import NightlyReports, finished_nightly
from reports.build import neutralise
from reports.paths import office_report_url
from store.db import transaction
from store.models import (
    CrawlJob,
    JobState,
    Office,
    Site,
)
from tests.factories import D3, HOSTILE_TITLE, REPORT_NOW, build, parse_page, texts


def test_province_report_rolls_up_and_links_down(sessions, tree, tmp_path) -> None:
    result = build(sessions, tree, tmp_path / "out", "330000")
    assert sorted(result.offices) == ["330000", "330100", "330106"]  # 宁波 has no sites
    assert result.sites == 5
    page = parse_page(result.offices["330000"])
    # The whole province: 2 compliant, 1 overdue (the data site), 1 regressed, 1 unreachable.
    cards = {card.attributes["id"]: texts(card, "div.n") for card in page.css("div.card")}
    assert {key: cards.get(key) for key in (
        "count-total", "count-compliant", "count-overdue", "count-regressed",
        "count-unreachable", "count-rate",
    )} == {
        "count-total": ["5"], "count-compliant": ["2"], "count-overdue": ["1"],
        "count-regressed": ["1"], "count-unreachable": ["1"],
        "count-rate": ["50.0%"],  # 2 of 4 with a verdict
    }
    offices = [(a.attributes["href"], a.text()) for a in page.css("#offices td a")]
    assert offices == [("office-330100.html", "杭州市委编办")]
    assert "宁波市委编办" not in page.body.text()
    # The trend: 8 Oct 3 of 4 compliant, 9 Oct 2 of 3, 13 Oct 2 of 4 (unreachable not counted).
    assert texts(page, "#trend svg circle title") == [
        "2026-10-08：合规 3 / 4，75.0%", "2026-10-09：合规 2 / 3，66.7%",
        "2026-10-13：合规 2 / 4，50.0%",
    ]
    # The prefecture's page links back up and down.
    hz = parse_page(result.offices["330100"])
    assert [a.attributes["href"] for a in hz.css("p.crumbs a")] == ["office-330000.html"]
    assert [a.attributes["href"] for a in hz.css("#offices td a")] == ["office-330106.html"]
    # Every link in the set points at a file in the set.
    for path in result.directory.glob("*.html"):
        for link in parse_page(path).css("a[href]"):
            href = link.attributes["href"] or ""
            if "#" not in href and ":" not in href:
                assert (result.directory / href).exists(), (path.name, href)


def test_site_table_says_state_deadline_and_problem(sessions, tree, tmp_path) -> None:
    result = build(sessions, tree, tmp_path / "out", "330100")
    page = parse_page(result.offices["330100"])
    rows = page.css("#site-table tbody tr")
    # Its own two sites, the one needing action first.
    assert [row.attributes["data-state"] for row in rows] == ["overdue", "compliant"]
    overdue = {cell.attributes["data-label"]: " ".join(cell.text().split())
               for cell in rows[0].css("td")}
    assert overdue["状态"].startswith("逾期未整改")
    assert overdue["整改期限"] == "2026年10月12日"
    assert overdue["剩余/逾期"] == "逾期 1 个工作日"  # 12 Oct deadline, 13 Oct today
    assert overdue["主要问题"] == "页面没有加挂网站标识等 2 类问题"


def test_site_page_explains_each_problem_with_evidence_and_history(
    sessions, tree, tmp_path
) -> None:
    result = build(sessions, tree, tmp_path / "out", "330100")
    page = parse_page(result.directory / "site-xn--6rtt7jbwbe2c.xn--zfr164b.html")
    problems = {row[0]: row[2] for row in (
        texts(tr, "td") for tr in page.css("#reasons tbody tr"))}
    missing = problems["页面没有加挂网站标识"]
    assert "把收到的网站标识代码原样粘贴到页面底部、</body> 之前" in missing
    assert "页面上的网站标识属于其他网站" in problems
    rendered = [li.text(deep=False).strip() for li in page.css("#pages ul.reasons li")]
    assert "在浏览器中打开页面后，网站标识没有显示出来（浏览器检查）" in rendered
    [shot] = page.css("#evidence img")
    assert (shot.attributes["src"] or "").startswith("data:image/png;base64,")
    # The host as people read it.
    assert "http://杭州数据.政务/" in texts(page, "#pages td.url a")
    assert texts(page, "#dns") == ["正常"]
    history = [row[1] for row in (texts(tr, "td") for tr in page.css("#history tbody tr"))]
    assert "尚未检查 → 未合规（整改期限内）" in history
    assert "未合规（整改期限内） → 逾期未整改" in history


def test_hostile_titles_and_urls_are_text(sessions, tree, tmp_path) -> None:
    result = build(sessions, tree, tmp_path / "out", "330100")
    page = parse_page(result.directory / "site-xn--6rtt7jbwbe2c.xn--zfr164b.html")
    # No script came in with them: the only scripts are the report's own, none runs alert.
    assert not [s for s in page.css("script") if "alert" in s.text()]
    assert HOSTILE_TITLE in texts(page, "#pages td.url div")
    links = [a.attributes["href"] or "" for a in page.css("#pages td.url a")]
    shown = texts(page, "#pages td.url a")
    assert any(href.endswith('a"><script>alert(1)</script>.html') for href in links), links
    assert any(text.endswith('a"><script>alert(1)</script>.html') for text in shown), shown


def test_csv_neutralises_formulas_and_json_matches(sessions, tree, tmp_path) -> None:
    assert neutralise("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert [neutralise(v) for v in ("+1", "-1", "@SUM", "\t=1", "正常")] == [
        "'+1", "'-1", "'@SUM", "'\t=1", "正常"
    ]
    assert neutralise(-3) == -3
    with transaction(sessions) as session:
        site = session.query(Site).filter_by(name="杭州法院网").one()
        site.name = "=cmd|' /C calc'!A0"
    result = build(sessions, tree, tmp_path / "out", "330000")
    raw = (result.directory / "office-330000.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 with its BOM
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert len(rows) == 5
    names = {r["网站名称"] for r in rows}
    assert "'=cmd|' /C calc'!A0" in names
    overdue = next(r for r in rows if r["状态"] == "逾期未整改")
    assert overdue["逾期工作日"] == "1" and overdue["未通过页面数"] == "2"
    pages = list(csv.DictReader(
        (result.directory / "office-330000-pages.csv").read_text("utf-8-sig").splitlines()
    ))
    assert {p["问题"] for p in pages} >= {
        "页面没有加挂网站标识", "网站标识代码在注释、<noscript> 或 <template> 中，不会运行"
    }
    assert len(pages) == 3
    data = json.loads((result.directory / "office-330000.json").read_text("utf-8"))
    assert data["counts"]["compliant"] == 2 and data["total"] == 5
    assert data["compliance_rate"] == 0.5
    assert [o["code"] for o in data["offices"]] == ["330100"]
    assert {s["state"] for s in data["sites"]} == {
        "compliant", "overdue", "regressed", "unreachable"
    }


def test_a_failed_build_leaves_the_previous_report(sessions, tree, tmp_path, monkeypatch) -> None:
    out = tmp_path / "out"
    build(sessions, tree, out, "330000")
    before = (out / "office-330000.html").read_text("utf-8")

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr("reports.build._Writer.site_page", broken)
    with pytest.raises(OSError):
        build(sessions, tree, out, "330000")
    assert (out / "office-330000.html").read_text("utf-8") == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_report_command(sessions, tree, tmp_path, db_url) -> None:
    env = {"BADGEWATCH_CONFIG": "", "BADGEWATCH_DATABASE_URL": db_url,
           "BADGEWATCH_PATHS_DATA_DIR": str(tree.paths.data_dir)}
    out = tmp_path / "r"
    result = CliRunner().invoke(cli, ["report", "--office", "330106", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert f"open: {out.resolve() / 'office-330106.html'}" in result.output
    bad = CliRunner().invoke(cli, ["report", "--office", "999999", "--out", str(out)], env=env)
    assert bad.exit_code == 2
    assert "--office: 编办代码 999999 不存在" in bad.output


# --- after each nightly run, and the digest's link ---------------------------------------------


def nightly_jobs(sessions: sessionmaker[Session], state: JobState, finished: datetime | None):
    with transaction(sessions) as session:
        for site_id in session.scalars(select(Site.id)):
            session.add(CrawlJob(
                site_id=site_id, kind="nightly", priority=10, state=state, attempts=1,
                enqueued_at=REPORT_NOW - timedelta(hours=3), finished_at=finished,
            ))


def test_reports_follow_each_nightly_run_and_digests_link_to_them(
    sessions, tree, db_url, tmp_path
) -> None:
    config = tree.model_copy(update={
        "database": tree.database.model_copy(update={"url": db_url}),
        "reports": ReportsConfig(dir=tmp_path / "reports", keep=2),
    })
    runtime = Runtime(config)
    watcher = NightlyReports(runtime)
    latest = tmp_path / "reports" / "latest" / "office-330100.html"
    try:
        # While the nightly run is still going there is nothing to report: the watcher looked,
        # saw the run going and started no writer.
        nightly_jobs(sessions, JobState.RUNNING, None)
        with transaction(sessions) as session:
            assert finished_nightly(session) is None
        watcher.tick(REPORT_NOW)
        assert watcher.thread is None
        assert not latest.exists()
        with transaction(sessions) as session:
            session.execute(update(CrawlJob).values(state=JobState.DONE,
                                                    finished_at=REPORT_NOW - timedelta(hours=1)))
        watcher.tick(REPORT_NOW)
        watcher.join(60)
        assert latest.is_file()
        assert (tmp_path / "reports" / "latest").resolve().name == "2026-10-13"
        # The same run is not reported twice, even by a restarted monitor: the run it covers
        # is on record, and a new watcher that reads it starts no writer.
        state = json.loads((tmp_path / "reports" / "state.json").read_text("utf-8"))
        covered = REPORT_NOW - timedelta(hours=1)
        assert datetime.fromisoformat(state["nightly_finished_at"]) == covered
        stamp = latest.stat().st_mtime_ns
        again = NightlyReports(runtime)
        again.tick(REPORT_NOW + timedelta(minutes=5))
        assert again.thread is None
        assert again.last is None and latest.stat().st_mtime_ns == stamp
        # The next nights' reports: the oldest day beyond [reports] keep is removed.
        for day in (1, 2):
            nightly_jobs(sessions, JobState.DONE, REPORT_NOW + timedelta(days=day))
            again.tick(REPORT_NOW + timedelta(days=day, hours=1))
            again.join(60)
        days = sorted(p.name for p in (tmp_path / "reports").iterdir() if p.name[0] == "2")
        assert days == ["2026-10-14", "2026-10-15"]

        with transaction(sessions) as session:
            hz = session.scalars(select(Office).where(Office.code == "330100")).one()
            hz.email = "bb@hz.example.cn"
            [mail] = office_digests(session, day=D3, now=REPORT_NOW, config=config, offices=[hz])
        assert f"详细报告：{latest.resolve().as_uri()}" in mail.body
        served = config.model_copy(update={"reports": config.reports.model_copy(
            update={"base_url": "https://bb.example.cn/badges/"})})
        assert office_report_url(served, "330100") == (
            "https://bb.example.cn/badges/2026-10-15/office-330100.html"
        )
        assert office_report_url(served, "330200") is None  # no sites, no page
    finally:
        runtime.close()


def test_report_and_notice_word_a_reason_alike(sessions, tree, tmp_path) -> None:
    """One vocabulary: the site page's problem and fix read as the unit's notice says them."""
    from monitor.notices import findings, overdue_notice

    result = build(sessions, tree, tmp_path / "out", "330100")
    page = parse_page(result.directory / "site-xn--6rtt7jbwbe2c.xn--zfr164b.html")
    rows = [texts(tr, "td") for tr in page.css("#reasons tbody tr")]
    assert [text for text, _, _ in rows] == ["页面没有加挂网站标识", "页面上的网站标识属于其他网站"]
    with transaction(sessions) as session:
        site = session.scalars(select(Site).where(Site.name == "杭州市数据资源管理局网站")).one()
        found = findings(session, site.last_check_id)
        notice = overdue_notice(site, site.unit, found, days_overdue=1, zone=tree.calendar.zone)
    for text, pages, advice in rows:
        assert f"  · {text}（{pages} 个页面）：请{advice}。" in notice.email_body


def test_footer_numbers_in_their_own_column_and_the_exports(sessions, tree, tmp_path) -> None:
    from store.models import SiteCheck

    with transaction(sessions) as session:
        site = session.query(Site).filter_by(name="杭州法院网").one()
        site.site_code, site.icp = "3301000001", "浙ICP备05018911号"
        check = session.get(SiteCheck, site.last_check_id)
        assert check is not None
        pages = dict(check.reasons["pages"])
        check.reasons = {**check.reasons, "pages": {**pages, "icp_mismatch": 2}}
    result = build(sessions, tree, tmp_path / "out", "330000")
    rows = list(csv.DictReader(
        (result.directory / "office-330000.csv").read_text("utf-8-sig").splitlines()
    ))
    court = next(r for r in rows if r["网站名称"] == "杭州法院网")
    assert court["政府网站标识码（登记）"] == "3301000001"
    assert court["ICP备案编号（登记）"] == "浙ICP备05018911号"
    assert court["公安机关备案编号（登记）"] == ""
    assert court["页脚备案"] == "页面底部的 ICP 备案编号与登记的不一致（2 页）"
    assert {r["页脚备案"] for r in rows if r["网站名称"] != "杭州法院网"} == {"未登记"}
    data = json.loads((result.directory / "office-330000.json").read_text("utf-8"))
    entry = next(s for s in data["sites"] if s["name"] == "杭州法院网")
    assert (entry["site_code"], entry["psb"]) == ("3301000001", None)
    assert entry["footer_reasons"] == {"icp_mismatch": 2}
    tables = [
        text for path in result.directory.rglob("*.html")
        if "<th>页脚备案</th>" in (text := path.read_text("utf-8")) and "杭州法院网" in text
    ]
    assert tables
    assert all("页面底部的 ICP 备案编号与登记的不一致（2 页）" in text for text in tables)


def test_exports_carry_the_rereview_date(sessions, tree, tmp_path) -> None:
    """A re-reviewed site's 复核日期 is in the CSV and the JSON, as on its page."""
    with transaction(sessions) as session:
        site = session.query(Site).filter_by(name="杭州法院网").one()
        site.rereviewed_on = day = D3
    result = build(sessions, tree, tmp_path / "out", "330000")
    rows = {r["网站名称"]: r for r in csv.DictReader(
        (result.directory / "office-330000.csv").read_text("utf-8-sig").splitlines()
    )}
    assert rows["杭州法院网"]["复核日期"] == day.isoformat()
    assert {r["复核日期"] for name, r in rows.items() if name != "杭州法院网"} == {""}
    data = json.loads((result.directory / "office-330000.json").read_text("utf-8"))
    dates = {s["name"]: s["rereviewed_on"] for s in data["sites"]}
    assert dates.pop("杭州法院网") == day.isoformat()
    assert set(dates.values()) == {None}


def test_a_red_page_is_marked_in_the_table_its_page_and_the_exports(
    sessions, tree, tmp_path
) -> None:
    """网络红页 are fixed in 红页管理, not on a server: the report says which sites are ones."""
    from workflow import redpages

    with transaction(sessions) as session:
        site = session.query(Site).filter_by(domain="xn--6rtt7jbwbe2c.xn--zfr164b").one()
        redpages.create(session, site, REPORT_NOW)
        name = site.name
    result = build(sessions, tree, tmp_path / "out", "330000")
    rows = {r["网站名称"]: r for r in csv.DictReader(
        (result.directory / "office-330000.csv").read_text("utf-8-sig").splitlines()
    )}
    assert rows.pop(name)["网络红页"] == "是"
    assert {r["网络红页"] for r in rows.values()} == {""}
    data = json.loads((result.directory / "office-330000.json").read_text("utf-8"))
    marked = {s["name"] for s in data["sites"] if s["red_page"]}
    assert marked == {name}
    cells = {cell.css_first("a").text(): cell.text()
             for path in result.directory.rglob("office-*.html")
             for cell in parse_page(path).css('#site-table td[data-label="网站"]')}
    assert "（网络红页）" in cells.pop(name)
    assert cells and not any("网络红页" in text for text in cells.values())
    # Its problems are fixed in 红页管理; the other sites' pages say nothing of red pages.
    detail = parse_page(result.directory / "site-xn--6rtt7jbwbe2c.xn--zfr164b.html")
    assert texts(detail, "#red-page")[0].startswith("网络红页")
    assert "红页管理" in texts(detail, "#red-page-fix")[0]
    others = [p for p in result.directory.rglob("site-*.html") if "6rtt7jbwbe2c" not in p.name]
    assert others and not any(parse_page(p).css("#red-page, #red-page-fix") for p in others)
