"""What an entry point needs, built once from the configuration: database, calendar, workflow."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import Config
from store.db import make_engine, session_factory
from workflow.service import Workflow
from workflow.workdays import WorkCalendar


def utcnow() -> datetime:
    """The clock; only entry points read it, everything below takes ``now``."""
    return datetime.now(UTC)


@dataclass
class Runtime:
    config: Config
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.config.database.url, self.config.database.echo)
        return self._engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

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
