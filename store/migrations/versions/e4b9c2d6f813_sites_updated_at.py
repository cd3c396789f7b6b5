"""sites.updated_at: when a site's row last changed, however it changed

The live compliance pages (合规情况) keep the office trees they read under a version of the data;
this column lets that version see an edit no other column shows (a rename by an import, an
expiry date or footer number set in 网站信息 or by ``sites set``, a re-review's new details).
The model sets it on every update; existing rows start without one.

Revision ID: e4b9c2d6f813
Revises: d1e7a3c9b5f2
Create Date: 2026-12-01 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = 'e4b9c2d6f813'
down_revision = 'd1e7a3c9b5f2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        'sites', sa.Column('updated_at', store.models.UTCDateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    # Not a batch copy of the table on SQLite: dropping sites to copy it fails while other rows
    # point at it and foreign keys are enforced (and this step may run inside a transaction,
    # where SQLite ignores turning them off). A plain column goes with ALTER TABLE on both.
    op.drop_column('sites', 'updated_at')
