"""The 申请序号: given at the first submit, kept on resubmit, unique, shown in the CLI, the printed
documents, the issuance notice and the web lists, accepted by the CLI, filled in by the migration
for applications submitted before it; printed documents are dated in Beijing."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import Config
from store.db import make_engine, session_factory, transaction
from store.migrate import upgrade
from store.models import Application, AppState, OutboxMessage
from tests.factories import (
    add_offices,
    form_data,
    statements_in_flight,
    wait_for,
    waiting_in_database,
)
from tests.test_cli_workflow import env, new_app, run, setup_offices  # noqa: F401
from tests.webapp import World, log_in, populate, serving
from workflow.documents import render_form, render_letter
from workflow.errors import NotFound
from workflow.form import parse_form
from workflow.serials import application_id
from workflow.service import Actor, Workflow, changing, describe
from workflow.workdays import WorkCalendar

UNIT = Actor.parse("unit:杭州市数据资源管理局")
OFFICE = Actor.parse("office:330100")
CONAC = Actor.parse("conac")
T0 = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
BEIJING = ZoneInfo("Asia/Shanghai")
# CA, 杭州's region digits (330100 -> 330010000), an eight-digit sequence, 0000.
SERIAL = re.compile(r"^CA330010000\d{8}0000$")


@pytest.fixture
def wf(sessions: sessionmaker[Session]) -> Workflow:
    with transaction(sessions) as session:
        add_offices(session)
    return Workflow(Config(), WorkCalendar())


def _new(sessions: sessionmaker[Session], wf: Workflow, domain: str = "杭州数据.政务") -> int:
    form = parse_form(form_data(domain=domain), resolver=None)
    with transaction(sessions) as session:
        return wf.create(session, form, UNIT, T0).id


def _do(sessions, app_id, action, *args, at=T0, **kwargs):
    with changing(sessions, app_id) as session:
        return action(session, app_id, *args, at, **kwargs)


def _serial(sessions: sessionmaker[Session], app_id: int) -> str | None:
    with transaction(sessions) as session:
        application = session.get(Application, app_id)
        assert application is not None
        return application.serial


def test_serial_given_at_first_submit_and_kept_on_resubmit(sessions, wf: Workflow) -> None:
    app_id = _new(sessions, wf)
    assert _serial(sessions, app_id) is None  # a draft has none
    _do(sessions, app_id, wf.submit, UNIT)
    serial = _serial(sessions, app_id)
    assert serial is not None and SERIAL.match(serial), serial
    assert serial.endswith("000000010000")  # the first of the deployment
    _do(sessions, app_id, wf.review, OFFICE, approve=False, reason="域名不符")
    _do(sessions, app_id, wf.submit, UNIT, at=T0 + timedelta(days=1))
    assert _serial(sessions, app_id) == serial
    with transaction(sessions) as session:
        assert application_id(session, serial) == app_id
        assert application_id(session, serial.lower()) == app_id
        assert application_id(session, str(app_id)) == app_id
        with pytest.raises(NotFound):
            application_id(session, "CA330010000999999990000")
        assert describe(wf.get(session, app_id), zone=BEIJING)["serial"] == serial


def test_serials_are_unique_and_in_submit_order(sessions, wf: Workflow) -> None:
    ids = [_new(sessions, wf, f"杭州数据{n}.政务") for n in range(3)]
    for app_id in reversed(ids):
        _do(sessions, app_id, wf.submit, UNIT)
    serials = [_serial(sessions, app_id) for app_id in reversed(ids)]
    assert len(set(serials)) == 3
    assert [s[-12:-4] for s in serials if s] == ["00000001", "00000002", "00000003"]


def test_documents_and_notice_show_the_serial(sessions, wf: Workflow) -> None:
    app_id = _new(sessions, wf)
    _do(sessions, app_id, wf.submit, UNIT)
    _do(sessions, app_id, wf.review, OFFICE, approve=True)
    _do(sessions, app_id, wf.review, CONAC, approve=True)
    serial = _serial(sessions, app_id)
    with transaction(sessions) as session:
        application = wf.get(session, app_id)
        for html in (render_letter(application, zone=BEIJING),
                     render_form(application, zone=BEIJING)):
            assert f"申请序号：{serial}" in LexborHTMLParser(html).text()
    _do(sessions, app_id, wf.materials, OFFICE, confirm=True)
    with transaction(sessions) as session:
        bodies = [m.body for m in session.scalars(select(OutboxMessage))]
    assert len(bodies) == 2 and all(serial in body for body in bodies)


def test_letter_approved_at_2330_utc_is_dated_the_next_day_in_beijing(
    sessions, wf: Workflow
) -> None:
    approved_at = datetime(2026, 10, 13, 23, 30, tzinfo=UTC)  # 07:30 on 14 October in Beijing
    app_id = _new(sessions, wf)
    _do(sessions, app_id, wf.submit, UNIT, at=approved_at - timedelta(days=2))
    _do(sessions, app_id, wf.review, OFFICE, approve=True, at=approved_at - timedelta(days=1))
    _do(sessions, app_id, wf.review, CONAC, approve=True, at=approved_at)
    with transaction(sessions) as session:
        letter = render_letter(wf.get(session, app_id), zone=BEIJING)
    sign = " ".join(LexborHTMLParser(letter).css_first(".sign").text().split())
    assert "2026年10月14日" in sign


# -- the CLI ------------------------------------------------------------------------------------


def test_cli_lists_shows_and_accepts_the_serial(env, tmp_path: Path) -> None:  # noqa: F811
    setup_offices(env)
    app_id = new_app(env, tmp_path)
    listed = json.loads(run(env, "app", "list", "--json").output)["applications"]
    assert listed[0]["serial"] is None
    submitted = json.loads(run(env, "app", "submit", str(app_id), "--json").output)
    serial = submitted["serial"]
    assert SERIAL.match(serial), serial
    listed = json.loads(run(env, "app", "list", "--json").output)["applications"]
    assert [(row["id"], row["serial"]) for row in listed] == [(app_id, serial)]
    assert serial in run(env, "app", "list").output
    # Every command taking APP_ID takes the serial too.
    shown = json.loads(run(env, "app", "show", serial, "--json").output)
    assert (shown["id"], shown["serial"]) == (app_id, serial)
    assert f"申请序号 {serial}" in run(env, "app", "show", serial).output
    run(env, "app", "review", serial, "--as", "office:330100", "--approve")
    run(env, "app", "review", serial, "--as", "conac", "--approve")
    letter = tmp_path / "letter.html"
    run(env, "app", "print", serial, "--letter", "--out", str(letter))
    assert f"申请序号：{serial}" in letter.read_text("utf-8")
    missing = run(env, "app", "show", "CA330010000999999990000", code=2)
    assert "申请序号 CA330010000999999990000 不存在" in missing.output


# -- the web ------------------------------------------------------------------------------------


def test_web_lists_and_page_show_the_serial(sqlite_url: str) -> None:
    world: World = populate(sqlite_url)
    serials = {key: f"CA330010000{n:08d}0000" for n, key in enumerate(world.applications, 1)}
    engine = make_engine(sqlite_url)
    with transaction(session_factory(engine)) as session:
        for key, app_id in world.applications.items():
            application = session.get(Application, app_id)
            assert application is not None
            application.serial = serials[key]
    engine.dispose()
    with serving(sqlite_url) as app:
        def cells(login: str, url: str) -> str:
            client = app.test_client()
            log_in(client, login)
            response = client.get(url, follow_redirects=True)
            assert response.status_code == 200, url
            tree = LexborHTMLParser(response.get_data(as_text=True))
            return " ".join(td.text(strip=True) for td in tree.css("td[data-label=申请序号], dd"))

        assert serials["hz"] in cells("hz-unit", "/")  # 我的申请
        assert serials["hz"] in cells("hz-office", "/office/")  # 待审核
        assert serials["hz-conac"] in cells("conac", "/conac/")  # 待复审
        assert serials["hz"] in cells("hz-office", f"/applications/{world.applications['hz']}")


# -- the migration ------------------------------------------------------------------------------

PREVIOUS_HEAD = "d7b3e9a1c246"


def test_migration_gives_submitted_applications_a_serial(empty_db_url: str) -> None:
    upgrade(empty_db_url, PREVIOUS_HEAD)
    engine = make_engine(empty_db_url)
    now = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO offices (id, code, name, level) VALUES"
            " (1, '100000', '中央编办', 'central'), (2, '330100', '杭州市委编办', 'prefecture')"
        ))
        conn.execute(sa.text(
            "INSERT INTO units (id, name, office_id) VALUES (1, '杭州市数据资源管理局', 2)"
        ))
        for app_id, office_id, submitted in ((1, 2, date(2026, 10, 8)), (2, 2, None),
                                             (3, 1, date(2026, 10, 9))):
            conn.execute(
                sa.text(
                    "INSERT INTO applications (id, unit_id, office_id, kind, state, site_name,"
                    " domain, form, created_at, updated_at, submitted_on, version) VALUES"
                    " (:id, 1, :office, 'new', :state, '网站', :domain, '{}', :now, :now,"
                    " :submitted, 1)"
                ),
                {"id": app_id, "office": office_id, "domain": f"site{app_id}.xn--zfr164b",
                 "state": "submitted" if submitted else "draft", "now": now,
                 "submitted": submitted},
            )
    engine.dispose()
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        serials = dict(session.execute(select(Application.id, Application.serial)).all())
    assert serials == {
        1: "CA330010000000000010000",
        2: None,
        3: "CA330000000000000020000",
    }
    # The next submit continues the sequence.
    wf = Workflow(Config(), WorkCalendar())
    with changing(sessions, 2) as session:
        wf.submit(session, 2, Actor.parse("unit:杭州市数据资源管理局"), now)
    with transaction(sessions) as session:
        application = session.get(Application, 2)
        assert application is not None
        assert application.serial == "CA330010000000000030000"
        assert application.state is AppState.SUBMITTED
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_concurrent_submits_on_postgres_get_distinct_serials(sessions, wf: Workflow) -> None:
    first, second = _new(sessions, wf, "杭州数据1.政务"), _new(sessions, wf, "杭州数据2.政务")
    engine = sessions.kw["bind"]
    results: dict[str, BaseException | None] = {}

    def submit_second() -> None:
        try:
            _do(sessions, second, wf.submit, UNIT)
            results["second"] = None
        except BaseException as exc:  # reported below, in the test's thread
            results["second"] = exc

    with statements_in_flight(engine) as flying, changing(sessions, first) as session:
        wf.submit(session, first, UNIT, T0)  # holds the counter's row until it commits
        other = threading.Thread(target=submit_second)
        other.start()
        statement = wait_for(lambda: waiting_in_database(flying, other), 10, "the second submit")
        assert "counters" in statement
    other.join(10)
    assert results == {"second": None}
    serials = [_serial(sessions, app_id) for app_id in (first, second)]
    assert [s[-12:-4] for s in serials if s] == ["00000001", "00000002"]
