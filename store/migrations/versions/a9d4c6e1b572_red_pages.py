"""red_pages: the 网络红页 badgewatch serves for units without a site of their own

One row per red-page site, created when its badge is issued: the unit's draft and, once
published (发布), the content served at the site's domain. Existing sites have none.

Revision ID: a9d4c6e1b572
Revises: f3b7d2c91e08
Create Date: 2026-12-01 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = 'a9d4c6e1b572'
down_revision = 'f3b7d2c91e08'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'red_pages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('draft', sa.JSON(), nullable=False),
        sa.Column('published', sa.JSON(), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('published_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_red_pages_site_id_sites')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_red_pages')),
        sa.UniqueConstraint('site_id', name=op.f('uq_red_pages_site_id')),
    )


def downgrade() -> None:
    op.drop_table('red_pages')
