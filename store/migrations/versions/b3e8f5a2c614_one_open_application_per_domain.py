"""applications: one open application per domain, held by a partial unique index

``workflow.claims`` refuses a second open application (submitted and not yet issued) for a
domain, but two transactions could pass that check at the same moment; the index makes the
second one fail. Databases written before the check may already hold several open applications
for one domain: the one furthest along the workflow (the earliest, among equals) stays open and
the others go back to 草稿, each with a recorded step saying which application holds the domain
(the unit sees it in the application's history and may edit and resubmit it, or leave it), and
a warning per returned application on stderr, in Chinese for the operator. The downgrade drops
the index; those drafts stay drafts.

Revision ID: b3e8f5a2c614
Revises: b8e2d4f6a913
Create Date: 2026-12-01 02:30:00
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from alembic import op

from badgewatch.domains import display_domain

revision = 'b3e8f5a2c614'
down_revision = 'b8e2d4f6a913'
branch_labels = None
depends_on = None

INDEX = 'uq_applications_open_domain'
OPEN_WHERE = "state NOT IN ('draft', 'issued')"
# How far along an open application is: the one to keep is the furthest (a rejected one waits
# for its unit to resubmit, so it comes last).
PROGRESS = {
    'materials_confirmed': 4,
    'approved_online': 3,
    'office_approved': 2,
    'submitted': 1,
}
EVENT = 'duplicate_returned'  # workflow.machine.DUPLICATE_RETURNED, as its history shows it

# Stored as the models' UTC datetimes are (SQLite keeps them without an offset).
NOW = sa.bindparam('now', type_=sa.DateTime(timezone=True))

log = logging.getLogger('alembic.runtime.migration')


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, domain, state, serial FROM applications"
        f" WHERE {OPEN_WHERE} ORDER BY domain, id"
    )).all()
    now = datetime.now(UTC)
    for domain, group in groupby(rows, key=lambda row: row.domain):
        held, *returned = sorted(group, key=lambda row: (-PROGRESS.get(row.state, 0), row.id))
        for row in sorted(returned, key=lambda row: row.id):
            _return_to_draft(bind, row, held, now)
            log.warning(
                '申请 %s（申请序号 %s）已退回草稿：域名 %s 已有办理中的申请 %s（申请序号 %s）',
                row.id, row.serial or '无', display_domain(domain), held.id, held.serial or '无',
            )
    # Not in a batch: on SQLite a copy of applications would drop the table transitions point to.
    op.create_index(
        INDEX, 'applications', ['domain'], unique=True,
        sqlite_where=sa.text(OPEN_WHERE), postgresql_where=sa.text(OPEN_WHERE),
    )


def _return_to_draft(
    bind: sa.Connection, row: sa.Row[Any], held: sa.Row[Any], now: datetime
) -> None:
    reason = (
        f"同一域名已有办理中的申请（申请序号 {held.serial or held.id}），本申请已退回草稿；"
        "如仍需办理，请修改后重新提交"
    )
    bind.execute(
        sa.text(
            "UPDATE applications SET state = 'draft', office_review_due = NULL,"
            " materials_due = NULL, version = version + 1, updated_at = :now WHERE id = :id"
        ).bindparams(NOW),
        {"id": row.id, "now": now},
    )
    bind.execute(
        sa.text(
            "INSERT INTO transitions (application_id, event, from_state, to_state, actor, role,"
            " at, reason) VALUES (:id, :event, :state, 'draft', 'system', 'system', :now,"
            " :reason)"
        ).bindparams(NOW),
        {"id": row.id, "event": EVENT, "state": row.state, "now": now, "reason": reason},
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name='applications')
