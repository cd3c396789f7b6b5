"""sites.last_check_id: the foreign key to site_checks on PostgreSQL too

The initial schema declared it with ``use_alter`` (sites and site_checks name each other), and
``op.create_table`` leaves such a key out: SQLite got it when a later batch migration rebuilt
the table from the model, PostgreSQL never did. A reference to a check that does not exist
(none should) is cleared first, so the key can be added; the site's next crawl is then a full
one, as for a site never checked.

Revision ID: d1e7a3c9b5f2
Revises: c5d2f8a4e617
Create Date: 2026-12-01 05:00:00
"""

from __future__ import annotations

from alembic import op

revision = 'd1e7a3c9b5f2'
down_revision = 'c5d2f8a4e617'
branch_labels = None
depends_on = None

NAME = 'fk_sites_last_check_id_site_checks'


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(
        "UPDATE sites SET last_check_id = NULL WHERE last_check_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM site_checks WHERE site_checks.id = sites.last_check_id)"
    )
    op.create_foreign_key(NAME, 'sites', 'site_checks', ['last_check_id'], ['id'])


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_constraint(NAME, 'sites', type_='foreignkey')
