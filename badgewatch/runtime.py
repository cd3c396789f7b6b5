"""What an entry point needs, built once from the configuration: database, calendar, workflow."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import Config
from store.db import make_engine, session_factory
from workflow.service import Workflow
from workflow.workdays import WorkCalendar


def utcnow() -> datetime:
    """The clock; only entry points read it, everything below takes ``now``."""
    return datetime.now(UTC)


class DatabaseNotReady(Exception):
    """The database has no schema, or not this version's: a message saying what to run."""


def shown_url(url: str) -> str:
    """The database URL as it may be printed or logged: never with its password."""
    return make_url(url).render_as_string(hide_password=True)


@dataclass
class Runtime:
    config: Config
    check_schema: bool = True  # refuse an unmigrated database on first use (entry points)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.config.database.url, self.config.database.echo)
        return self._engine

    def _has_procrastinate(self) -> bool:
        with self.engine.connect() as connection:
            found = connection.scalar(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL"))
        return bool(found)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        if self.check_schema:
            self.require_schema()
        return session_factory(self.engine)

    def require_schema(self) -> None:
        """Raise ``DatabaseNotReady`` unless the database is at this version's schema."""
        # Alembic only when a command first uses the database: --help stays fast.
        from alembic.runtime.migration import MigrationContext  # noqa: PLC0415
        from alembic.script import ScriptDirectory  # noqa: PLC0415

        from store.migrate import alembic_config  # noqa: PLC0415

        url = self.config.database.url
        script = ScriptDirectory.from_config(alembic_config(url))
        with self.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
        where = f"the database at {shown_url(url)}"
        if current == set(script.get_heads()):
            if url.startswith("postgresql") and not self._has_procrastinate():
                raise DatabaseNotReady(
                    f"{where} has no Procrastinate tables (the crawl work's queue on "
                    "PostgreSQL): run `badgewatch db upgrade`"
                )
            return
        if not current:
            raise DatabaseNotReady(
                f"{where} is not migrated (it has no badgewatch tables): run "
                "`badgewatch db upgrade`, or check [database] url if it names the wrong database"
            )
        known = {revision.revision for revision in script.walk_revisions()}
        if current - known:
            raise DatabaseNotReady(
                f"{where} is at schema revision {', '.join(sorted(current))}, which this version "
                "of badgewatch does not know: upgrade badgewatch, or check [database] url"
            )
        raise DatabaseNotReady(
            f"{where} is not migrated to this version's schema (it is at "
            f"{', '.join(sorted(current))}): run `badgewatch db upgrade`"
        )

    @cached_property
    def calendar(self) -> WorkCalendar:
        return WorkCalendar.from_file(self.config.calendar.extra_file)

    @cached_property
    def workflow(self) -> Workflow:
        return Workflow(self.config, self.calendar)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
