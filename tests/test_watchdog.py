"""The watchdog with a fixed clock: quiet sites are found, the operator told once a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from badgewatch.config import Config, NotifyConfig
from monitor.watchdog import health, stale_sites, watch
from store.db import transaction
from store.models import MonitorState, Office, OutboxMessage, Site, SiteSource, Unit
from tests.factories import add_offices

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def add_site(session, n: int, checked_at: datetime | None, created_at: datetime) -> None:
    office = session.scalars(select(Office).where(Office.code == "330100")).one()
    unit = Unit(name=f"单位{n}", office_id=office.id)
    session.add(unit)
    session.flush()
    session.add(Site(
        unit_id=unit.id, office_id=unit.office_id, name=f"网站{n}", domain=f"s{n}.xn--zfr164b",
        ipv4="203.0.113.1", identifier=f"CA3300000006042589{n:02d}0001", source=SiteSource.IMPORTED,
        created_at=created_at, checked_at=checked_at,
        state=MonitorState.COMPLIANT if checked_at else MonitorState.UNCHECKED,
    ))


def test_quiet_sites_and_operator_alert(sessions) -> None:
    config = Config(notify=NotifyConfig(operator_email="ops@example.cn"))
    with transaction(sessions) as session:
        add_offices(session)
        session.flush()
        add_site(session, 1, NOW - timedelta(hours=2), NOW - timedelta(days=90))  # fresh
        add_site(session, 2, NOW - timedelta(hours=60), NOW - timedelta(days=90))  # quiet
        add_site(session, 3, None, NOW - timedelta(days=5))  # never checked
        add_site(session, 4, None, NOW - timedelta(hours=1))  # just registered
    with transaction(sessions) as session:
        stale = stale_sites(session, now=NOW, max_age=timedelta(hours=48))
        assert [s.domain for s in stale] == ["s3.xn--zfr164b", "s2.xn--zfr164b"]
        watch(session, now=NOW, config=config)
        watch(session, now=NOW + timedelta(minutes=5), config=config)
    with transaction(sessions) as session:
        [alert] = session.scalars(select(OutboxMessage)).all()
        assert alert.recipient == "ops@example.cn"
        assert "2 个网站" in (alert.subject or "")
        assert "s2.xn--zfr164b" in alert.body and "从未完成检查" in alert.body
        report = health(session, now=NOW, config=config)
    assert report["monitor"] is None
    assert [s["domain"] for s in report["stale_sites"]] == ["s3.xn--zfr164b", "s2.xn--zfr164b"]
    assert report["oldest_unchecked"]["domain"] == "s3.xn--zfr164b"
    assert report["queue"]["queued"] == 0
