"""outbox.redact: a secret in a message's body (a 验证码), masked once the message is settled

Revision ID: d7b3e9a1c246
Revises: c4e2a7d19b53
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'd7b3e9a1c246'
down_revision = 'c4e2a7d19b53'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redact', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('redact')
