"""Site states from crawl verdicts and deadlines, with a fixed clock and the official calendar.

The 2026 National Day holiday runs from 10-01 to 10-07, Saturday 10-10 is an adjusted workday
(调休) and Mid-Autumn (09-25) is a day off: a notice on 2026-09-29 gives a placement deadline
of 2026-10-12 (09-30, 10-08, 10-09, 10-10, 10-12).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from monitor.deadlines import apply_check, reevaluate_all
from store.db import transaction
from store.models import (
    MonitorState,
    Site,
    SiteCheck,
    SiteSource,
    SiteStateChange,
    SiteStatus,
)
from tests.factories import CALENDAR, DUE, NOTICE, add_check, add_office, add_site, add_unit, at
from workflow.deadlines import Evaluation, evaluate, working_day_before
from workflow.workdays import UnknownYear


def history(session: Session, site_id: int) -> list[tuple[str, str, datetime]]:
    changes = session.scalars(
        sa.select(SiteStateChange)
        .where(SiteStateChange.site_id == site_id)
        .order_by(SiteStateChange.id)
    )
    return [(c.from_state.value, c.to_state.value, c.at) for c in changes]


# --- evaluate: a pure function of verdict, deadline and day -----------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (SiteStatus.UNCHECKED, MonitorState.UNCHECKED),
        (SiteStatus.UNREACHABLE, MonitorState.UNREACHABLE),
        (SiteStatus.DNS_MISMATCH, MonitorState.DNS_MISMATCH),
        (SiteStatus.COMPLIANT, MonitorState.COMPLIANT),
    ],
)
@pytest.mark.parametrize("ever_compliant", [False, True])
@pytest.mark.parametrize("today", [NOTICE, DUE + timedelta(days=30)])
def test_verdicts_other_than_failing_pass_through(
    status: SiteStatus, state: MonitorState, ever_compliant: bool, today: date
) -> None:
    assert evaluate(
        status,
        placement_due=DUE,
        today=today,
        ever_compliant=ever_compliant,
        calendar=CALENDAR,
    ) == Evaluation(state)


def test_failing_inside_the_deadline_is_pending_with_working_days_left() -> None:
    def left(today: date) -> Evaluation:
        return evaluate(
            SiteStatus.NON_COMPLIANT,
            placement_due=DUE,
            today=today,
            ever_compliant=False,
            calendar=CALENDAR,
        )

    # Working days after today up to and including the deadline, holidays skipped.
    assert left(NOTICE) == Evaluation(MonitorState.PENDING, working_days_left=5)
    assert left(date(2026, 9, 30)) == Evaluation(MonitorState.PENDING, working_days_left=4)
    assert left(date(2026, 10, 3)) == Evaluation(MonitorState.PENDING, working_days_left=4)
    assert left(date(2026, 10, 9)) == Evaluation(MonitorState.PENDING, working_days_left=2)
    # Saturday 10-10 is an adjusted workday; Sunday 10-11 is not.
    assert left(date(2026, 10, 10)) == Evaluation(MonitorState.PENDING, working_days_left=1)
    assert left(date(2026, 10, 11)) == Evaluation(MonitorState.PENDING, working_days_left=1)
    assert left(DUE) == Evaluation(MonitorState.PENDING, working_days_left=0)


def test_failing_after_the_deadline_is_overdue_by_working_days() -> None:
    def late(today: date, due: date = DUE) -> Evaluation:
        return evaluate(
            SiteStatus.NON_COMPLIANT,
            placement_due=due,
            today=today,
            ever_compliant=False,
            calendar=CALENDAR,
        )

    assert late(date(2026, 10, 13)) == Evaluation(MonitorState.OVERDUE, working_days_overdue=1)
    assert late(date(2026, 10, 19)) == Evaluation(MonitorState.OVERDUE, working_days_overdue=5)
    # A deadline on the last workday before National Day: the holiday adds no overdue days.
    assert late(date(2026, 10, 1), date(2026, 9, 30)) == Evaluation(
        MonitorState.OVERDUE, working_days_overdue=0
    )
    assert late(date(2026, 10, 8), date(2026, 9, 30)) == Evaluation(
        MonitorState.OVERDUE, working_days_overdue=1
    )
    # A Saturday just after a Friday deadline: past the deadline, no working day lost yet.
    assert late(date(2026, 10, 24), date(2026, 10, 23)) == Evaluation(
        MonitorState.OVERDUE, working_days_overdue=0
    )


def test_failing_without_a_known_deadline_is_overdue_with_unknown_days() -> None:
    """Imported sites had their badge long ago: failing is overdue, never pending."""
    assert evaluate(
        SiteStatus.NON_COMPLIANT,
        placement_due=None,
        today=NOTICE,
        ever_compliant=False,
        calendar=CALENDAR,
    ) == Evaluation(MonitorState.OVERDUE)


@pytest.mark.parametrize("placement_due", [None, DUE])
@pytest.mark.parametrize("today", [NOTICE, DUE, DUE + timedelta(days=10)])
def test_failing_after_being_compliant_is_regressed_whatever_the_deadline(
    placement_due: date | None, today: date
) -> None:
    assert evaluate(
        SiteStatus.NON_COMPLIANT,
        placement_due=placement_due,
        today=today,
        ever_compliant=True,
        calendar=CALENDAR,
    ) == Evaluation(MonitorState.REGRESSED)


def test_deadline_across_national_day_with_an_adjusted_saturday() -> None:
    assert CALENDAR.add_workdays(NOTICE, 5) == DUE
    assert working_day_before(DUE, CALENDAR) == date(2026, 10, 10)  # the adjusted Saturday
    assert working_day_before(date(2026, 10, 8), CALENDAR) == date(2026, 9, 30)
    assert working_day_before(date(2026, 10, 19), CALENDAR) == date(2026, 10, 16)


def test_a_year_the_calendar_does_not_know_raises() -> None:
    with pytest.raises(UnknownYear):
        evaluate(
            SiteStatus.NON_COMPLIANT,
            placement_due=date(2099, 3, 1),
            today=date(2099, 3, 5),
            ever_compliant=False,
            calendar=CALENDAR,
        )


# --- apply_check and reevaluate_all: stored states and their history ----------------------------


def test_every_transition_is_stored_with_its_time(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        unit = add_unit(session, add_office(session))
        site_id = add_site(session, unit).id

    def crawl(
        day: date, status: SiteStatus, failing: Sequence[tuple[str, Sequence[str]]] = ()
    ) -> tuple[SiteStateChange | None, SiteCheck]:
        with transaction(sessions) as session:
            site = session.get(Site, site_id)
            assert site is not None
            check = add_check(session, site, status, now=at(day), failing=failing)
            change = apply_check(session, site, now=at(day, 3), calendar=CALENDAR, today=day)
            return change, check

    home = "http://xn--6rtt7jbwbe2c.xn--zfr164b/"  # 杭州数据.政务
    missing = [(home, ["badge_missing"]), (home + "news/1.html", ["badge_missing"])]

    # unchecked → pending on the notice day: failing inside the deadline.
    change, check = crawl(NOTICE, SiteStatus.NON_COMPLIANT, missing)
    assert change is not None
    assert (change.from_state, change.to_state) == (MonitorState.UNCHECKED, MonitorState.PENDING)
    assert change.check_id == check.id
    assert change.detail == {
        "crawl_status": "non_compliant",
        "check_id": check.id,
        "pages_checked": 3,
        "pages_failing": 2,
        "reasons": {"badge_missing": 2, "ok": 1},
        "placement_due": "2026-10-12",
        "working_days_overdue": None,
        "working_days_left": 5,
    }
    # Still failing a day later: no change, nothing recorded.
    assert crawl(date(2026, 9, 30), SiteStatus.NON_COMPLIANT, missing)[0] is None
    # unreachable and dns_mismatch are their own states, not failures.
    change, _ = crawl(date(2026, 10, 8), SiteStatus.UNREACHABLE)
    assert change is not None and change.to_state is MonitorState.UNREACHABLE
    change, _ = crawl(date(2026, 10, 9), SiteStatus.DNS_MISMATCH)
    assert change is not None and change.to_state is MonitorState.DNS_MISMATCH
    # Failing again after the deadline, never compliant: overdue by working days.
    change, _ = crawl(date(2026, 10, 14), SiteStatus.NON_COMPLIANT, missing)
    assert change is not None and change.to_state is MonitorState.OVERDUE
    assert change.detail["working_days_overdue"] == 2
    # Compliant at last, then failing again: regressed, not overdue.
    change, _ = crawl(date(2026, 10, 15), SiteStatus.COMPLIANT)
    assert change is not None and change.to_state is MonitorState.COMPLIANT
    change, _ = crawl(date(2026, 11, 2), SiteStatus.NON_COMPLIANT, [(home, ["badge_hidden"])])
    assert change is not None and change.to_state is MonitorState.REGRESSED
    assert change.detail["reasons"] == {"badge_hidden": 1, "ok": 1}
    # A site that was compliant once stays "regressed" through an outage.
    crawl(date(2026, 11, 3), SiteStatus.UNREACHABLE)
    change, _ = crawl(date(2026, 11, 4), SiteStatus.NON_COMPLIANT, missing)
    assert change is not None
    assert (change.from_state, change.to_state) == (
        MonitorState.UNREACHABLE,
        MonitorState.REGRESSED,
    )
    # A check that could decide nothing leaves the site unchecked.
    change, _ = crawl(date(2026, 11, 5), SiteStatus.UNCHECKED)
    assert change is not None and change.to_state is MonitorState.UNCHECKED

    with sessions() as session:
        site = session.get(Site, site_id)
        assert site is not None
        assert site.state is MonitorState.UNCHECKED
        assert site.state_since == at(date(2026, 11, 5), 3)
        assert site.ever_compliant is True
        assert history(session, site_id) == [
            ("unchecked", "pending", at(NOTICE, 3)),
            ("pending", "unreachable", at(date(2026, 10, 8), 3)),
            ("unreachable", "dns_mismatch", at(date(2026, 10, 9), 3)),
            ("dns_mismatch", "overdue", at(date(2026, 10, 14), 3)),
            ("overdue", "compliant", at(date(2026, 10, 15), 3)),
            ("compliant", "regressed", at(date(2026, 11, 2), 3)),
            ("regressed", "unreachable", at(date(2026, 11, 3), 3)),
            ("unreachable", "regressed", at(date(2026, 11, 4), 3)),
            ("regressed", "unchecked", at(date(2026, 11, 5), 3)),
        ]


def test_apply_check_reads_a_status_the_caller_set_in_the_same_session(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        site = add_site(session, add_unit(session, add_office(session)))
        site.status = SiteStatus.COMPLIANT  # not flushed yet
        change = apply_check(session, site, now=at(NOTICE), calendar=CALENDAR, today=NOTICE)
        assert change is not None and change.to_state is MonitorState.COMPLIANT
        assert site.ever_compliant is True
        assert change.check_id is None and change.detail["pages_failing"] is None


def test_pending_turns_overdue_by_the_daily_pass_without_a_crawl(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        unit = add_unit(session, add_office(session))
        site = add_site(session, unit)
        check = add_check(
            session,
            site,
            SiteStatus.NON_COMPLIANT,
            now=at(NOTICE),
            failing=[("http://a.example/", ["badge_missing"])],
        )
        apply_check(session, site, now=at(NOTICE), calendar=CALENDAR, today=NOTICE)
        site_id, check_id = site.id, check.id

    # Every day through the holiday and the adjusted Saturday up to the deadline: still pending.
    day = NOTICE
    while day <= DUE:
        with transaction(sessions) as session:
            assert reevaluate_all(session, now=at(day, 18), calendar=CALENDAR, today=day) == []
        day += timedelta(days=1)
    # The day after the deadline: overdue, by one working day, tied to the last check.
    with transaction(sessions) as session:
        [change] = reevaluate_all(
            session, now=at(date(2026, 10, 13), 18), calendar=CALENDAR, today=date(2026, 10, 13)
        )
        assert (change.from_state, change.to_state) == (
            MonitorState.PENDING,
            MonitorState.OVERDUE,
        )
        assert change.check_id == check_id
        assert change.detail["working_days_overdue"] == 1
        assert change.detail["working_days_left"] is None
        assert change.detail["pages_failing"] == 1
    # Running the pass again records nothing new.
    with transaction(sessions) as session:
        assert (
            reevaluate_all(
                session,
                now=at(date(2026, 10, 14), 18),
                calendar=CALENDAR,
                today=date(2026, 10, 14),
            )
            == []
        )
    with sessions() as session:
        site = session.get(Site, site_id)
        assert site is not None and site.state is MonitorState.OVERDUE
        assert site.state_since == at(date(2026, 10, 13), 18)
        assert [h[:2] for h in history(session, site_id)] == [
            ("unchecked", "pending"),
            ("pending", "overdue"),
        ]


def test_daily_pass_catches_up_lagging_states_and_skips_unmonitored_sites(
    sessions: sessionmaker[Session],
) -> None:
    """A monitor that died between the crawl's verdict and the state is healed the next day."""
    with transaction(sessions) as session:
        unit = add_unit(session, add_office(session))
        lagging = add_site(session, unit)
        add_check(session, lagging, SiteStatus.COMPLIANT, now=at(NOTICE))
        ignored = add_site(session, unit, domain="杭州旧站.政务")
        add_check(session, ignored, SiteStatus.NON_COMPLIANT, now=at(NOTICE))
        ignored.monitored = False
        imported = add_site(
            session,
            unit,
            domain="杭州导入.政务",
            notified_on=None,
            placement_due=None,
            source=SiteSource.IMPORTED,
        )
        add_check(
            session,
            imported,
            SiteStatus.NON_COMPLIANT,
            now=at(NOTICE),
            failing=[("http://b.example/", ["badge_static_copy"])],
        )
        ids = (lagging.id, ignored.id, imported.id)

    with transaction(sessions) as session:
        changes = reevaluate_all(session, now=at(NOTICE, 20), calendar=CALENDAR, today=NOTICE)
        assert [(c.site_id, c.to_state) for c in changes] == [
            (ids[0], MonitorState.COMPLIANT),
            (ids[2], MonitorState.OVERDUE),
        ]
        assert changes[1].detail["working_days_overdue"] is None
        assert changes[1].detail["placement_due"] is None
    with sessions() as session:
        rows = session.execute(sa.select(Site.id, Site.state).where(Site.id.in_(ids)))
        states = {site_id: state for site_id, state in rows}
        assert states == {
            ids[0]: MonitorState.COMPLIANT,
            ids[1]: MonitorState.UNCHECKED,
            ids[2]: MonitorState.OVERDUE,
        }
        site = session.get(Site, ids[0])
        assert site is not None and site.ever_compliant is True
