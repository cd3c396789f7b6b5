"""How long page results are kept: ``[store] keep_page_results_days``.

Page results are the bulk of the database (a row per page per night). Older ones are deleted;
site checks (the counts and reasons of every night) and the state history are kept, and so
are all the page rows of each site's last complete check (``sites.last_check_id``), whatever
their age: the next incremental crawl carries its verdicts forward from them.

The rows go in batches, each its own transaction, so a table of millions of rows never holds
one long transaction (its locks, its WAL, a crawl's writes waiting behind it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from store.db import transaction
from store.models import PageResult, Site

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
    session.execute(
        delete(PageResult)
        .where(PageResult.id.in_([row.id for row in found]))
        .execution_options(synchronize_session=False)
    )
    return len(found), found[-1].fetched_at


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
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    cutoff = prune_cutoff(now, keep_days)
    deleted, since = 0, None
    while True:
        with transaction(factory) as session:
            count, since = _prune_batch(session, cutoff=cutoff, since=since, rows=batch_rows)
        deleted += count
        if count < batch_rows:
            return deleted
