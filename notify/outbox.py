"""The transactional outbox: notifications are rows written with the fact they announce.

``enqueue`` adds a row inside the caller's transaction, so a badge code is never issued
without its notice and a notice never goes out for a rolled-back fact. ``deliver_due`` later
sends each row exactly once, even with several deliverers running at the same time:

1. claim one due row in a short transaction of its own: bump ``attempts`` and push
   ``next_attempt_at`` past a lease, so no other deliverer sees it as due
   (PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``; SQLite: an UPDATE conditional on the
   ``status`` and ``attempts`` that were read, which only one writer can win);
2. send it with no transaction open (a slow server never holds a database lock);
3. record the outcome: SENT, or the error with the next attempt after exponential backoff,
   or FAILED once ``max_attempts`` are spent.

A deliverer that dies between 1 and 3 leaves the row PENDING; it is retried when the lease
runs out, and that attempt counts.

A message carrying a secret (a 验证码) names it in ``redact``: once the row is settled (SENT or
FAILED) the secret in its body is replaced by ``MASK``, so the table never keeps a usable one.
``queued_keys`` tells the code that opened a transaction what it queued, so an entry point can
send exactly that after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import NotifyConfig
from notify.channels import Channel, DeliveryError
from store.db import dialect_insert, transaction
from store.lease import claim_due, update_if
from store.models import OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=10)
"""How long a claimed row stays invisible to other deliverers while it is being sent."""

MAX_BACKOFF = timedelta(days=7)
"""Upper bound of one retry delay; keeps a large ``max_attempts`` from overflowing."""

_ERROR_CHARS = 2000  # last_error keeps the start of very long error texts

MASK = "******"
"""What a redacted secret reads as in a settled message's body."""

_QUEUED = "outbox.queued"  # Session.info: the keys enqueue added in this session


@dataclass
class DeliveryReport:
    """What one ``deliver_due`` run did, for logs and the operator's command line."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed


@dataclass(frozen=True)
class _Claim:
    """A snapshot of a claimed row, so sending needs no open session."""

    id: int
    key: str
    channel: str
    recipient: str
    subject: str | None
    body: str
    attempts: int  # including the attempt being made
    redact: str | None


def _require_aware(now: datetime) -> None:
    """Naive datetimes are ambiguous (server zone or UTC?); the store refuses them as well."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")


def enqueue(
    session: Session,
    *,
    key: str,
    channel: str,
    recipient: str,
    subject: str | None,
    body: str,
    now: datetime,
    redact: str | None = None,
) -> OutboxMessage | None:
    """Add a PENDING message unless ``key`` is already queued; the caller commits.

    Returns the new row, or None when a message with this key exists (so repeating the
    step that announces a fact never announces it twice). Uses INSERT ... ON CONFLICT DO
    NOTHING, so two transactions racing on one key also end with a single row.
    ``redact``: a secret in ``body``, masked once the message is settled.
    """
    _require_aware(now)
    if not key or not channel or not recipient:
        raise ValueError("key, channel and recipient are required")
    if redact is not None and (not redact or redact not in body):
        raise ValueError("redact must be a text found in the body")
    values = {
        "key": key,
        "channel": channel,
        "recipient": recipient,
        "subject": subject,
        "body": body,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "last_error": None,
        "sent_at": None,
        "redact": redact,
    }
    statement = (
        dialect_insert(session, OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[OutboxMessage.key])
        .returning(OutboxMessage.id)
    )
    new_id = session.execute(statement).scalar_one_or_none()
    if new_id is None:
        logger.debug("outbox: %s already queued", key)
        return None
    session.info.setdefault(_QUEUED, []).append(key)
    return session.get(OutboxMessage, new_id)


def queued_keys(session: Session) -> list[str]:
    """The keys ``enqueue`` added through ``session`` (and forgets them): what an entry point
    delivers once the transaction has committed."""
    keys: list[str] = session.info.pop(_QUEUED, [])
    return keys


def retry_delay(notify: NotifyConfig, attempts: int) -> timedelta:
    """Exponential backoff: ``backoff_seconds * 2**(attempts-1)``, capped at ``MAX_BACKOFF``."""
    exponent = max(attempts - 1, 0)
    max_seconds = MAX_BACKOFF.total_seconds()
    if exponent >= 64:  # 2**64 * anything positive is past the cap; avoid huge floats
        seconds = max_seconds if notify.backoff_seconds > 0 else 0.0
    else:
        seconds = min(notify.backoff_seconds * 2**exponent, max_seconds)
    return timedelta(seconds=seconds)


def _due(
    now: datetime, skip: set[int], limit: int, keys: Collection[str] | None = None
) -> Select[OutboxMessage]:
    """The rows a deliverer may take: pending, due, and not already handled by this run."""
    query = select(OutboxMessage).where(
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.next_attempt_at <= now,
    )
    if keys is not None:
        query = query.where(OutboxMessage.key.in_(keys))
    if skip:
        query = query.where(OutboxMessage.id.not_in(skip))
    return query.order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)


def _unchanged(row_id: int, attempts: int) -> tuple[ColumnElement[bool], ...]:
    """The row still as it was read or claimed: nobody has leased or settled it since."""
    return (
        OutboxMessage.id == row_id,
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.attempts == attempts,
    )


def _give_up_interrupted(session: Session, row: OutboxMessage, report: DeliveryReport) -> None:
    """A row whose last allowed attempt was interrupted is not sent again: mark it FAILED."""
    error = (row.last_error or "") + (
        f"{' | ' if row.last_error else ''}gave up after {row.attempts} attempts"
        " (the last one was interrupted or max_attempts was lowered)"
    )
    masked = {"body": row.body.replace(row.redact, MASK), "redact": None} if row.redact else {}
    won = update_if(
        session,
        OutboxMessage.id,
        *_unchanged(row.id, row.attempts),
        status=OutboxStatus.FAILED,
        last_error=error[-_ERROR_CHARS:],
        **masked,
    )
    if won is not None:  # another deliverer may have settled it first
        report.failed += 1
        report.errors.append(f"{row.key}: {error}")
        logger.error("outbox: %s: %s", row.key, error)


def _claim(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    lease: timedelta,
    max_attempts: int,
    skip: set[int],
    report: DeliveryReport,
    keys: Collection[str] | None = None,
) -> _Claim | None:
    """The next due row, leased; rows out of attempts are marked FAILED on the way."""

    def take(session: Session, row: OutboxMessage) -> _Claim | None:
        skip.add(row.id)
        if row.attempts >= max_attempts:
            _give_up_interrupted(session, row, report)
            return None
        return _lease(session, row, now, lease)

    claimed = claim_due(factory, lambda n: _due(now, skip, n, keys), take, limit=1)
    return claimed[0] if claimed else None


def _lease(session: Session, row: OutboxMessage, now: datetime, lease: timedelta) -> _Claim | None:
    """Count the attempt and hide the row until the lease ends; None if someone was faster."""
    won = update_if(
        session,
        OutboxMessage.id,
        *_unchanged(row.id, row.attempts),
        attempts=row.attempts + 1,
        next_attempt_at=now + lease,
    )
    if won is None:
        return None
    return _Claim(
        id=row.id,
        key=row.key,
        channel=row.channel,
        recipient=row.recipient,
        subject=row.subject,
        body=row.body,
        attempts=row.attempts + 1,
        redact=row.redact,
    )


def _send(claim: _Claim, channels: Mapping[str, Channel]) -> str | None:
    """Send one message; the error text on failure, None on success. Never raises."""
    channel = channels.get(claim.channel)
    if channel is None:
        known = ", ".join(sorted(channels)) or "none"
        return f"no channel {claim.channel!r} is configured (configured: {known})"
    try:
        channel.send(claim.recipient, claim.subject, claim.body)
    except DeliveryError as exc:
        return str(exc) or type(exc).__name__
    except Exception as exc:
        # A bug in a channel must not leave the row leased and the run aborted.
        logger.exception("outbox: channel %r crashed on %s", claim.channel, claim.key)
        return f"{claim.channel}: unexpected {type(exc).__name__}: {exc}"
    return None


def _record(
    factory: sessionmaker[Session],
    claim: _Claim,
    *,
    error: str | None,
    now: datetime,
    notify: NotifyConfig,
    report: DeliveryReport,
) -> None:
    """Write the outcome of one attempt, conditional on still holding the claim."""
    with transaction(factory) as session:
        if error is None:
            values: dict[str, object] = {"status": OutboxStatus.SENT, "sent_at": now}
            outcome = "sent"
        elif claim.attempts >= notify.max_attempts:
            values = {"status": OutboxStatus.FAILED, "last_error": error[:_ERROR_CHARS]}
            outcome = "failed"
        else:
            values = {
                "last_error": error[:_ERROR_CHARS],
                "next_attempt_at": now + retry_delay(notify, claim.attempts),
            }
            outcome = "retrying"
        if claim.redact is not None and outcome != "retrying":
            values |= {"body": claim.body.replace(claim.redact, MASK), "redact": None}
        held = update_if(session, OutboxMessage.id, *_unchanged(claim.id, claim.attempts), **values)
    if held is None:
        # Only possible when the lease ran out mid-send and another deliverer took over.
        logger.warning("outbox: %s was taken over while being sent (%s)", claim.key, outcome)
    if outcome == "sent":
        report.sent += 1
        logger.info("outbox: sent %s by %s", claim.key, claim.channel)
        return
    assert error is not None
    report.errors.append(f"{claim.key}: {error}")
    if outcome == "failed":
        report.failed += 1
        logger.error(
            "outbox: gave up on %s after %d attempts: %s", claim.key, claim.attempts, error
        )
    else:
        report.retrying += 1
        logger.warning("outbox: attempt %d of %s failed: %s", claim.attempts, claim.key, error)


def deliver_due(
    factory: sessionmaker[Session],
    channels: Mapping[str, Channel],
    *,
    now: datetime,
    notify: NotifyConfig,
    limit: int = 100,
    lease: timedelta = DEFAULT_LEASE,
    keys: Collection[str] | None = None,
) -> DeliveryReport:
    """Send up to ``limit`` due messages, each once, and record every outcome; with ``keys``,
    only those messages (the ones a person's action just queued, such as a 验证码).

    Safe to run from several processes or threads at once. ``now`` is a parameter so that
    schedules and tests decide the time; each row is tried at most once per call.
    """
    _require_aware(now)
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if lease <= timedelta(0):
        raise ValueError("lease must be positive")
    report = DeliveryReport()
    skip: set[int] = set()
    while report.attempted < limit:
        claim = _claim(
            factory,
            now=now,
            lease=lease,
            max_attempts=notify.max_attempts,
            skip=skip,
            report=report,
            keys=keys,
        )
        if claim is None:
            break
        error = _send(claim, channels)
        _record(factory, claim, error=error, now=now, notify=notify, report=report)
    return report
