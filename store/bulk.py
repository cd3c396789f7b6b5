"""Many rows into one table at once: ``COPY`` on PostgreSQL, an executemany INSERT on SQLite.

The crawl writes a row per page per night, so on PostgreSQL the rows go through psycopg 3's
``COPY ... FROM STDIN`` on the session's own connection: inside the caller's transaction, so a
rollback leaves nothing, exactly as the INSERT would. Each value goes through its column's own
bind processing (UTC datetimes, JSON serialised as SQLAlchemy serialises it), so both paths
store the same values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Column, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from store.db import is_postgres
from store.models import Base


def _column_default(column: Column[Any]) -> Any:
    """What an INSERT would give a column the row leaves out (a scalar Python default)."""
    default = column.default
    if default is None:
        return None
    if not default.is_scalar:
        raise ValueError(f"{column.table.name}.{column.name}: only scalar defaults can be copied")
    return getattr(default, "arg", None)


def _processors(
    columns: Sequence[Column[Any]], dialect: Dialect
) -> list[Callable[[Any], Any] | None]:
    return [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns]


def copy_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` (dicts keyed by column name, as ``insert(table)`` takes them) with
    ``COPY``; columns with a server-side default and no value in any row (the id) are left
    to the database."""
    keys = {key for row in rows for key in row}
    columns = [c for c in table.columns if c.name in keys or c.default is not None]
    unknown = keys - {c.name for c in table.columns}
    if unknown:
        raise ValueError(f"{table.name}: no such column {sorted(unknown)}")
    defaults = [_column_default(c) for c in columns]
    bind = session.connection()
    processors = _processors(columns, bind.dialect)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    )
    fields = list(zip([c.name for c in columns], defaults, processors, strict=True))
    driver = bind.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([
                    row.get(name, default) if process is None else process(row.get(name, default))
                    for name, default, process in fields
                ])
    except psycopg.Error as exc:
        # The same exception classes the INSERT raises (IntegrityError, DataError, ...).
        raise DBAPIError.instance(
            statement.as_string(driver), None, exc, psycopg.Error
        ) from exc


def insert_rows(
    session: Session, model: type[Base], rows: Sequence[dict[str, Any]], *, copy: bool = True
) -> None:
    """Insert ``rows`` of ``model``'s table in the session's transaction: ``COPY`` on
    PostgreSQL (unless ``copy`` is False, the plain INSERT kept as the benchmark's baseline),
    executemany on SQLite."""
    if not rows:
        return
    table = model.__table__
    assert isinstance(table, Table)
    if copy and is_postgres(session):
        copy_rows(session, table, rows)
    else:
        session.execute(insert(table), list(rows))
