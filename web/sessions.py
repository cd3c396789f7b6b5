"""Server-side login sessions, one row each in ``web_sessions``.

The browser's cookie holds a random token (``secrets``); the table holds its SHA-256, so
reading the table logs nobody in. A login always starts a new session (a token planted before
it is worthless); a session ends when idle for ``[web] session_idle_minutes``, after
``[web] session_max_hours`` in any case, at logout, which deletes its row, and when its
account is disabled.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from badgewatch.config import WebConfig
from store.models import Role, User, WebSession

COOKIE = "bw_session"
# A session's last_seen_at is written at most this often, not on every request.
TOUCH_EVERY = timedelta(seconds=60)


def _row_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class Found:
    """What a request's cookie leads to: a live session, or none (``expired`` when it was one)."""

    session: WebSession | None
    expired: bool = False


def start(session: Session, user: User, address: str, now: datetime, web: WebConfig) -> str:
    """A new session for ``user``; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id=_row_id(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=web.session_max_hours),
            address=address[:45],
        )
    )
    session.flush()
    return token


def find(session: Session, token: str, now: datetime, web: WebConfig) -> Found:
    """The live session of ``token``; an expired one is deleted on the way, and so is one
    whose account was disabled (however the session outlived the disabling)."""
    row = session.get(WebSession, _row_id(token))
    if row is None:
        return Found(None)
    if row.user.disabled_at is not None or row.user.role is Role.SYSTEM:
        session.delete(row)
        return Found(None)
    idle = timedelta(minutes=web.session_idle_minutes)
    if now >= row.expires_at or now - row.last_seen_at >= idle:
        session.delete(row)
        return Found(None, expired=True)
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return Found(row)


def end(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id == _row_id(token)))


def end_all(session: Session, user_id: int, *, keep: str | None = None) -> None:
    """Every session of a user (their password changed), but the one of token ``keep``."""
    query = delete(WebSession).where(WebSession.user_id == user_id)
    if keep is not None:
        query = query.where(WebSession.id != _row_id(keep))
    session.execute(query)
