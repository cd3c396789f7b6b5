"""The workflow on both databases: every path, who may act, races, deadlines, issuance."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import idna
import pytest
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import Config
from store.db import transaction
from store.models import AppState, OutboxMessage, Site, Transition
from tests.factories import add_offices, form_data
from workflow.documents import render_letter
from workflow.errors import ConcurrentChange, PermissionDenied, ReasonRequired
from workflow.form import parse_form
from workflow.machine import TransitionNotAllowed
from workflow.service import Actor, Workflow, changing, describe
from workflow.workdays import WorkCalendar

UNIT = Actor.parse("unit:杭州市数据资源管理局")
OFFICE = Actor.parse("office:330100")
OTHER_OFFICE = Actor.parse("office:330200")
PARENT_OFFICE = Actor.parse("office:330000")
CONAC = Actor.parse("conac")
# Wednesday 2026-09-30, 10:00 in Beijing
T0 = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)


@pytest.fixture
def wf(sessions: sessionmaker[Session]) -> Workflow:
    with transaction(sessions) as session:
        add_offices(session)
    return Workflow(Config(), WorkCalendar())


def _new(sessions: sessionmaker[Session], wf: Workflow) -> int:
    form = parse_form(form_data(), resolver=None)
    with transaction(sessions) as session:
        return wf.create(session, form, UNIT, T0).id


def _do(sessions, app_id, action, *args, at=T0, **kwargs):
    with changing(sessions, app_id) as session:
        return action(session, app_id, *args, at, **kwargs).state


def describe_history(session: Session, app_id: int) -> list[tuple[str, str, str | None]]:
    rows = session.scalars(
        select(Transition).where(Transition.application_id == app_id).order_by(Transition.id)
    )
    return [(t.event, t.actor, t.reason) for t in rows]


def test_happy_path_issues_badge_and_queues_notices(sessions, wf: Workflow) -> None:
    app_id = _new(sessions, wf)
    assert _do(sessions, app_id, wf.submit, UNIT) is AppState.SUBMITTED
    assert _do(sessions, app_id, wf.review, OFFICE, approve=True) is AppState.OFFICE_APPROVED
    assert _do(sessions, app_id, wf.review, CONAC, approve=True) is AppState.APPROVED_ONLINE
    assert _do(sessions, app_id, wf.materials, OFFICE, confirm=True) is AppState.ISSUED

    with transaction(sessions) as session:
        data = describe(wf.get(session, app_id), zone=BEIJING)
        site = session.scalars(select(Site)).one()
        outbox = session.scalars(select(OutboxMessage).order_by(OutboxMessage.channel)).all()
    # Submitted on 09-30: office review due 5 working days later, across National Day.
    assert data["deadlines"]["office_review"] == "2026-10-13"
    assert data["deadlines"]["materials"] == "2026-10-20"
    assert data["deadlines"]["placement"] == "2026-10-13"
    assert site.identifier == data["badge"]["identifier"]
    assert site.identifier.startswith("CA330010000") and len(site.identifier) == 23
    assert site.identifier.endswith("0001")
    assert len(site.certificate or "") == 32
    assert site.domain == idna.encode("杭州数据.政务").decode()
    assert site.domain.endswith(".xn--zfr164b")
    assert [e["event"] for e in data["history"]] == [
        "submit", "office_approve", "conac_approve", "confirm_materials", "issue_badge",
    ]
    assert [m.channel for m in outbox] == ["email", "sms"]
    assert site.identifier in outbox[0].body and "2026年10月13日" in outbox[0].body
    assert outbox[0].recipient == "handler@hz.example.cn"
    assert outbox[1].recipient == "+8613905710001"


def test_identifiers_are_unique(sessions, wf: Workflow) -> None:
    ids = []
    for n in range(3):
        form = parse_form(form_data(domain=f"站点{n}.政务", name=f"站点{n}"), resolver=None)
        with transaction(sessions) as session:
            app_id = wf.create(session, form, UNIT, T0).id
        for action, actor, kw in (
            (wf.submit, UNIT, {}),
            (wf.review, OFFICE, {"approve": True}),
            (wf.review, CONAC, {"approve": True}),
            (wf.materials, OFFICE, {"confirm": True}),
        ):
            _do(sessions, app_id, action, actor, **kw)
        with transaction(sessions) as session:
            ids.append(wf.get(session, app_id).site.identifier)
    assert len(set(ids)) == 3
    assert [int(i[11:19]) for i in ids] == [60000001, 60000002, 60000003]


@pytest.mark.parametrize(
    ("path", "rejected_state"),
    [
        ("office", AppState.OFFICE_REJECTED),
        ("conac", AppState.CONAC_REJECTED),
        ("materials", AppState.MATERIALS_REJECTED),
    ],
)
def test_rejection_then_resubmission(sessions, wf: Workflow, path, rejected_state) -> None:
    app_id = _new(sessions, wf)
    _do(sessions, app_id, wf.submit, UNIT)
    reason = "网站名称不规范，请修改后重新提交"
    if path == "office":
        state = _do(sessions, app_id, wf.review, OFFICE, approve=False, reason=reason)
    else:
        _do(sessions, app_id, wf.review, OFFICE, approve=True)
        if path == "conac":
            state = _do(sessions, app_id, wf.review, CONAC, approve=False, reason=reason)
        else:
            _do(sessions, app_id, wf.review, CONAC, approve=True)
            state = _do(sessions, app_id, wf.materials, OFFICE, confirm=False, reason=reason)
    assert state is rejected_state

    # The unit reads the reason.
    with transaction(sessions) as session:
        data = describe(wf.get(session, app_id, UNIT), zone=BEIJING)
    assert data["history"][-1]["reason"] == reason

    # It fixes the form and resubmits: back to the office's review, with a new deadline.
    fixed = parse_form(form_data(name="杭州市数据资源管理局门户网站"), resolver=None)
    with changing(sessions, app_id) as session:
        wf.update(session, app_id, fixed, UNIT, T0)
    later = T0 + timedelta(days=20)
    assert _do(sessions, app_id, wf.submit, UNIT, at=later) is AppState.SUBMITTED
    with transaction(sessions) as session:
        data = describe(wf.get(session, app_id), zone=BEIJING)
    assert data["history"][-1]["event"] == "resubmit"
    assert data["site_name"] == "杭州市数据资源管理局门户网站"
    assert data["submitted_on"] == "2026-10-20"
    assert data["deadlines"]["office_review"] == "2026-10-27"


def test_reject_needs_a_reason(sessions, wf: Workflow) -> None:
    app_id = _new(sessions, wf)
    _do(sessions, app_id, wf.submit, UNIT)
    with pytest.raises(ReasonRequired):
        _do(sessions, app_id, wf.review, OFFICE, approve=False, reason="  ")


@pytest.mark.parametrize("reviewer", [OTHER_OFFICE, PARENT_OFFICE])
def test_other_jurisdiction_refused_nothing_changed(sessions, wf: Workflow, reviewer) -> None:
    app_id = _new(sessions, wf)
    _do(sessions, app_id, wf.submit, UNIT)
    with pytest.raises(PermissionDenied) as info:
        _do(sessions, app_id, wf.review, reviewer, approve=True)
    assert "330100" in str(info.value)
    with transaction(sessions) as session:
        assert wf.get(session, app_id).state is AppState.SUBMITTED
        assert len(describe_history(session, app_id)) == 1


def test_unit_sees_only_its_own(sessions, wf: Workflow) -> None:
    app_id = _new(sessions, wf)
    stranger = Actor.parse("unit:宁波市某局")
    with transaction(sessions) as session, pytest.raises(PermissionDenied):
        wf.get(session, app_id, stranger)
    with pytest.raises(PermissionDenied):
        _do(sessions, app_id, wf.submit, stranger)


def test_unit_cannot_review_and_conac_cannot_confirm(sessions, wf: Workflow) -> None:
    app_id = _new(sessions, wf)
    _do(sessions, app_id, wf.submit, UNIT)
    with pytest.raises(PermissionDenied):
        _do(sessions, app_id, wf.review, UNIT, approve=True)
    _do(sessions, app_id, wf.review, OFFICE, approve=True)
    _do(sessions, app_id, wf.review, CONAC, approve=True)
    with pytest.raises(PermissionDenied):
        _do(sessions, app_id, wf.materials, CONAC, confirm=True)


def test_event_not_allowed_in_state(sessions, wf: Workflow) -> None:
    app_id = _new(sessions, wf)
    with pytest.raises(TransitionNotAllowed) as info:
        _do(sessions, app_id, wf.review, OFFICE, approve=True)
    assert "draft" in str(info.value) and "submit" in str(info.value)
    _do(sessions, app_id, wf.submit, UNIT)
    with pytest.raises(TransitionNotAllowed):
        _do(sessions, app_id, wf.review, CONAC, approve=True)
    with pytest.raises(TransitionNotAllowed):
        _do(sessions, app_id, wf.submit, UNIT)


def test_two_reviewers_at_once_one_wins(sessions, wf: Workflow) -> None:
    """Both load the submitted application; the first to commit wins, whole."""
    app_id = _new(sessions, wf)
    _do(sessions, app_id, wf.submit, UNIT)
    first, second = changing(sessions, app_id), changing(sessions, app_id)
    s1, s2 = first.__enter__(), second.__enter__()
    wf.review(s1, app_id, OFFICE, T0, approve=True)
    wf.review(s2, app_id, OFFICE, T0, approve=False, reason="材料不全")
    first.__exit__(None, None, None)
    with pytest.raises(ConcurrentChange) as info:
        second.__exit__(None, None, None)
    assert "未保存" in str(info.value)
    with transaction(sessions) as session:
        assert wf.get(session, app_id).state is AppState.OFFICE_APPROVED
        history = describe_history(session, app_id)
        # The loser's rejection notice went with its decision: nothing queued.
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert history == [
        ("submit", "unit:杭州市数据资源管理局", None),
        ("office_approve", "office:330100", None),
    ]


def test_transitions_record_actor_role_time(sessions, wf: Workflow) -> None:
    app_id = _new(sessions, wf)
    _do(sessions, app_id, wf.submit, UNIT, at=T0)
    _do(sessions, app_id, wf.review, OFFICE, approve=True, at=T0 + timedelta(hours=3))
    with transaction(sessions) as session:
        rows = session.scalars(select(Transition).order_by(Transition.id)).all()
        assert [(r.actor, r.role.value) for r in rows] == [
            ("unit:杭州市数据资源管理局", "unit_handler"),
            ("office:330100", "office_reviewer"),
        ]
        assert rows[1].at == T0 + timedelta(hours=3)
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_placement_deadline_needs_known_year(sessions, wf: Workflow) -> None:
    """Issuing late in 2026 needs 2027's calendar; without it nothing is half-issued."""
    from workflow.workdays import UnknownYear

    app_id = _new(sessions, wf)
    late = datetime(2026, 12, 28, 2, 0, tzinfo=UTC)
    _do(sessions, app_id, wf.submit, UNIT, at=datetime(2026, 12, 1, 2, tzinfo=UTC))
    _do(sessions, app_id, wf.review, OFFICE, approve=True, at=datetime(2026, 12, 2, 2, tzinfo=UTC))
    _do(sessions, app_id, wf.review, CONAC, approve=True, at=datetime(2026, 12, 3, 2, tzinfo=UTC))
    with pytest.raises(UnknownYear):
        _do(sessions, app_id, wf.materials, OFFICE, confirm=True, at=late)
    with transaction(sessions) as session:
        assert wf.get(session, app_id).state is AppState.APPROVED_ONLINE
        assert session.scalar(select(func.count()).select_from(Site)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert late.date() == date(2026, 12, 28)  # five working days later falls in 2027


# -- dates people read are Beijing dates ------------------------------------------------------

BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("approved_at", "day", "history_at"),
    [
        # 23:30 in Beijing on 13 October is 15:30 UTC the same day.
        (datetime(2026, 10, 13, 15, 30, tzinfo=UTC), "2026年10月13日", "2026-10-13T23:30:00+08:00"),
        # 00:30 in Beijing on 14 October is still 13 October in UTC.
        (datetime(2026, 10, 13, 16, 30, tzinfo=UTC), "2026年10月14日", "2026-10-14T00:30:00+08:00"),
    ],
    ids=["23:30-beijing", "00:30-beijing"],
)
def test_letter_and_history_show_the_beijing_date(
    sessions, wf: Workflow, approved_at: datetime, day: str, history_at: str
) -> None:
    app_id = _new(sessions, wf)
    _do(sessions, app_id, wf.submit, UNIT, at=approved_at - timedelta(days=2))
    _do(sessions, app_id, wf.review, OFFICE, approve=True, at=approved_at - timedelta(days=1))
    _do(sessions, app_id, wf.review, CONAC, approve=True, at=approved_at)
    with transaction(sessions) as session:
        application = wf.get(session, app_id)
        letter = render_letter(application, zone=BEIJING)
        history = describe(application, zone=BEIJING)["history"]
        materials_due = application.materials_due
    text = " ".join(LexborHTMLParser(letter).css_first(".sign").text().split())
    assert day in text
    assert history[-1]["event"] == "conac_approve"
    assert history[-1]["at"] == history_at
    # The materials deadline counts from the same Beijing day.
    approved_day = date(2026, 10, 13 if "13" in day else 14)
    assert materials_due == wf.calendar.add_workdays(approved_day, 10)


@pytest.mark.parametrize(
    ("now", "today"),
    [
        (datetime(2026, 10, 13, 15, 30, tzinfo=UTC), date(2026, 10, 13)),
        (datetime(2026, 10, 13, 16, 30, tzinfo=UTC), date(2026, 10, 14)),
        (datetime(2026, 12, 31, 16, 0, tzinfo=UTC), date(2027, 1, 1)),
    ],
    ids=["23:30-beijing", "00:30-beijing", "new-year-in-beijing"],
)
def test_one_today_for_every_place(now: datetime, today: date) -> None:
    from badgewatch import localtime

    config = Config()
    assert localtime.today(now, config.calendar.zone) == today
    assert Workflow(config, WorkCalendar()).today(now) == today
    with pytest.raises(ValueError, match="naive"):
        localtime.today(now.replace(tzinfo=None), config.calendar.zone)
