"""Page results in bulk (COPY on PostgreSQL) and pruning in batches, on each backend.

The bulk writer must store exactly what the INSERT stored, inside the same transactions: a
batch that fails leaves nothing, and an attempt that lost its job still publishes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine, Text, cast, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crawler.results import ResultWriter, create_run
from store import queue
from store.bulk import insert_rows
from store.db import make_engine, transaction
from store.migrate import alembic_config, upgrade
from store.models import CrawlJob, CrawlRun, JobState, PageResult, Site, SiteCheck, SiteStatus
from store.retention import prune_page_results
from tests.factories import add_check, add_office, add_site, add_unit

NOW = datetime(2026, 10, 14, 1, 0, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))
COLUMNS = [c for c in PageResult.__table__.columns if c.name not in ("id", "check_id")]


def page_rows(check_id: int) -> list[dict[str, Any]]:
    """Rows as the crawl pipeline builds them, with every awkward value a page can give."""
    home = "http://杭州数据.政务/"
    return [
        {
            "check_id": check_id, "url": home, "http_status": 200, "verdict": "compliant",
            "reasons": ["ok"], "identifiers": ["CA330000000604258010001"],
            "badge_offset": 1234, "badge_in_body": True, "depth": 0,
            "title": "杭州市数据资源管理局\t首页\n\\N \\ 引号\"'",
            "error": None, "fetched_at": datetime(2026, 10, 14, 9, 0, 1, 250001, tzinfo=BEIJING),
            "etag": 'W/"5f1e-abc"', "last_modified": "Tue, 13 Oct 2026 08:00:00 GMT",
            "digest": "0123456789abcdef0123456789abcdef", "carried": False,
        },
        {
            "check_id": check_id, "url": f"{home}xwzx/2026/通知公告.html?a=1&b=%E4", "http_status":
            304, "verdict": "non_compliant", "reasons": ["badge_missing", "footer_icp_missing"],
            "identifiers": [], "badge_offset": None, "badge_in_body": None, "depth": 3,
            "title": None, "error": None, "fetched_at": NOW,
            "etag": None, "last_modified": None, "digest": "fedcba9876543210fedcba9876543210",
            "carried": True,
        },
        {
            "check_id": check_id, "url": f"{home}down.html", "http_status": None,
            "verdict": "not_checked", "reasons": ["fetch_error"], "identifiers": [],
            "badge_offset": None, "badge_in_body": False, "depth": 1, "title": "",
            "error": "连接超时（30 秒）", "fetched_at": NOW + timedelta(microseconds=7),
            "etag": None, "last_modified": None, "digest": None, "carried": False,
        },
    ]


def a_site(factory: sessionmaker[Session], domain: str = "杭州数据.政务") -> int:
    with transaction(factory) as session:
        site = add_site(session, add_unit(session, add_office(session)), domain=domain)
        return site.id


def written(factory: sessionmaker[Session], check_id: int) -> dict[str, tuple[Any, ...]]:
    """Each stored row by URL: every column as read back, and the JSON columns' stored text."""
    with transaction(factory) as session:
        rows = session.execute(
            select(
                *COLUMNS, cast(PageResult.reasons, Text).label("reasons_text"),
                cast(PageResult.identifiers, Text).label("identifiers_text"),
            ).where(PageResult.check_id == check_id)
        ).all()
    return {row.url: tuple(row) for row in rows}


@contextmanager
def statements_seen(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def sent(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.lstrip())

    event.listen(engine, "before_cursor_execute", sent)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", sent)


def test_the_bulk_writer_stores_exactly_what_the_insert_stored(
    sessions: sessionmaker[Session],
) -> None:
    site_id = a_site(sessions)
    checks, inserts = {}, {}
    engine = sessions.kw["bind"]
    for copy in (True, False):
        with transaction(sessions) as session:
            run_id = create_run(session, trigger="nightly", now=NOW, sites=1).id
        writer = ResultWriter(sessions, run_id, copy=copy)
        tally = writer.open_site(site_id, {"outcome": "ok"}, NOW)
        for row in page_rows(tally.check_id):
            writer.add_page(row, NOW)
        with statements_seen(engine) as seen:
            writer.flush(NOW)
        inserts[copy] = sum(s.startswith("INSERT INTO page_results") for s in seen)
        checks[copy] = tally.check_id
        with transaction(sessions) as session:
            run = session.get(CrawlRun, run_id)
            assert run is not None and run.pages == 3

    # On PostgreSQL the rows went by COPY (no INSERT through SQLAlchemy), on SQLite by INSERT.
    postgres = engine.dialect.name == "postgresql"
    assert inserts == {True: 0 if postgres else 1, False: 1}
    bulk, plain = written(sessions, checks[True]), written(sessions, checks[False])
    assert bulk == plain
    assert len(bulk) == 3
    home = bulk["http://杭州数据.政务/"]
    values = dict(zip([c.name for c in COLUMNS], home, strict=False))
    assert values["title"] == "杭州市数据资源管理局\t首页\n\\N \\ 引号\"'"
    assert values["reasons"] == ["ok"] and values["etag"] == 'W/"5f1e-abc"'
    assert values["fetched_at"] == datetime(2026, 10, 14, 1, 0, 1, 250001, tzinfo=UTC)
    carried = {url: row[-3] for url, row in bulk.items()}  # the ``carried`` column
    assert sorted(carried.values()) == [False, False, True]


def test_a_batch_that_fails_leaves_nothing_of_itself(sessions: sessionmaker[Session]) -> None:
    site_id = a_site(sessions)
    with transaction(sessions) as session:
        run_id = create_run(session, trigger="nightly", now=NOW, sites=1).id
    writer = ResultWriter(sessions, run_id)
    tally = writer.open_site(site_id, {"outcome": "ok"}, NOW)
    rows = page_rows(tally.check_id)
    rows[-1]["check_id"] = tally.check_id + 1000  # no such check: the whole batch fails
    for row in rows:
        writer.add_page(row, NOW)
    with pytest.raises(IntegrityError):
        writer.flush(NOW)

    # A failure after the rows went in, before the commit, takes them back too.
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        insert_rows(session, PageResult, page_rows(tally.check_id))
        assert session.scalar(select(func.count()).select_from(PageResult)) == 3
        raise RuntimeError("the transaction ends here")

    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(PageResult)) == 0
        run = session.get(CrawlRun, run_id)
        assert run is not None and run.pages == 0  # the heartbeat's count went with the rows


def test_a_zombie_attempt_writes_its_pages_but_never_publishes(
    sessions: sessionmaker[Session],
) -> None:
    site_id = a_site(sessions)
    with transaction(sessions) as session:
        queue.enqueue(session, site_id, kind="nightly", now=NOW)
    lease = timedelta(minutes=10)
    [zombie] = queue.claim(sessions, worker="a", limit=1, now=NOW, lease=lease)
    with transaction(sessions) as session:
        # Its worker was taken for dead: the job went back to the queue and to another worker.
        assert queue.requeue(session, [zombie.job_id], now=NOW, reason="lease expired") == 1
    later = NOW + timedelta(minutes=20)
    [current] = queue.claim(sessions, worker="b", limit=1, now=later, lease=lease)

    tallies = {}
    for claim, now, failing in ((zombie, later, 1), (current, later, 0)):
        with transaction(sessions) as session:
            run_id = create_run(session, trigger="nightly", now=now, sites=1).id
        writer = ResultWriter(sessions, run_id)
        tally = writer.open_site(site_id, {"outcome": "ok"}, now, (claim.job_id, claim.owner))
        rows = page_rows(tally.check_id)
        for row in rows:
            writer.add_page(row, now)
        tally.home_fetched, tally.checked, tally.failing = True, 3, failing
        tallies[claim.owner] = tally
        if claim is zombie:
            writer.close_site(tally, now, finished=True, publish=True, note=None)
            with transaction(sessions) as session:
                site = session.get(Site, site_id)
                check = session.get(SiteCheck, tally.check_id)
                assert site is not None and check is not None
                assert (site.status, site.last_check_id) == (SiteStatus.UNCHECKED, None)
                assert not check.complete and check.note is not None
                assert check.note.startswith("superseded"), check.note
                job = session.get(CrawlJob, claim.job_id)
                assert job is not None and (job.state, job.owner) == (
                    JobState.RUNNING, current.owner
                )
        else:
            writer.close_site(tally, now, finished=True, publish=True, note=None)

    with transaction(sessions) as session:
        site = session.get(Site, site_id)
        assert site is not None
        assert (site.status, site.last_check_id) == (
            SiteStatus.COMPLIANT, tallies[current.owner].check_id
        )
        per_check = dict(session.execute(
            select(PageResult.check_id, func.count()).group_by(PageResult.check_id)
        ).all())
    # Both attempts' rows are there, each under its own check; only one check is the site's.
    assert per_check == {tallies[zombie.owner].check_id: 3, tallies[current.owner].check_id: 3}


def statements_and_commits(engine: Engine) -> list[tuple[str, int]]:
    """What the engine did, in order: ("delete", rows) for each DELETE, ("commit", 0)."""
    seen: list[tuple[str, int]] = []

    def executed(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            seen.append(("delete", cursor.rowcount))

    event.listen(engine, "after_cursor_execute", executed)
    event.listen(engine, "commit", lambda _conn: seen.append(("commit", 0)))
    return seen


def test_pruning_goes_in_batches_each_its_own_transaction_and_keeps_last_checks(
    sessions: sessionmaker[Session],
) -> None:
    old, older, recent = NOW - timedelta(days=35), NOW - timedelta(days=50), NOW - timedelta(1)
    with transaction(sessions) as session:
        unit = add_unit(session, add_office(session))
        quiet = add_site(session, unit, domain="久未检查.政务")
        busy = add_site(session, unit, domain="每晚检查.政务")
        # The quiet site's last check is old and sits between prunable rows of the same age.
        add_check(session, busy, SiteStatus.COMPLIANT, now=older, passing=7)
        quiet_last = add_check(session, quiet, SiteStatus.COMPLIANT, now=old, passing=6)
        add_check(session, busy, SiteStatus.COMPLIANT, now=old, passing=9)
        busy_last = add_check(session, busy, SiteStatus.COMPLIANT, now=recent, passing=4)
        kept = {quiet_last.id: 6, busy_last.id: 4}
    engine = sessions.kw["bind"]
    seen = statements_and_commits(engine)

    assert prune_page_results(sessions, now=NOW, keep_days=30, batch_rows=5) == 16

    deletes = [rows for what, rows in seen if what == "delete"]
    assert deletes == [5, 5, 5, 1]
    # Never two batches in one transaction.
    assert all(seen[i + 1][0] == "commit" for i, (what, _) in enumerate(seen) if what == "delete")
    with transaction(sessions) as session:
        left = dict(session.execute(
            select(PageResult.check_id, func.count()).group_by(PageResult.check_id)
        ).all())
        assert session.scalar(select(func.count()).select_from(SiteCheck)) == 4
    assert left == kept
    assert prune_page_results(sessions, now=NOW, keep_days=30, batch_rows=5) == 0
    assert Counter(what for what, _ in seen)["delete"] == 4  # nothing left: no DELETE at all


PREVIOUS_HEAD = "a9c4e1f7b203"  # the revision before b8e2d4f6a913, the query indexes


def indexes(engine: Engine, table: str) -> dict[str, list[str]]:
    return {i["name"]: list(i["column_names"]) for i in sa.inspect(engine).get_indexes(table)
            if i["name"] is not None}


def test_the_migration_swaps_the_query_indexes_and_goes_back(empty_db_url: str) -> None:
    upgrade(empty_db_url, PREVIOUS_HEAD)
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    pages, checks = indexes(engine, "page_results"), indexes(engine, "site_checks")
    assert pages["ix_page_results_check_id_verdict"] == ["check_id", "verdict"]
    assert "ix_page_results_check_id" not in pages
    assert checks["ix_site_checks_site_id_started_at"] == ["site_id", "started_at"]
    assert checks["ix_site_checks_site_id_finished_at"] == ["site_id", "finished_at"]
    assert "ix_site_checks_site_id" not in checks
    engine.dispose()

    command.downgrade(alembic_config(empty_db_url), PREVIOUS_HEAD)
    engine = make_engine(empty_db_url)
    pages, checks = indexes(engine, "page_results"), indexes(engine, "site_checks")
    assert pages["ix_page_results_check_id"] == ["check_id"]
    assert checks["ix_site_checks_site_id"] == ["site_id"]
    assert not {"ix_page_results_check_id_verdict"} & set(pages)
    assert not {"ix_site_checks_site_id_started_at", "ix_site_checks_site_id_finished_at"} & set(
        checks
    )
    engine.dispose()
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    assert "ix_page_results_check_id_verdict" in indexes(engine, "page_results")
    engine.dispose()
