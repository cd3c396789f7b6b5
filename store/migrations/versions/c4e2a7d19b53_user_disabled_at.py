"""users.disabled_at: an operator disables a person's account (停用)

Revision ID: c4e2a7d19b53
Revises: c3a1e5d7f901
Create Date: 2026-12-01 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = 'c4e2a7d19b53'
down_revision = 'c3a1e5d7f901'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('disabled_at', store.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')
