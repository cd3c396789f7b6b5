"""page_results.error: why a page was not fetched

Revision ID: 5d1c0e7f2a41
Revises: acad6c6cb8e2
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5d1c0e7f2a41"
down_revision = "acad6c6cb8e2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("page_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("page_results", schema=None) as batch_op:
        batch_op.drop_column("error")
