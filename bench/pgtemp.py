"""A throwaway PostgreSQL database for a benchmark: created on entry, dropped on exit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import make_url, text

from store.db import make_engine


@contextmanager
def temporary_database(admin_url: str, prefix: str, *, keep: bool = False) -> Iterator[str]:
    """A new database beside ``admin_url``'s, named ``prefix`` and a random suffix; yields its
    URL. Dropped afterwards (connections forced off) unless ``keep``, when its URL is printed."""
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        if keep:
            print(f"kept: {url}")
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
