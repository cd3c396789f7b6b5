"""sites.site_code, sites.icp, sites.psb: the footer numbers a site registered (optional)

The page check compares a site's footer with those set (crawler.checks.footer); existing sites
have none, so nothing changes for them.

Revision ID: f3b7d2c91e08
Revises: e5f1c8a2d904
Create Date: 2026-12-02 00:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'f3b7d2c91e08'
down_revision = 'e5f1c8a2d904'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('site_code', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('icp', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('psb', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('psb')
        batch_op.drop_column('icp')
        batch_op.drop_column('site_code')
