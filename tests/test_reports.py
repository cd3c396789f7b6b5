"""Office reports: what an office reader sees in the HTML, the CSV and the JSON.

A province (330000) with a prefecture (330100) and a county (330106) beneath it; sites in each,
checked over three days, built directly with the models (see tests/test_deadlines.py).
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.cli.main import cli
from badgewatch.config import Config, PathsConfig, ReportsConfig
from badgewatch.runtime import Runtime
from monitor.deadlines import apply_check
from monitor.notices import office_digests
from monitor.reporting import NightlyReports
from reports.build import neutralise, write_reports
from reports.paths import office_report_url
from store.db import transaction
from store.models import (
    CrawlJob,
    JobState,
    Office,
    OfficeLevel,
    PageRender,
    PageResult,
    Site,
    SiteStatus,
)
from testbed.pngs import encode_rgb
from tests.test_deadlines import CALENDAR, add_check, add_site, add_unit, at

D1, D2, D3 = date(2026, 10, 8), date(2026, 10, 9), date(2026, 10, 13)
NOW = datetime(2026, 10, 13, 4, tzinfo=UTC)  # 12:00 in Beijing, the day after the deadline
HOSTILE_TITLE = '<script>alert("title")</script>通知公告'
HOSTILE_URL = 'http://xn--6rtt7jbwbe2c.xn--zfr164b/a"><script>alert(1)</script>.html'


def office(session: Session, code: str, name: str, level: OfficeLevel,
           parent: Office | None = None) -> Office:
    row = Office(code=code, name=name, level=level, parent=parent)
    session.add(row)
    session.flush()
    return row


def checked(session: Session, site: Site, day: date, status: SiteStatus,
            failing: list[tuple[str, list[str]]] | None = None, passing: int = 3) -> None:
    check = add_check(session, site, status, now=at(day), failing=failing or [],
                      passing=passing)
    apply_check(session, site, now=at(day, 3), calendar=CALENDAR, today=day)
    site.last_check_id = check.id


@pytest.fixture
def tree(sessions: sessionmaker[Session], tmp_path: Path) -> Config:
    """Five sites over three offices; returns a config whose data directory holds evidence."""
    evidence = tmp_path / "data" / "evidence" / "run-1" / "site-1"
    evidence.mkdir(parents=True)
    (evidence / "000-desktop.png").write_bytes(encode_rgb(40, 20, bytes([200, 30, 30]) * 800))
    with transaction(sessions) as session:
        zj = office(session, "330000", "浙江省委编办", OfficeLevel.PROVINCE)
        hz = office(session, "330100", "杭州市委编办", OfficeLevel.PREFECTURE, zj)
        xh = office(session, "330106", "西湖区委编办", OfficeLevel.COUNTY, hz)
        office(session, "330200", "宁波市委编办", OfficeLevel.PREFECTURE, zj)  # no sites

        portal = add_site(session, add_unit(session, zj, "浙江省人民政府办公厅"),
                          domain="浙江省人民政府.政务", name="浙江省人民政府门户网站")
        data = add_site(session, add_unit(session, hz, "杭州市数据资源管理局", ()),
                        domain="杭州数据.政务", name="杭州市数据资源管理局网站")
        court = add_site(session, add_unit(session, hz, "杭州市中级人民法院", ()),
                         domain="杭州法院.政务", name="杭州法院网")
        district = add_site(session, add_unit(session, xh, "西湖区人民政府办公室", ()),
                            domain="西湖区人民政府.政务", name="西湖区人民政府网站")
        gone = add_site(session, add_unit(session, xh, "西湖区档案馆", ()),
                        domain="西湖档案.政务", name="西湖区档案馆网站")

        for day in (D1, D2, D3):
            checked(session, portal, day, SiteStatus.COMPLIANT)
            checked(session, court, day, SiteStatus.COMPLIANT)
        home = f"http://{data.domain}/"
        for day in (D1, D2, D3):
            checked(session, data, day, SiteStatus.NON_COMPLIANT, [
                (home, ["badge_missing"]),
                (HOSTILE_URL, ["badge_other_site"]),
            ])
        checked(session, district, D1, SiteStatus.COMPLIANT)
        checked(session, district, D3, SiteStatus.NON_COMPLIANT,
                [(f"http://{district.domain}/news/1.html", ["badge_inactive"])])
        checked(session, gone, D3, SiteStatus.UNREACHABLE, passing=0)
        # The hostile page's title, and the render of the data site's home page.
        check_id = data.last_check_id
        session.execute(
            update(PageResult)
            .where(PageResult.check_id == check_id, PageResult.url == HOSTILE_URL)
            .values(title=HOSTILE_TITLE)
        )
        session.add(PageRender(
            check_id=check_id, url=home, viewport="desktop", verdict="non_compliant",
            reasons=["badge_not_rendered"], message="标识没有显示",
            screenshot="evidence/run-1/site-1/000-desktop.png", measurement=None,
            rendered_at=at(D3),
        ))
    return Config(paths=PathsConfig(data_dir=tmp_path / "data"))


def build(sessions: sessionmaker[Session], config: Config, out: Path, code: str | None):
    with transaction(sessions) as session:
        return write_reports(session, out, config=config, calendar=CALENDAR, now=NOW,
                             office_code=code)


def text_of(html: str) -> str:
    """Roughly what a reader sees: tags dropped, entities left as written."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_province_report_rolls_up_and_links_down(sessions, tree, tmp_path) -> None:
    result = build(sessions, tree, tmp_path / "out", "330000")
    assert sorted(result.offices) == ["330000", "330100", "330106"]  # 宁波 has no sites
    assert result.sites == 5
    page = result.offices["330000"].read_text("utf-8")
    # The whole province: 2 compliant, 1 overdue (the data site), 1 regressed, 1 unreachable.
    assert 'id="count-total"><div class="n">5<' in page
    assert 'id="count-compliant"><div class="n">2<' in page
    assert 'id="count-overdue"><div class="n">1<' in page
    assert 'id="count-regressed"><div class="n">1<' in page
    assert 'id="count-unreachable"><div class="n">1<' in page
    assert 'id="count-rate"><div class="n">50.0%<' in page  # 2 of 4 with a verdict
    assert '<a href="office-330100.html">杭州市委编办</a>' in page
    assert "宁波市委编办" not in page
    # The trend: 8 Oct 3 of 4 compliant, 9 Oct 2 of 3, 13 Oct 2 of 4 (unreachable not counted).
    assert "<svg" in page and "2026-10-08：合规 3 / 4，75.0%" in page
    assert "2026-10-13：合规 2 / 4，50.0%" in page
    # The prefecture's page links back up and down.
    hz = result.offices["330100"].read_text("utf-8")
    assert 'href="office-330000.html"' in hz and 'href="office-330106.html"' in hz
    # Every link in the set points at a file in the set.
    for path in result.directory.glob("*.html"):
        for href in re.findall(r'href="([^"#:]+)"', path.read_text("utf-8")):
            assert (result.directory / href).exists(), (path.name, href)


def test_site_table_says_state_deadline_and_problem(sessions, tree, tmp_path) -> None:
    result = build(sessions, tree, tmp_path / "out", "330100")
    page = result.offices["330100"].read_text("utf-8")
    rows = re.findall(r'<tr data-state="(\w+)"', page)
    assert rows == ["overdue", "compliant"]  # its own two sites, the one needing action first
    seen = text_of(page)
    assert "逾期未整改" in seen and "逾期 1 个工作日" in seen  # 12 Oct deadline, 13 Oct today
    assert "页面没有加挂网站标识等 2 类问题" in seen
    assert "2026年10月12日" in seen


def test_site_page_explains_each_problem_with_evidence_and_history(
    sessions, tree, tmp_path
) -> None:
    result = build(sessions, tree, tmp_path / "out", "330100")
    page = (result.directory / "site-xn--6rtt7jbwbe2c.xn--zfr164b.html").read_text("utf-8")
    seen = text_of(page)
    assert "页面没有加挂网站标识" in seen
    assert "把收到的网站标识代码原样粘贴到页面底部、&lt;/body&gt; 之前" in seen
    assert "页面上的网站标识属于其他网站" in seen
    assert "在浏览器中打开页面后，网站标识没有显示出来（浏览器检查）" in seen
    assert '<img src="data:image/png;base64,' in page
    assert "http://杭州数据.政务/" in seen  # the host as people read it
    assert "正常" in text_of(page.split('id="dns"')[1][:200])
    assert "尚未检查 → 未合规（整改期限内）" in seen and "未合规（整改期限内） → 逾期未整改" in seen


def test_hostile_titles_and_urls_are_text(sessions, tree, tmp_path) -> None:
    result = build(sessions, tree, tmp_path / "out", "330100")
    page = (result.directory / "site-xn--6rtt7jbwbe2c.xn--zfr164b.html").read_text("utf-8")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;通知公告" in page
    assert "a&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;.html" in page


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
                enqueued_at=NOW - timedelta(hours=3), finished_at=finished,
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
        # While the nightly run is still going there is nothing to report.
        nightly_jobs(sessions, JobState.RUNNING, None)
        watcher.tick(NOW)
        watcher.join(60)
        assert not latest.exists()
        with transaction(sessions) as session:
            session.execute(update(CrawlJob).values(state=JobState.DONE,
                                                    finished_at=NOW - timedelta(hours=1)))
        watcher.tick(NOW)
        watcher.join(60)
        assert latest.is_file()
        assert (tmp_path / "reports" / "latest").resolve().name == "2026-10-13"
        # The same run is not reported twice, even by a restarted monitor.
        stamp = latest.stat().st_mtime_ns
        again = NightlyReports(runtime)
        again.tick(NOW + timedelta(minutes=5))
        again.join(60)
        assert again.last is None and latest.stat().st_mtime_ns == stamp
        # The next nights' reports: the oldest day beyond [reports] keep is removed.
        for day in (1, 2):
            nightly_jobs(sessions, JobState.DONE, NOW + timedelta(days=day))
            again.tick(NOW + timedelta(days=day, hours=1))
            again.join(60)
        days = sorted(p.name for p in (tmp_path / "reports").iterdir() if p.name[0] == "2")
        assert days == ["2026-10-14", "2026-10-15"]

        with transaction(sessions) as session:
            hz = session.scalars(select(Office).where(Office.code == "330100")).one()
            hz.email = "bb@hz.example.cn"
            [mail] = office_digests(session, day=D3, now=NOW, config=config, offices=[hz])
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
    from html.parser import HTMLParser

    from monitor.notices import findings, overdue_notice

    class Reasons(HTMLParser):
        """The cells of the rows in ``<section id="reasons">``."""

        def __init__(self) -> None:
            super().__init__()
            self.inside, self.rows, self.cell = False, [], None

        def handle_starttag(self, tag, attrs) -> None:
            if tag == "section":
                self.inside = ("id", "reasons") in attrs
            elif self.inside and tag == "tr":
                self.rows.append([])
            elif self.inside and tag == "td":
                self.cell = ""

        def handle_endtag(self, tag) -> None:
            if tag == "td" and self.cell is not None:
                self.rows[-1].append(self.cell)
                self.cell = None

        def handle_data(self, data) -> None:
            if self.cell is not None:
                self.cell += data

    result = build(sessions, tree, tmp_path / "out", "330100")
    parser = Reasons()
    parser.feed((result.directory / "site-xn--6rtt7jbwbe2c.xn--zfr164b.html").read_text("utf-8"))
    rows = [row for row in parser.rows if row]
    assert [text for text, _, _ in rows] == ["页面没有加挂网站标识", "页面上的网站标识属于其他网站"]
    with transaction(sessions) as session:
        site = session.scalars(select(Site).where(Site.name == "杭州市数据资源管理局网站")).one()
        found = findings(session, site.last_check_id)
        notice = overdue_notice(site, site.unit, found, days_overdue=1, zone=tree.calendar.zone)
    for text, pages, advice in rows:
        assert f"  · {text}（{pages} 个页面）：请{advice}。" in notice.email_body
