"""Notices go out once the action that queued them has committed, as at the command line
(``deliver_now``): only what this action queued, each message waiting at most its channel's
timeout; a failure stays in the outbox for the monitor's deliverer."""

from __future__ import annotations

from sqlalchemy.orm import Session

from notify.channels import channels_from_config
from notify.outbox import DeliveryReport, deliver_due, queued_keys
from web.context import state


def deliver_queued(session: Session) -> DeliveryReport:
    """Send what ``session`` queued in its committed transaction, and nothing else."""
    keys = queued_keys(session)
    if not keys:
        return DeliveryReport()
    st = state()
    return deliver_due(st.sessions, channels_from_config(st.config), now=st.now(),
                       notify=st.config.notify, keys=keys)
