"""``badgewatch notify``: the outbox of email, SMS and webhook messages."""

from __future__ import annotations

import click
from sqlalchemy import select

from badgewatch.cli.main import emit, runtime
from badgewatch.runtime import utcnow
from notify.channels import channels_from_config
from notify.outbox import deliver_due
from store.db import transaction
from store.models import OutboxMessage


@click.group("notify")
def command() -> None:
    """Notifications waiting, sent or failed."""


@command.command("deliver")
@click.option("--json", "as_json", is_flag=True)
def deliver(as_json: bool) -> None:
    """Send every notification that is due, retrying earlier failures."""
    rt = runtime()
    report = deliver_due(
        rt.sessions, channels_from_config(rt.config), now=utcnow(), notify=rt.config.notify
    )
    counts = {"sent": report.sent, "retrying": report.retrying, "failed": report.failed}
    if as_json:
        emit(counts)
    else:
        click.echo(", ".join(f"{v} {k}" for k, v in counts.items()))


@command.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_messages(as_json: bool) -> None:
    """List the outbox, newest first."""
    with transaction(runtime().sessions) as session:
        rows = [
            {
                "id": m.id,
                "channel": m.channel,
                "recipient": m.recipient,
                "subject": m.subject,
                "status": m.status.value,
                "attempts": m.attempts,
                "last_error": m.last_error,
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            }
            for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
        ]
    if as_json:
        emit({"messages": rows})
        return
    for row in rows:
        click.echo(
            f"{row['id']}\t{row['status']}\t{row['channel']}\t{row['recipient']}\t"
            f"{row['subject'] or ''}\t{row['last_error'] or ''}"
        )
