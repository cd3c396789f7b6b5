"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL, and
the newest ones go down and up again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from store.db import make_engine
from store.migrate import alembic_config, upgrade
from store.models import Base

# The revision before c5d2f8a4e617 (worker_beats), d1e7a3c9b5f2 (the sites key on PostgreSQL)
# and e4b9c2d6f813 (sites.updated_at).
PREVIOUS_HEAD = "b3e8f5a2c614"


def differences(url: str) -> list[object]:
    """What autogenerate would change to make the database match the models; Procrastinate's
    own tables (applied from its package, not from our models) left aside."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True,
                "include_name": lambda name, kind, _parent: not (
                    kind == "table" and str(name).startswith("procrastinate_")),
            })
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def foreign_keys(url: str, table: str) -> set[str]:
    engine = make_engine(url)
    try:
        return {str(fk["name"]) for fk in sa.inspect(engine).get_foreign_keys(table)}
    finally:
        engine.dispose()


def test_the_migrated_schema_is_the_models_schema(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    assert differences(empty_db_url) == []
    assert "fk_sites_last_check_id_site_checks" in foreign_keys(empty_db_url, "sites")


def test_the_newest_migrations_go_down_and_up_again(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    command.downgrade(alembic_config(empty_db_url), PREVIOUS_HEAD)
    engine = make_engine(empty_db_url)
    try:
        inspector = sa.inspect(engine)
        assert "worker_beats" not in inspector.get_table_names()
        assert "updated_at" not in {c["name"] for c in inspector.get_columns("sites")}
    finally:
        engine.dispose()
    upgrade(empty_db_url)
    assert differences(empty_db_url) == []
