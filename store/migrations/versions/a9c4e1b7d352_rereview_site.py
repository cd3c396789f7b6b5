"""applications.rereview_site_id, sites.rereviewed_on: a re-review names the site it re-reviews

A ``rereview`` application names an existing site of its unit; approving it keeps the site's
identifier and records the day in ``sites.rereviewed_on``. Re-reviews stored before this
revision get the site of their unit with the same domain, if there is one.

Revision ID: a9c4e1b7d352
Revises: a9d4e6b2c710
Create Date: 2026-12-01 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'a9c4e1b7d352'
down_revision = 'a9d4e6b2c710'
branch_labels = None
depends_on = None


FK = 'fk_applications_rereview_site_id_sites'


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # In place: a batch copy of applications would drop the table its transitions point to.
        op.execute(sa.text(
            f'ALTER TABLE applications ADD COLUMN rereview_site_id INTEGER'
            f' CONSTRAINT {FK} REFERENCES sites (id)'
        ))
    else:
        op.add_column('applications', sa.Column('rereview_site_id', sa.Integer(), nullable=True))
        op.create_foreign_key(FK, 'applications', 'sites', ['rereview_site_id'], ['id'])
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rereviewed_on', sa.Date(), nullable=True))
    op.execute(sa.text(
        "UPDATE applications SET rereview_site_id = (SELECT s.id FROM sites s"
        " WHERE s.domain = applications.domain AND s.unit_id = applications.unit_id)"
        " WHERE kind = 'rereview'"
    ))


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        # SQLite drops these columns by copying the tables, and dropping sites or applications
        # with other rows pointing at them fails while foreign keys are enforced: SQLite's own
        # recipe for changing a table turns them off first (this must come before any row is
        # written, while no transaction has begun yet).
        op.execute(sa.text('PRAGMA foreign_keys = OFF'))
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('rereviewed_on')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        if not sqlite:  # SQLite's copy leaves out the column's inline constraint with it
            batch_op.drop_constraint(FK, type_='foreignkey')
        batch_op.drop_column('rereview_site_id')
    if sqlite:
        op.execute(sa.text('PRAGMA foreign_keys = ON'))
