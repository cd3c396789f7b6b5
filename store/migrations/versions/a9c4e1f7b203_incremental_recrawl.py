"""Incremental recrawl: each page's validators and body digest, carried verdicts, pruning by age

page_results gains etag, last_modified, digest (what the next crawl asks with and compares) and
carried (the verdict is the previous check's); site_checks gains incremental, pages_carried and
check_key; page_results.fetched_at is indexed for ``badgewatch db prune``. Existing rows have no
validators, so the first crawl after the upgrade fetches every page in full.

Revision ID: a9c4e1f7b203
Revises: a9c4e1b7d352
Create Date: 2026-12-01 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'a9c4e1f7b203'
down_revision = 'a9c4e1b7d352'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('page_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('etag', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('last_modified', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('digest', sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column('carried', sa.Boolean(), server_default=sa.text('false'), nullable=False)
        )
        batch_op.create_index(batch_op.f('ix_page_results_fetched_at'), ['fetched_at'])
    with op.batch_alter_table('site_checks', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('incremental', sa.Boolean(), server_default=sa.text('false'),
                      nullable=False)
        )
        batch_op.add_column(
            sa.Column('pages_carried', sa.Integer(), server_default=sa.text('0'), nullable=False)
        )
        batch_op.add_column(sa.Column('check_key', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('site_checks', schema=None) as batch_op:
        batch_op.drop_column('check_key')
        batch_op.drop_column('pages_carried')
        batch_op.drop_column('incremental')
    with op.batch_alter_table('page_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_page_results_fetched_at'))
        batch_op.drop_column('carried')
        batch_op.drop_column('digest')
        batch_op.drop_column('last_modified')
        batch_op.drop_column('etag')
