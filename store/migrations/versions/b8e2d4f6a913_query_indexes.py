"""Indexes the report and crawl queries need at scale (plans measured with bench/indexes.py)

page_results (check_id, verdict) replaces (check_id): a site's failing pages (the report's
site page, the notices) are read without reading its every page; lookups by check alone use
it as before. site_checks (site_id, started_at) and (site_id, finished_at) replace (site_id):
a site's last full check (crawler/known.py) is one index step instead of a sort of its whole
history, and the report's trend reads only the checks of its window. Each index is in the
model (store/models.py) too.

Revision ID: b8e2d4f6a913
Revises: a9c4e1f7b203
Create Date: 2026-12-01 02:30:00
"""

from __future__ import annotations

from alembic import op

revision = 'b8e2d4f6a913'
down_revision = 'a9c4e1f7b203'
branch_labels = None
depends_on = None

# (index, table, columns), and the single-column index each replaces.
ADDED = [
    ('ix_page_results_check_id_verdict', 'page_results', ['check_id', 'verdict']),
    ('ix_site_checks_site_id_started_at', 'site_checks', ['site_id', 'started_at']),
    ('ix_site_checks_site_id_finished_at', 'site_checks', ['site_id', 'finished_at']),
]
REPLACED = [
    ('ix_page_results_check_id', 'page_results', ['check_id']),
    ('ix_site_checks_site_id', 'site_checks', ['site_id']),
]


def upgrade() -> None:
    for name, table, columns in ADDED:
        op.create_index(name, table, columns)
    for name, table, _ in REPLACED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, columns in REPLACED:
        op.create_index(name, table, columns)
    for name, table, _ in reversed(ADDED):
        op.drop_index(name, table_name=table)
