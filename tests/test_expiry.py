"""Domain expiry: the rules on a fixed clock, the unit's reminders 30 and 7 days before and on
the day (exactly once each, through the monitor's daily pass, across a restart and a late pass),
the office digest's section, the report's column and exports, and ``domain_expired`` after a
real crawl whose DNS no longer knows the name. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from badgewatch import localtime
from badgewatch.cli.main import cli
from badgewatch.config import Config, load_config
from badgewatch.runtime import Runtime
from monitor.deadlines import reevaluate_all
from monitor.jobs import daily_pass_at
from store.db import make_engine, session_factory, transaction
from store.models import MonitorState, OutboxMessage, Site, SiteStatus
from tests.factories import (
    CALENDAR,
    HEADER,
    add_check,
    add_office,
    add_site,
    add_unit,
    ascii_name,
    at,
    build,
    certificate,
    identifier,
    loopback_env,
    parse_page,
    texts,
)
from workflow.deadlines import evaluate, expiry_reminder, expiry_status, name_gone

EXPIRES = date(2026, 12, 31)
GONE_DNS = {"outcome": "unresolvable", "reason": "nxdomain"}

# --- the rules, pure ---------------------------------------------------------------------------


@pytest.mark.parametrize(("today", "due"), [
    (EXPIRES - timedelta(days=31), None),
    (EXPIRES - timedelta(days=30), 30),
    (EXPIRES - timedelta(days=8), 30),
    (EXPIRES - timedelta(days=7), 7),
    (EXPIRES - timedelta(days=1), 7),
    (EXPIRES, 0),
    (EXPIRES + timedelta(days=1), None),
])
def test_the_reminder_due_is_the_most_urgent_threshold_reached(
    today: date, due: int | None
) -> None:
    assert expiry_reminder(EXPIRES, today) == due
    assert expiry_reminder(None, today) is None


def test_expiry_status_within_30_days_and_after_the_day() -> None:
    assert expiry_status(EXPIRES, EXPIRES - timedelta(days=31)) is None
    assert expiry_status(EXPIRES, EXPIRES - timedelta(days=30)) == "expiring"
    assert expiry_status(EXPIRES, EXPIRES) == "expiring"  # the last day of the registration
    assert expiry_status(EXPIRES, EXPIRES + timedelta(days=1)) == "expired"
    assert expiry_status(None, EXPIRES) is None


@pytest.mark.parametrize(("status", "expires_on", "today", "gone", "state"), [
    (SiteStatus.UNREACHABLE, EXPIRES, EXPIRES + timedelta(days=1), True,
     MonitorState.DOMAIN_EXPIRED),
    (SiteStatus.UNREACHABLE, EXPIRES, EXPIRES, True, MonitorState.UNREACHABLE),  # not yet
    (SiteStatus.UNREACHABLE, None, EXPIRES, True, MonitorState.UNREACHABLE),  # no date known
    (SiteStatus.UNREACHABLE, EXPIRES, EXPIRES + timedelta(days=1), False,
     MonitorState.UNREACHABLE),  # the name resolves; the server is down
    (SiteStatus.COMPLIANT, EXPIRES, EXPIRES + timedelta(days=1), False, MonitorState.COMPLIANT),
])
def test_domain_expired_only_when_the_name_is_gone_after_the_day(
    status: SiteStatus, expires_on: date | None, today: date, gone: bool, state: MonitorState
) -> None:
    found = evaluate(status, placement_due=None, today=today, ever_compliant=True,
                     calendar=CALENDAR, expires_on=expires_on, gone=gone)
    assert found.state is state


def test_only_a_name_that_does_not_exist_or_has_no_address_is_gone() -> None:
    assert name_gone(GONE_DNS)
    assert name_gone({"outcome": "unresolvable", "reason": "no_a"})
    for reason in ("timeout", "servfail", "refused", "error"):
        assert not name_gone({"outcome": "unresolvable", "reason": reason})
    assert not name_gone({"outcome": "ok", "reason": "ok"})
    assert not name_gone({})


# --- reminders through the monitor's daily pass ------------------------------------------------


def _runtime(db_url: str) -> Runtime:
    return Runtime(load_config(environ={"BADGEWATCH_DATABASE_URL": db_url}))


def _site(sessions: sessionmaker[Session], expires_on: date | None, **site: Any) -> int:
    with transaction(sessions) as session:
        office = add_office(session, email="bb@hz.example.cn")
        unit = add_unit(session, office)
        row = add_site(session, unit, placement_due=None, **site)
        row.expires_on = expires_on
        return row.id


def _reminders(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.key.startswith("domain-expiry:"))
            .order_by(OutboxMessage.id)))


def _pass(runtime: Runtime, day: date) -> None:
    """The daily pass as the scheduler runs it, at 10:00 in Beijing on ``day``."""
    daily_pass_at(runtime, at(day))


def test_reminders_at_30_and_7_days_and_on_the_day_exactly_once_each(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    site_id = _site(sessions, EXPIRES)
    runtime = _runtime(db_url)
    try:
        sent_on: dict[int, date] = {}
        for offset in range(40, -4, -1):  # every day from 40 days before to 3 days after
            day = EXPIRES - timedelta(days=offset)
            before = len(_reminders(sessions))
            _pass(runtime, day)
            _pass(runtime, day)  # a second pass the same day (a restarted monitor)
            runtime.close()
            runtime = _runtime(db_url)  # the monitor restarted
            for message in _reminders(sessions)[before:]:
                sent_on.setdefault(int(message.key.split(":")[3]), day)
        messages = _reminders(sessions)
    finally:
        runtime.close()
    assert sent_on == {30: EXPIRES - timedelta(days=30), 7: EXPIRES - timedelta(days=7),
                       0: EXPIRES}
    assert [(m.key, m.channel, m.recipient) for m in messages] == [
        (f"domain-expiry:{site_id}:2026-12-31:{days}:{channel}:{user}", channel, recipient)
        for days in (30, 7, 0)
        for channel, recipient, user in (("email", "wang@hz.example.cn", _user(messages)),
                                         ("sms", "13905710001", _user(messages)))
    ]
    email30, sms30, email7, _, email0, sms0 = messages
    assert email30.subject == (
        "【网站标识】提醒：杭州市数据资源管理局网站（杭州数据.政务）域名将于2026年12月31日到期")
    assert "域名到期日期为 2026年12月31日（还剩 30 天）" in email30.body
    assert "域名即将到期请及时续费确保挂标成功" in email30.body
    assert "还剩 30 天" in (sms30.body or "") and "域名即将到期请及时续费确保挂标成功" in sms30.body
    assert "还剩 7 天" in email7.body
    assert email0.subject is not None and "今天（2026年12月31日）到期" in email0.subject
    assert "今天到期" in sms0.body


def _user(messages: list[OutboxMessage]) -> str:
    return messages[0].key.rsplit(":", 1)[1]


def test_a_late_pass_sends_only_the_most_urgent_reminder_and_a_new_date_is_reminded_again(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    site_id = _site(sessions, EXPIRES)
    runtime = _runtime(db_url)
    try:
        _pass(runtime, EXPIRES - timedelta(days=3))  # down since long before: 30 and 7 due
        keys = [m.key for m in _reminders(sessions)]
        assert [k.split(":")[3] for k in keys] == ["7", "7"]  # e-mail and SMS, no burst
        _pass(runtime, EXPIRES - timedelta(days=2))
        assert len(_reminders(sessions)) == 2
        # The unit renewed: the new date is reminded when its own thresholds come.
        renewed = date(2027, 12, 31)
        with transaction(sessions) as session:
            site = session.get(Site, site_id)
            assert site is not None
            site.expires_on = renewed
        _pass(runtime, EXPIRES)  # the old date's day: nothing, it is no longer the date
        assert len(_reminders(sessions)) == 2
        _pass(runtime, renewed - timedelta(days=30))
        new = _reminders(sessions)[2:]
        assert {m.key.split(":")[2:4] == ["2027-12-31", "30"] for m in new} == {True}
        assert len(new) == 2
    finally:
        runtime.close()


def test_no_reminder_for_an_unmonitored_site_or_one_without_a_date(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    _site(sessions, None)
    with transaction(sessions) as session:
        unit = add_unit(session, add_office(session, "330200"), name="宁波市大数据局")
        site = add_site(session, unit, domain="宁波数据.政务", name="宁波市大数据局网站")
        site.expires_on, site.monitored = EXPIRES, False
    runtime = _runtime(db_url)
    try:
        _pass(runtime, EXPIRES - timedelta(days=7))
    finally:
        runtime.close()
    assert _reminders(sessions) == []


# --- the office digest -------------------------------------------------------------------------


def test_the_digest_lists_the_offices_domains_expiring_or_expired(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    day = date(2026, 12, 11)
    with transaction(sessions) as session:
        hz = add_office(session, "330100", email="bb@hz.example.cn")
        nb = add_office(session, "330200", email="bb@nb.example.cn")
        unit = add_unit(session, hz)
        for domain, name, expires_on in (
            ("杭州数据.政务", "数据网", date(2026, 12, 31)),  # in 20 days
            ("杭州交通.政务", "交通网", date(2026, 12, 1)),  # 10 days ago
            ("杭州水务.政务", "水务网", date(2027, 3, 1)),  # not yet worth a line
            ("杭州文旅.政务", "文旅网", None),
        ):
            add_site(session, unit, domain=domain, name=name).expires_on = expires_on
        add_site(session, add_unit(session, nb, "宁波市大数据局"), domain="宁波数据.政务",
                 name="宁波网").expires_on = date(2027, 6, 1)
    runtime = _runtime(db_url)
    try:
        _pass(runtime, day)
    finally:
        runtime.close()
    with sessions() as session:
        digests = {m.recipient: m.body for m in session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.key.startswith("office-digest:")))}
    body = digests["bb@hz.example.cn"]
    section = body[body.index("四、域名到期"):body.index("详细报告")]
    lines = [line.strip() for line in section.splitlines() if line.strip()]
    assert lines == [
        "四、域名到期（2 个网站，其中已过期 1 个）",
        "1. 杭州市数据资源管理局“交通网”（杭州交通.政务）：域名已过期，到期日期 2026年12月1日"
        "（已过期 10 天）",
        "2. 杭州市数据资源管理局“数据网”（杭州数据.政务）：域名即将到期，到期日期 2026年12月31日"
        "（还剩 20 天）",
        "请督促开办单位：域名即将到期请及时续费确保挂标成功。",
    ]
    assert "四、域名到期（0 个网站，其中已过期 0 个）" in digests["bb@nb.example.cn"]
    assert "没有 30 天内到期或已过期的域名。" in digests["bb@nb.example.cn"]


# --- the office report -------------------------------------------------------------------------


def test_the_report_shows_expiring_and_expired_in_its_column_and_exports(
    sessions, tree, tmp_path
) -> None:
    # The report is built on 2026-10-13 (tests/factories.py REPORT_NOW).
    with transaction(sessions) as session:
        for name, expires_on in (("杭州法院网", date(2026, 11, 2)),
                                 ("西湖区人民政府网站", date(2026, 10, 12)),
                                 ("浙江省人民政府门户网站", date(2027, 10, 1))):
            site = session.scalar(sa.select(Site).where(Site.name == name))
            assert site is not None
            site.expires_on = expires_on
    result = build(sessions, tree, tmp_path / "out", "330000")
    rows = {r["网站名称"]: r for r in csv.DictReader(
        (result.directory / "office-330000.csv").read_text("utf-8-sig").splitlines())}
    assert (rows["杭州法院网"]["域名到期日期"], rows["杭州法院网"]["域名到期情况"]) == (
        "2026-11-02", "域名即将到期")
    assert rows["西湖区人民政府网站"]["域名到期情况"] == "域名已过期"
    assert rows["浙江省人民政府门户网站"]["域名到期情况"] == ""
    assert rows["西湖区档案馆网站"]["域名到期日期"] == ""
    data = json.loads((result.directory / "office-330000.json").read_text("utf-8"))
    by_name = {s["name"]: s for s in data["sites"]}
    assert (by_name["杭州法院网"]["expires_on"], by_name["杭州法院网"]["expiry"]) == (
        "2026-11-02", "expiring")
    assert by_name["西湖区人民政府网站"]["expiry"] == "expired"
    assert by_name["浙江省人民政府门户网站"]["expiry"] is None
    cells = {}
    for path in result.directory.rglob("office-*.html"):  # each office's page lists its own
        page = parse_page(path)
        assert "域名到期" in texts(page, "#site-table th")
        cells.update({
            texts(row, "td[data-label=网站] a")[0]: texts(row, "td[data-label=域名到期]")[0]
            for row in page.css("#site-table tbody tr")
        })
    assert cells["杭州法院网"] == "域名即将到期（2026年11月2日）"
    assert cells["西湖区人民政府网站"] == "域名已过期（2026年10月12日）"
    assert cells["浙江省人民政府门户网站"] == "—"


# --- domain_expired after a real crawl ---------------------------------------------------------


def _cli(env: dict[str, str], *args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_a_name_gone_after_its_expiry_date_is_domain_expired_before_it_unreachable(
    tmp_path: Path, db_url: str, dns_config, dns_server
) -> None:
    """Two imported sites the DNS no longer knows (NXDOMAIN), one past its expiry date; a third
    whose name resolves but where nothing listens, past its date too."""
    env = loopback_env(db_url, dns_config, tmp_path / "var", CRAWL_DOWNLOAD_TIMEOUT="2",
                       CRAWL_RETRIES="0", RENDER_ENABLED="false")
    today = localtime.today(datetime.now(UTC), Config().calendar.zone)
    dns_server.set_records("宕机.政务", a=["127.0.0.1"])  # resolves; nothing on :80
    sites = {
        "过期.政务": today - timedelta(days=1),
        "未到期.政务": today + timedelta(days=10),
        "宕机.政务": today - timedelta(days=1),
    }
    _cli(env, "office", "add", "330000", "浙江省委编办", "--level", "province")
    lines = [HEADER + ",expires_on"] + [
        f"单位{n},330000,网站{n},{name},,127.0.0.1,,{identifier(n)},{certificate(n)},"
        f"{date(2026, 10, 9)},{expires_on}"
        for n, (name, expires_on) in enumerate(sites.items(), 1)
    ]
    path = tmp_path / "sites.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _cli(env, "sites", "import", str(path))
    crawl = json.loads(_cli(env, "crawl", "--json", *[f"--site={d}" for d in sites]).output)
    assert crawl["run"]["state"] == "finished"
    status = {s["domain"]: s["state"]
              for s in json.loads(_cli(env, "status", "--json").output)["sites"]}
    assert status == {
        ascii_name("过期.政务"): "domain_expired",
        ascii_name("未到期.政务"): "unreachable",
        ascii_name("宕机.政务"): "unreachable",  # the name resolves: the server is down
    }
    # The daily pass, no crawl needed: the day after the second one's date it is expired too,
    # on the day itself it is not yet.
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    try:
        later = sites["未到期.政务"]
        for day, state in ((later, MonitorState.UNREACHABLE),
                           (later + timedelta(days=1), MonitorState.DOMAIN_EXPIRED)):
            with transaction(sessions) as session:
                reevaluate_all(session, now=at(day), calendar=CALENDAR, today=day)
                site = session.scalar(
                    sa.select(Site).where(Site.domain == ascii_name("未到期.政务")))
                assert site is not None and site.state is state, day
    finally:
        engine.dispose()
    out = tmp_path / "report"
    _cli(env, "report", "--office", "330000", "--out", str(out))
    page = parse_page(out / "office-330000.html")
    row = next(r for r in page.css("#site-table tbody tr")
               if r.attributes.get("data-state") == "domain_expired")
    assert texts(row, "td[data-label=状态] .badge") == ["域名已过期"]
    assert texts(row, "td[data-label=主要问题]") == ["域名已过期，无法解析"]


def test_a_stored_check_with_a_gone_name_settles_as_domain_expired(
    sessions: sessionmaker[Session],
) -> None:
    """The rule applied by the monitor to a check as the crawl stores it."""
    day = date(2027, 1, 4)
    with transaction(sessions) as session:
        unit = add_unit(session, add_office(session))
        site = add_site(session, unit)
        site.expires_on = EXPIRES
        check = add_check(session, site, SiteStatus.UNREACHABLE, now=at(day))
        check.dns = {**GONE_DNS, "ipv4": [], "ipv6": [], "message": "域名不存在"}
        changes = reevaluate_all(session, now=at(day), calendar=CALENDAR, today=day)
        assert [c.to_state for c in changes] == [MonitorState.DOMAIN_EXPIRED]


# --- the migration -----------------------------------------------------------------------------

REVISION = "a9d4e6b2c710"


def test_the_migration_adds_and_removes_expires_on_keeping_the_sites(empty_db_url: str) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    from store.migrate import alembic_config, upgrade

    config = alembic_config(empty_db_url)
    script = ScriptDirectory.from_config(config).get_revision(REVISION)
    assert script is not None
    before = script.down_revision
    assert isinstance(before, str)
    upgrade(empty_db_url, before)
    engine = make_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO offices (id, code, name, level) VALUES (1, '330100', '杭州市委编办',"
            " 'prefecture')"))
        conn.execute(sa.text("INSERT INTO units (id, name, office_id) VALUES (1, '单位', 1)"))
        conn.execute(sa.text(
            "INSERT INTO sites (id, unit_id, office_id, name, domain, ipv4, identifier, source,"
            " monitored, created_at, status, state, ever_compliant) VALUES (1, 1, 1, '网站',"
            " 'a.xn--zfr164b', '10.0.0.1', 'CA1', 'imported', true, :now, 'unchecked',"
            " 'unchecked', false)"), {"now": datetime(2026, 12, 1, tzinfo=UTC)})
    engine.dispose()

    def columns() -> set[str]:
        engine = make_engine(empty_db_url)
        try:
            return {c["name"] for c in sa.inspect(engine).get_columns("sites")}
        finally:
            engine.dispose()

    assert "expires_on" not in columns()
    upgrade(empty_db_url, REVISION)
    assert "expires_on" in columns()
    engine = make_engine(empty_db_url)
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT expires_on FROM sites")).all() == [(None,)]
        conn.execute(sa.text("UPDATE sites SET expires_on = :day"), {"day": EXPIRES})
    engine.dispose()
    command.downgrade(config, before)
    assert "expires_on" not in columns()
    engine = make_engine(empty_db_url)
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT name FROM sites")).all() == [("网站",)]
    engine.dispose()


def test_the_site_page_says_the_expiry_date(sessions, tree, tmp_path) -> None:
    with transaction(sessions) as session:
        site = session.scalar(sa.select(Site).where(Site.name == "杭州法院网"))
        assert site is not None
        site.expires_on = date(2026, 11, 2)
    result = build(sessions, tree, tmp_path / "out", "330100")
    data = json.loads((result.directory / "office-330100.json").read_text("utf-8"))
    court = next(s for s in data["sites"] if s["name"] == "杭州法院网")
    page = parse_page(result.directory / court["page"])
    assert texts(page, "#expiry") == ["2026年11月2日（域名即将到期）"]
    other = next(s for s in data["sites"] if s["name"] != "杭州法院网")
    assert texts(parse_page(result.directory / other["page"]), "#expiry") == ["未填写"]
