"""Claiming rows that several workers share: the crawl queue and the notification outbox.

A worker claims the oldest due rows and leases them with an UPDATE conditional on what it
read, which only one writer can win. PostgreSQL locks the candidates it reads
(``SELECT ... FOR UPDATE SKIP LOCKED``), so concurrent workers read different rows. SQLite
has no row locks: the candidates are read in one transaction and won in another, because a
SQLite write must not start from an older read snapshot, and the conditional UPDATE loses
cleanly (no row) when another worker took the row in between.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from store.db import is_postgres, transaction

K = TypeVar("K")
R = TypeVar("R")
C = TypeVar("C")


def update_if(
    session: Session, key: InstrumentedAttribute[K], /, *where: ColumnElement[bool], **values: Any
) -> K | None:
    """Change the one row that still matches ``where`` (``values`` by column name); its
    ``key``, or None when no row matched (another writer changed it first). Loaded objects
    are not refreshed."""
    return session.execute(
        update(key.class_)
        .where(*where)
        .values(**values)
        .returning(key)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()


def claim_due(
    factory: sessionmaker[Session],
    due: Callable[[int], Select[R]],
    take: Callable[[Session, R], C | None],
    *,
    limit: int,
) -> list[C]:
    """Up to ``limit`` claims: ``due(n)`` selects the oldest n candidates, ``take`` leases
    one (None when it lost the row or would not take it). Opens its own transactions."""
    with factory() as session:  # no connection is opened just to ask for the dialect
        postgres = is_postgres(session)
    claims: list[C] = []
    while len(claims) < limit:
        wanted = limit - len(claims)
        with transaction(factory) as session:
            query = due(wanted)
            rows = session.scalars(
                query.with_for_update(skip_locked=True) if postgres else query
            ).all()
            if postgres:
                claims.extend(_taken(session, rows, take))
            else:
                session.expunge_all()
        if rows and not postgres:
            with transaction(factory) as session:
                claims.extend(_taken(session, rows, take))
        if len(rows) < wanted:  # nothing more is due
            break
    return claims


def _taken(
    session: Session, rows: Sequence[R], take: Callable[[Session, R], C | None]
) -> list[C]:
    won = (take(session, row) for row in rows)
    return [claim for claim in won if claim is not None]
