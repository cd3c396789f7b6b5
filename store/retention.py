"""How long page results are kept: ``[store] keep_page_results_days``.

Page results are the bulk of the database (a row per page per night). Older ones are deleted;
site checks (the counts and reasons of every night) and the state history are kept, and so
are all the page rows of each site's last complete check (``sites.last_check_id``), whatever
their age: the next incremental crawl carries its verdicts forward from them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.models import PageResult, Site


def prune_cutoff(now: datetime, keep_days: int) -> datetime:
    """Page results fetched before this moment are pruned."""
    return now - timedelta(days=keep_days)


def prune_page_results(session: Session, *, now: datetime, keep_days: int) -> int:
    """Delete the page results older than ``keep_days`` except those of each site's last
    check; returns how many were deleted."""
    kept = select(Site.last_check_id).where(Site.last_check_id.is_not(None))
    result = session.execute(
        delete(PageResult)
        .where(
            PageResult.fetched_at < prune_cutoff(now, keep_days),
            PageResult.check_id.not_in(kept),
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
