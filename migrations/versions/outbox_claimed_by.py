"""outbox.claimed_by: who holds a running intent, so a retry can take over from a dead work-horse

Revision ID: b3c1d2e4f5a6
Revises: 74a454e42db0
Create Date: 2026-11-27 13:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b3c1d2e4f5a6'
down_revision = 'c4d8e1a7b2f3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('claimed_by')
