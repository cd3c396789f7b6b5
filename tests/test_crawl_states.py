"""Every complete check settles the site's state, whichever command ran it; `status --json` and
the report read the same state and the same deadline figures. Real sites on loopback, the real
crawl process, SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from badgewatch import localtime
from badgewatch.cli.main import cli
from badgewatch.config import Config
from store.db import make_engine, session_factory, transaction
from store.models import Site, SiteStateChange
from testbed.siteserver import government_page
from tests.factories import (
    HEADER,
    ascii_name,
    badge,
    certificate,
    identifier,
    loopback_env,
    pages,
)
from workflow.workdays import WorkCalendar

ZONE = Config().calendar.zone
OLD_NOTICE = date(2026, 10, 9)  # placement due 2026-10-16: long past


@pytest.fixture
def env(tmp_path: Path, db_url: str, dns_config) -> dict[str, str]:
    return loopback_env(db_url, dns_config, tmp_path / "var", CRAWL_DOWNLOAD_TIMEOUT="2",
                        CRAWL_RETRIES="0", RENDER_ENABLED="false")


def run(env: dict[str, str], *args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def register(env: dict[str, str], tmp_path: Path, rows: list[tuple[int, str, str, date]]) -> None:
    """Import sites: (n, domain, ipv4, notice date)."""
    run(env, "office", "add", "330000", "浙江省委编办", "--level", "province")
    lines = [HEADER] + [
        f"单位{n},330000,网站{n},{domain},,{ipv4},,{identifier(n)},{certificate(n)},{notified}"
        for n, domain, ipv4, notified in rows
    ]
    path = tmp_path / "sites.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run(env, "sites", "import", str(path))


def figures(site: dict[str, Any]) -> tuple[Any, ...]:
    return (
        site["state"],
        site["placement_due"],
        site["working_days_left"],
        site["working_days_overdue"],
    )


def test_a_cli_crawl_settles_states_and_status_agrees_with_the_report(
    env, tmp_path, serve_site, dns_server
) -> None:
    today = localtime.today(datetime.now(UTC), ZONE)
    calendar = WorkCalendar()
    good = serve_site(pages(2, lambda i: badge(1)), names=["合规.政务"])
    late = serve_site(pages(2, lambda i: ""), names=["逾期.政务"])
    fresh = serve_site(pages(2, lambda i: "" if i == 1 else badge(3)), names=["新发.政务"])
    serve_site(pages(1, lambda i: badge(5)), names=["迁移.政务"])
    dns_server.set_records("无法访问.政务", a=["127.0.0.1"])  # nothing listens on :80 there
    register(
        env,
        tmp_path,
        [
            (1, "合规.政务", good.ip, OLD_NOTICE),
            (2, "逾期.政务", late.ip, OLD_NOTICE),
            (3, "新发.政务", fresh.ip, today),
            (4, "无法访问.政务", "127.0.0.1", OLD_NOTICE),
            (5, "迁移.政务", "127.0.0.254", OLD_NOTICE),  # registered elsewhere than DNS says
            (6, "未查.政务", "127.0.0.1", OLD_NOTICE),  # not in this crawl
        ],
    )
    before = json.loads(run(env, "status", "--json").output)["sites"]
    assert {s["state"] for s in before} == {"unchecked"}
    assert all(s["working_days_left"] is None for s in before)

    domains = ["合规.政务", "逾期.政务", "新发.政务", "无法访问.政务", "迁移.政务"]
    crawl = json.loads(run(env, "crawl", "--json", *[f"--site={d}" for d in domains]).output)
    assert crawl["run"]["state"] == "finished"

    status = {s["domain"]: s for s in json.loads(run(env, "status", "--json").output)["sites"]}
    out = tmp_path / "report"
    run(env, "report", "--office", "330000", "--out", str(out))
    report = json.loads((out / "office-330000.json").read_text("utf-8"))
    reported = {s["domain"]: s for s in report["sites"]}
    after = localtime.today(datetime.now(UTC), ZONE)

    # The states the monitor's rules give, with its deadline figures.
    late_due = calendar.add_workdays(OLD_NOTICE, 5)
    fresh_due = calendar.add_workdays(today, 5)
    expected = {
        "合规.政务": {("compliant", late_due.isoformat(), None, None)},
        "逾期.政务": {
            ("overdue", late_due.isoformat(), None, calendar.workdays_between(late_due, day))
            for day in (today, after)
        },
        "新发.政务": {
            ("pending", fresh_due.isoformat(), calendar.workdays_between(day, fresh_due), None)
            for day in (today, after)
        },
        "无法访问.政务": {("unreachable", late_due.isoformat(), None, None)},
        "迁移.政务": {("dns_mismatch", late_due.isoformat(), None, None)},
        "未查.政务": {("unchecked", late_due.isoformat(), None, None)},
    }
    for name, wanted in expected.items():
        domain = ascii_name(name)
        assert figures(status[domain]) in wanted, name
        assert figures(reported[domain]) == figures(status[domain]), name
    assert "尚未检查" not in {s["state_name"] for d, s in reported.items()
                          if d != ascii_name("未查.政务")}
    # The crawl's own summary carries the same figures.
    summary = {s["domain"]: s for s in crawl["sites"]}
    for name in domains:
        assert figures(summary[ascii_name(name)]) == figures(status[ascii_name(name)])

    # Each change is recorded once, with the check that caused it, as the monitor records it.
    engine = make_engine(env["BADGEWATCH_DATABASE_URL"])
    with transaction(session_factory(engine)) as session:
        changes = session.execute(
            select(Site.domain, SiteStateChange.to_state, SiteStateChange.check_id)
            .join(Site, Site.id == SiteStateChange.site_id)
        ).all()
    engine.dispose()
    assert sorted((d, s.value) for d, s, _ in changes) == sorted(
        (ascii_name(name), next(iter(wanted))[0])
        for name, wanted in expected.items()
        if name != "未查.政务"
    )
    assert all(check_id is not None for _, _, check_id in changes)

    # Crawling again changes nothing that has not changed.
    run(env, "crawl", "--json", "--site=合规.政务")
    with transaction(session_factory(engine)) as session:
        assert len(session.scalars(select(SiteStateChange)).all()) == len(changes)
    engine.dispose()

    # A recheck settles too: the compliant site loses its badge on one page and regresses.
    good.set_route("/p/1.html", government_page("页面1", [], "", size_kb=8))
    [rechecked] = json.loads(run(env, "recheck", "合规.政务", "--json").output)["sites"]
    assert figures(rechecked) == ("regressed", late_due.isoformat(), None, None)
    [again] = json.loads(run(env, "status", "--json", "--site", "合规.政务").output)["sites"]
    assert figures(again) == figures(rechecked)
