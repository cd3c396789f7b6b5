"""Schema migrations with Alembic, driven from code so no alembic.ini is needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text

from store.db import make_engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Our tables by Alembic; on PostgreSQL also Procrastinate's, which run the crawl work
    there (``monitor/workers.py``)."""
    command.upgrade(alembic_config(url), revision)
    if url.startswith("postgresql"):
        apply_procrastinate_schema(url)


def apply_procrastinate_schema(url: str) -> bool:
    """Create Procrastinate's tables and functions unless they exist; True if it created them.

    Its schema is its own, versioned with the package rather than with our migrations: a
    database that has it is left as it is (a later Procrastinate release that changes it
    ships migrations of its own, applied as its documentation says)."""
    from procrastinate.schema import SchemaManager  # noqa: PLC0415 - PostgreSQL only

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            exists = conn.execute(
                text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
            ).scalar_one()
            if exists:
                return False
            # Sent as one script, without parameters (its text holds % signs), in the
            # transaction of the check: all of it or nothing.
            raw: Any = conn.connection.driver_connection
            raw.execute(SchemaManager.get_schema())
        return True
    finally:
        engine.dispose()


def revision(url: str, message: str) -> None:
    """Autogenerate a migration from the models (a developer's command)."""
    command.revision(alembic_config(url), message=message, autogenerate=True)
