"""accounts: secret links minted at delivery; stored mail bodies keep no secret

A password link's token hash is written when the mail job delivers the mail (NULL before), and a
link is either a "reset" or a first-password "setup". A notice whose body carries a secret link
names the link (link_kind, link_ref) instead of holding it. Bodies stored before this revision are
scrubbed of the tokens and temporary passwords they held.

Revision ID: 5e2c8a91d4b7
Revises: 74a454e42db0
Create Date: 2026-11-27 13:40:00

"""
import re

import sqlalchemy as sa
from alembic import op

revision = "5e2c8a91d4b7"
down_revision = "74a454e42db0"
branch_labels = None
depends_on = None

MASK = "••••"
_LINK = re.compile(r"(/password/reset/|/apply/correct/)[A-Za-z0-9_\-]+")
_PASSWORD = re.compile(r"(仮パスワード\s*[：:]\s*)\S+")


def upgrade():
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purpose", sa.String(length=10), server_default="reset", nullable=False))
        batch_op.alter_column("token_hash", existing_type=sa.String(length=64), nullable=True)
    with op.batch_alter_table("sent_notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_kind", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("link_ref", sa.Integer(), nullable=True))
    _scrub_stored_bodies()


def _scrub_stored_bodies():
    notices = sa.table("sent_notices", sa.column("id", sa.Integer), sa.column("body", sa.Text))
    connection = op.get_bind()
    for notice_id, body in connection.execute(sa.select(notices.c.id, notices.c.body)).all():
        scrubbed = _PASSWORD.sub(lambda m: m.group(1) + MASK, _LINK.sub(lambda m: m.group(1) + MASK, body))
        if scrubbed != body:
            connection.execute(sa.update(notices).where(notices.c.id == notice_id).values(body=scrubbed))


def downgrade():
    with op.batch_alter_table("sent_notices", schema=None) as batch_op:
        batch_op.drop_column("link_ref")
        batch_op.drop_column("link_kind")
    op.execute("DELETE FROM password_resets WHERE token_hash IS NULL")
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.alter_column("token_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("purpose")
