"""What every request of the web application shares: settings, database, calendar and clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

from flask import current_app, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from badgewatch import localtime
from badgewatch.config import Config, WebConfig
from workflow.workdays import WorkCalendar

EXTENSION = "badgewatch"


@dataclass(frozen=True)
class WebState:
    """Built once by ``create_app``; the clock is a parameter so tests can move time."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    calendar: WorkCalendar
    clock: Callable[[], datetime]

    @property
    def web(self) -> WebConfig:
        return self.config.web

    @property
    def zone(self) -> ZoneInfo:
        return self.config.calendar.zone

    def close(self) -> None:
        self.engine.dispose()

    def now(self) -> datetime:
        return self.clock()

    def local_text(self, moment: datetime) -> str:
        """A time as people read it: Beijing time (``[calendar] timezone``)."""
        return localtime.text(moment, self.zone)


def state() -> WebState:
    return cast(WebState, current_app.extensions[EXTENSION])


def client_address() -> str:
    """The address the request came from (behind ``[web] trusted_proxies`` proxies: theirs)."""
    return request.remote_addr or "unknown"
