"""applications.rereview_site_id, sites.rereviewed_on: a re-review names the site it re-reviews

A ``rereview`` application names an existing site of its unit; approving it keeps the site's
identifier and records the day in ``sites.rereviewed_on``. Re-reviews stored before this
revision get the site of their unit with the same domain, if there is one.

Revision ID: a9c4e1b7d352
Revises: f3b7d2c91e08
Create Date: 2026-12-01 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'a9c4e1b7d352'
down_revision = 'f3b7d2c91e08'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rereview_site_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_applications_rereview_site_id_sites'), 'sites',
            ['rereview_site_id'], ['id'],
        )
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rereviewed_on', sa.Date(), nullable=True))
    op.execute(sa.text(
        "UPDATE applications SET rereview_site_id = (SELECT s.id FROM sites s"
        " WHERE s.domain = applications.domain AND s.unit_id = applications.unit_id)"
        " WHERE kind = 'rereview'"
    ))


def downgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('rereviewed_on')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_applications_rereview_site_id_sites'), type_='foreignkey'
        )
        batch_op.drop_column('rereview_site_id')
