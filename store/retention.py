"""How long page results are kept: ``[store] keep_page_results_days``.

Page results are the bulk of the database (a row per page per night). Older ones are deleted;
site checks (the counts and reasons of every night) and the state history are kept, and so
are all the page rows of each site's last complete check (``sites.last_check_id``), whatever
their age: the next incremental crawl carries its verdicts forward from them. The same window
applies to what grows beside them: the browser's renders with their screenshot files (the
evidence of the last check is kept, as the pages' rows are) and the queue's finished jobs.

The rows go in batches, each its own transaction, so a table of millions of rows never holds
one long transaction (its locks, its WAL, a crawl's writes waiting behind it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Row, Select, delete, select
from sqlalchemy.orm import Session, sessionmaker

from store.db import transaction
from store.models import CrawlJob, JobState, PageRender, PageResult, Site

log = logging.getLogger(__name__)

PRUNE_BATCH_ROWS = 5000


def prune_cutoff(now: datetime, keep_days: int) -> datetime:
    """Page results fetched before this moment are pruned."""
    return now - timedelta(days=keep_days)


def _prune_batch(session: Session, *, cutoff: datetime, since: datetime | None, rows: int
                 ) -> tuple[int, datetime | None]:
    """Delete up to ``rows`` prunable rows, oldest first from ``since``; how many were
    deleted and the newest fetch time among them."""
    kept = select(Site.last_check_id).where(Site.last_check_id.is_not(None))
    due = select(PageResult.id, PageResult.fetched_at).where(
        PageResult.fetched_at < cutoff, PageResult.check_id.not_in(kept)
    )
    if since is not None:
        # The rows kept (a quiet site's old last check) are not read again batch after batch.
        due = due.where(PageResult.fetched_at >= since)
    found = session.execute(due.order_by(PageResult.fetched_at).limit(rows)).all()
    if not found:
        return 0, since
    _delete(session, PageResult, [row.id for row in found])
    return len(found), found[-1].fetched_at


def _delete(session: Session, model: type[PageResult | PageRender | CrawlJob], ids: list[int]
            ) -> None:
    session.execute(
        delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False)
    )


def _in_batches(
    factory: sessionmaker[Session],
    due: Select[*tuple[Any, ...]],
    model: type[PageRender | CrawlJob],
    batch_rows: int,
) -> Iterator[Sequence[Row[Any]]]:
    """Delete the rows ``due`` selects (``id`` first, oldest first), ``batch_rows`` per
    transaction; yields each batch's rows once its deletion committed."""
    _check_batch(batch_rows)
    while True:
        with transaction(factory) as session:
            found = session.execute(due.limit(batch_rows)).all()
            if found:
                _delete(session, model, [row.id for row in found])
        yield found
        if len(found) < batch_rows:
            return


def _check_batch(batch_rows: int) -> None:
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")


def prune_page_results(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    keep_days: int,
    batch_rows: int = PRUNE_BATCH_ROWS,
) -> int:
    """Delete the page results older than ``keep_days`` except those of each site's last
    check, ``batch_rows`` per transaction; returns how many were deleted. Stopped midway,
    what was deleted stays deleted and the rest goes the next time."""
    _check_batch(batch_rows)
    cutoff = prune_cutoff(now, keep_days)
    deleted, since = 0, None
    while True:
        with transaction(factory) as session:
            count, since = _prune_batch(session, cutoff=cutoff, since=since, rows=batch_rows)
        deleted += count
        if count < batch_rows:
            return deleted


@dataclass(frozen=True)
class Pruned:
    """What one pruning deleted."""

    page_results: int
    page_renders: int
    screenshots: int  # files removed from the data directory
    crawl_jobs: int


def prune(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    keep_days: int,
    data_dir: Path,
    batch_rows: int = PRUNE_BATCH_ROWS,
) -> Pruned:
    """Everything older than ``keep_days`` that the window covers (``db prune``, the daily
    pass): page results, renders and their screenshots, finished queue jobs."""
    results = prune_page_results(factory, now=now, keep_days=keep_days, batch_rows=batch_rows)
    renders, files = prune_page_renders(
        factory, now=now, keep_days=keep_days, data_dir=data_dir, batch_rows=batch_rows
    )
    jobs = prune_crawl_jobs(factory, now=now, keep_days=keep_days, batch_rows=batch_rows)
    return Pruned(results, renders, files, jobs)


def prune_page_renders(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    keep_days: int,
    data_dir: Path,
    batch_rows: int = PRUNE_BATCH_ROWS,
) -> tuple[int, int]:
    """Delete the renders older than ``keep_days`` except those of each site's last check,
    then their screenshot files; returns (rows, files). A file is removed only after its row's
    deletion committed, so a screenshot a row still names is never missing; a file already
    gone is no error."""
    kept = select(Site.last_check_id).where(Site.last_check_id.is_not(None))
    due = (
        select(PageRender.id, PageRender.screenshot)
        .where(PageRender.rendered_at < prune_cutoff(now, keep_days),
               PageRender.check_id.not_in(kept))
        .order_by(PageRender.id)
    )
    root = data_dir.resolve()
    rows = files = 0
    for batch in _in_batches(factory, due, PageRender, batch_rows):
        rows += len(batch)
        files += sum(_remove(root, row.screenshot) for row in batch if row.screenshot)
    return rows, files


def _remove(root: Path, relative: str) -> bool:
    """Remove a screenshot named relative to the data directory; never a file outside it."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        log.warning("screenshot %r is outside the data directory: left alone", relative)
        return False
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def prune_crawl_jobs(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    keep_days: int,
    batch_rows: int = PRUNE_BATCH_ROWS,
) -> int:
    """Delete the queue's jobs that finished (done or failed) before the window; queued and
    running ones are never touched."""
    due = (
        select(CrawlJob.id)
        .where(CrawlJob.state.in_([JobState.DONE, JobState.FAILED]),
               CrawlJob.finished_at < prune_cutoff(now, keep_days))
        .order_by(CrawlJob.id)
    )
    return sum(len(batch) for batch in _in_batches(factory, due, CrawlJob, batch_rows))
