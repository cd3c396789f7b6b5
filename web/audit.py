"""The audit log: every state-changing action, with who, when, from where and on what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import AuditEntry, User


def record(
    session: Session,
    *,
    action: str,
    now: datetime,
    user: User | None,
    actor: str | None = None,
    address: str | None = None,
    object_type: str | None = None,
    object_id: object = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one entry in the caller's transaction, so the action and its record commit together.
    ``actor`` names who acted when there is no user (a failed login's typed name, the CLI)."""
    session.add(
        AuditEntry(
            at=now,
            user_id=user.id if user is not None else None,
            actor=actor if actor is not None else (user.login or user.name if user else "-"),
            address=address,
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            detail=detail or {},
        )
    )


def count_since(
    session: Session, *, action: str, since: datetime, user: User, same_unit: bool = False
) -> int:
    """How many times ``action`` was done after ``since``: by ``user``, or with ``same_unit`` by
    anyone of the user's unit. What the web's rate limits count (every worker sees the same)."""
    query = select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == action, AuditEntry.at > since
    )
    if same_unit:
        query = query.join(User, User.id == AuditEntry.user_id).where(
            User.unit_id == user.unit_id
        )
    else:
        query = query.where(AuditEntry.user_id == user.id)
    return session.scalar(query) or 0
