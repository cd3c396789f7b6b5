"""sites.expires_on: the day a site's domain registration expires (optional)

The monitor reminds the unit 30 and 7 days before and on the day, lists it in the office's
digest and report, and calls a site whose name stopped resolving from that day on
``domain_expired`` rather than ``unreachable``. Existing sites have none: nothing changes.

Revision ID: a9d4e6b2c710
Revises: a9d4c6e1b572
Create Date: 2026-12-01 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'a9d4e6b2c710'
down_revision = 'a9d4c6e1b572'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('expires_on')
