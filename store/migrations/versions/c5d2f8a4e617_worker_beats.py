"""worker_beats: each ``badgewatch worker`` process's heartbeat, for the operators' status

A worker process runs three Procrastinate workers (its lanes); Procrastinate's own table knows
them only by number. This table says which machine and process each belongs to and how many
crawl processes it runs, so ``monitor status`` and the 监测 page show one line a process.

Revision ID: c5d2f8a4e617
Revises: b3e8f5a2c614
Create Date: 2026-12-01 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = 'c5d2f8a4e617'
down_revision = 'b3e8f5a2c614'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'worker_beats',
        sa.Column('id', sa.String(length=160), nullable=False),
        sa.Column('host', sa.String(length=120), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('concurrency', sa.Integer(), nullable=False),
        sa.Column('started_at', store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('heartbeat_at', store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('stopped_at', store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('engine_ids', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_worker_beats')),
    )
    op.create_index(op.f('ix_worker_beats_heartbeat_at'), 'worker_beats', ['heartbeat_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_worker_beats_heartbeat_at'), table_name='worker_beats')
    op.drop_table('worker_beats')
