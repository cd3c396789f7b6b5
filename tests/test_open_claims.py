"""One open application per domain, held by the database: two submits for the same domain at
the same moment (two units, or one unit's two tabs) both pass the claim check, and the second to
write is refused in the check's own words, nothing of it saved; the migration that adds the
index returns the surplus open applications of an older database to 草稿, saying why."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from badgewatch.config import Config
from badgewatch.domains import gov_domain
from store.db import make_engine, session_factory, transaction
from store.migrate import alembic_config, upgrade
from store.models import Application, AppState, Transition
from tests.factories import form_data, statements_in_flight, wait_for, waiting_in_database
from workflow.form import FormInvalid, parse_form
from workflow.machine import DUPLICATE_RETURNED
from workflow.service import Actor, Workflow, changing
from workflow.workdays import WorkCalendar

UNIT = Actor.parse("unit:杭州市数据资源管理局")
OTHER = Actor.parse("unit:杭州市卫生健康委员会")
T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
DOMAIN = "杭州数据.政务"


def _draft(sessions, wf: Workflow, actor: Actor, **site: Any) -> int:
    data = form_data(**site)
    data["unit"]["name"] = actor.name
    with transaction(sessions) as session:
        return wf.create(session, parse_form(data, resolver=None), actor, T0).id


def _state(sessions, app_id: int) -> tuple[AppState, str | None, int]:
    with transaction(sessions) as session:
        application = session.get(Application, app_id)
        assert application is not None
        return application.state, application.serial, len(application.transitions)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("who", ["another unit", "the same unit"])
def test_two_submits_at_the_same_moment_one_is_refused_in_words(sessions, wf, who) -> None:
    second_actor = OTHER if who == "another unit" else UNIT
    first = _draft(sessions, wf, UNIT)
    second = _draft(sessions, wf, second_actor, name="第二个标签页的申请")
    engine = sessions.kw["bind"]
    outcome: dict[str, BaseException | None] = {}

    def submit_second() -> None:
        try:
            with changing(sessions, second) as session:
                wf.submit(session, second, second_actor, T0)
            outcome["second"] = None
        except BaseException as exc:  # looked at below, in the test's thread
            outcome["second"] = exc

    with statements_in_flight(engine) as flying, changing(sessions, first) as session:
        wf.submit(session, first, UNIT, T0)  # written, not yet committed: invisible to the other
        other = threading.Thread(target=submit_second)
        other.start()
        # The other passed the claim check (it cannot see this one) and its write now waits on
        # the index entry this transaction holds.
        statement = wait_for(lambda: waiting_in_database(flying, other), 10, "the second submit")
        assert "UPDATE applications" in statement
    other.join(10)
    refused = outcome["second"]
    assert isinstance(refused, FormInvalid), refused
    _, serial, _ = _state(sessions, first)
    expected = (
        "域名 杭州数据.政务 正由其他单位申请办理中，不能为本单位申请" if who == "another unit"
        else f"域名 杭州数据.政务 已有办理中的申请（申请序号 {serial}），不能重复申请；"
        "请修改该申请后重新提交"
    )
    assert {e.field: e.message for e in refused.errors} == {"site.domain": expected}
    # Nothing of the second submit was saved: still a draft, no serial, no step recorded.
    assert _state(sessions, second) == (AppState.DRAFT, None, 0)
    assert _state(sessions, first)[0] is AppState.SUBMITTED
    # And the refusal is the one the claim check gives when it can see the first.
    with pytest.raises(FormInvalid) as again, changing(sessions, second) as session:
        wf.submit(session, second, second_actor, T0)
    assert {e.field: e.message for e in again.value.errors} == {"site.domain": expected}


def test_the_database_holds_one_open_application_per_domain(sessions, wf) -> None:
    """Whatever writes the rows (the check is not the only guard): a second open application
    for a domain is refused by the database, drafts and issued ones are not counted."""
    first, second, third = (_draft(sessions, wf, UNIT, name=f"网站{n}") for n in range(3))
    with changing(sessions, first) as session:
        wf.submit(session, first, UNIT, T0)
    with pytest.raises(IntegrityError), transaction(sessions) as session:
        session.execute(sa.update(Application).where(Application.id == second)
                        .values(state=AppState.OFFICE_REJECTED, version=Application.version + 1))
    with transaction(sessions) as session:  # an issued one and drafts are not open
        session.execute(sa.update(Application).where(Application.id == second)
                        .values(state=AppState.ISSUED, version=Application.version + 1))
        open_count = session.scalar(
            select(func.count()).select_from(Application)
            .where(Application.domain == gov_domain(DOMAIN),
                   Application.state.not_in([AppState.DRAFT, AppState.ISSUED]))
        )
    assert open_count == 1 and _state(sessions, third)[0] is AppState.DRAFT


def test_a_rejected_application_moved_onto_an_open_domain_is_refused(sessions, wf) -> None:
    """At update too: a rejected application is open, so it may not take a domain another
    open application holds; nothing of the update is saved."""
    first = _draft(sessions, wf, UNIT)
    elsewhere = _draft(sessions, wf, UNIT, domain="别处.政务")
    for app_id in (first, elsewhere):
        with changing(sessions, app_id) as session:
            wf.submit(session, app_id, UNIT, T0)
    office = Actor.parse("office:330100")
    with changing(sessions, elsewhere) as session:
        wf.review(session, elsewhere, office, T0, approve=False, reason="材料不全")
    with pytest.raises(FormInvalid) as raised, changing(sessions, elsewhere) as session:
        wf.update(session, elsewhere, parse_form(form_data(), resolver=None), UNIT, T0)
    assert "已有办理中的申请" in raised.value.errors[0].message
    with transaction(sessions) as session:
        application = session.get(Application, elsewhere)
        assert application is not None and application.domain == gov_domain("别处.政务")


# -- the migration ------------------------------------------------------------------------------

PREVIOUS_HEAD = "b8e2d4f6a913"  # the revision before b3e8f5a2c614


def test_migration_returns_surplus_open_applications_and_goes_back(
    empty_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    upgrade(empty_db_url, PREVIOUS_HEAD)
    engine = make_engine(empty_db_url)
    domain, elsewhere = gov_domain(DOMAIN), gov_domain("别处.政务")
    rows = [  # id, domain, state, serial
        (1, domain, "office_rejected", "CA330010000000000010000"),
        (2, domain, "office_approved", "CA330010000000000020000"),  # furthest along: kept
        (3, domain, "submitted", "CA330010000000000030000"),
        (4, domain, "draft", None),
        (5, domain, "issued", "CA330010000000000040000"),
        (6, elsewhere, "submitted", "CA330010000000000050000"),
    ]
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO offices (id, code, name, level) VALUES (1, '330100', '杭州市委编办',"
            " 'prefecture')"
        ))
        conn.execute(sa.text(
            "INSERT INTO units (id, name, office_id) VALUES (1, '杭州市数据资源管理局', 1)"
        ))
        for app_id, app_domain, state, serial in rows:
            conn.execute(
                sa.text(
                    "INSERT INTO applications (id, unit_id, office_id, kind, state, site_name,"
                    " domain, form, created_at, updated_at, version, serial, office_review_due)"
                    " VALUES (:id, 1, 1, 'new', :state, '网站', :domain, '{}', :now, :now, 1,"
                    " :serial, '2026-11-25')"
                ),
                {"id": app_id, "state": state, "domain": app_domain, "serial": serial,
                 "now": T0},
            )
    engine.dispose()
    with caplog.at_level("WARNING"):
        upgrade(empty_db_url)
    assert [r.getMessage() for r in caplog.records if "退回草稿" in r.getMessage()] == [
        f"申请 {n}（申请序号 CA3300100000000000{n}0000）已退回草稿：域名 杭州数据.政务 已有办理中的"
        "申请 2（申请序号 CA330010000000000020000）" for n in (1, 3)
    ]
    engine = make_engine(empty_db_url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        states = dict(session.execute(select(Application.id, Application.state)).all())
        returned = session.scalars(select(Transition).order_by(Transition.id)).all()
        assert [(t.application_id, t.event, t.from_state, t.to_state) for t in returned] == [
            (1, DUPLICATE_RETURNED, AppState.OFFICE_REJECTED, AppState.DRAFT),
            (3, DUPLICATE_RETURNED, AppState.SUBMITTED, AppState.DRAFT),
        ]
        assert returned[0].reason == (
            "同一域名已有办理中的申请（申请序号 CA330010000000000020000），本申请已退回草稿；"
            "如仍需办理，请修改后重新提交"
        )
        assert abs(returned[0].at - datetime.now(UTC)) < timedelta(minutes=5)  # upgraded now
        application = session.get(Application, 3)
        assert application is not None and application.office_review_due is None
        assert application.serial == "CA330010000000000030000"  # kept for its resubmit
    assert states == {1: AppState.DRAFT, 2: AppState.OFFICE_APPROVED, 3: AppState.DRAFT,
                      4: AppState.DRAFT, 5: AppState.ISSUED, 6: AppState.SUBMITTED}
    # The index holds from now on: the returned draft cannot be put back by hand.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(sa.text("UPDATE applications SET state = 'submitted' WHERE id = 3"))
    # The workflow says so in words: the unit resubmits it and is told which one holds it.
    wf = Workflow(Config(), WorkCalendar())
    with pytest.raises(FormInvalid) as raised, changing(sessions, 3) as session:
        wf.submit(session, 3, UNIT, T0)
    assert "申请序号 CA330010000000000020000" in raised.value.errors[0].message
    engine.dispose()
    command.downgrade(alembic_config(empty_db_url), PREVIOUS_HEAD)
    engine = make_engine(empty_db_url)
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes("applications")}
    assert "uq_applications_open_domain" not in indexes
    with engine.begin() as conn:  # two open applications for a domain are possible again
        conn.execute(sa.text("UPDATE applications SET state = 'submitted' WHERE id = 3"))
        assert conn.execute(sa.text("SELECT count(*) FROM transitions")).scalar_one() == 2
        conn.execute(sa.text("UPDATE applications SET state = 'draft' WHERE id = 3"))
    engine.dispose()
    upgrade(empty_db_url)  # and up again
