"""Applications keep the hashed one-time token of the form they were sent from (a resent form is refused).

Revision ID: 3f1c9a7d2b60
Revises: 74a454e42db0
Create Date: 2026-11-27 14:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = "3f1c9a7d2b60"
down_revision = "b3c1d2e4f5a6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submission_token_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_applications_submission_token_hash"), ["submission_token_hash"]
        )


def downgrade():
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_applications_submission_token_hash"), type_="unique")
        batch_op.drop_column("submission_token_hash")
