"""applications.serial: the 申请序号 (workflow.serials), given at the first submit

Existing submitted applications (``submitted_on`` set) get one in id order, with the default
``[badge] identifier_prefix`` (CA); the ``application_serial`` counter continues from there.

Revision ID: e5f1c8a2d904
Revises: d7b3e9a1c246
Create Date: 2026-12-01 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'e5f1c8a2d904'
down_revision = 'd7b3e9a1c246'
branch_labels = None
depends_on = None

# The values of this revision's time, not imported: later code may change them.
PREFIX = 'CA'
CENTRAL_REGION = '330000000'
COUNTER = 'application_serial'


def _region(code: str, level: str) -> str:
    if level == 'central':
        return CENTRAL_REGION
    return f"{code[:2]}{int(code[2:4]):03d}{int(code[4:6]):04d}"


def upgrade() -> None:
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('serial', sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_applications_serial'), ['serial'])
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            'SELECT a.id, o.code, o.level FROM applications a JOIN offices o ON o.id = a.office_id'
            ' WHERE a.submitted_on IS NOT NULL ORDER BY a.id'
        )
    ).all()
    for sequence, (app_id, code, level) in enumerate(rows, start=1):
        bind.execute(
            sa.text('UPDATE applications SET serial = :serial WHERE id = :id'),
            {'serial': f"{PREFIX}{_region(code, level)}{sequence:08d}0000", 'id': app_id},
        )
    bind.execute(
        sa.text('INSERT INTO counters (name, value) VALUES (:name, :value)'),
        {'name': COUNTER, 'value': len(rows)},
    )


def downgrade() -> None:
    op.execute(sa.text(f"DELETE FROM counters WHERE name = '{COUNTER}'"))
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_applications_serial'), type_='unique')
        batch_op.drop_column('serial')
