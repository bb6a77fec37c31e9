"""case deliveries: which revision of a case was sent to which party (R-STORE-4)

A party may read only the documents of the revisions it was sent. Existing sent revisions are those
with a prepared, signed or sealed file (each made at or after a send); they are recorded for the
case's present parties, which is what those parties could read before this change — the history of
earlier party changes was not kept.

Revision ID: c4d8e1a7b2f3
Revises: 74a454e42db0
Create Date: 2026-11-27 13:50:00

"""
from alembic import op
import sqlalchemy as sa

import portal.models.types


# revision identifiers, used by Alembic.
revision = 'c4d8e1a7b2f3'
down_revision = '5e2c8a91d4b7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('case_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('sent_at', portal.models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_deliveries_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_case_deliveries_company_id_companies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_deliveries')),
    sa.UniqueConstraint('case_id', 'revision', 'company_id', name='uq_case_deliveries_case_id_revision_company_id')
    )
    with op.batch_alter_table('case_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_deliveries_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_deliveries_company_id'), ['company_id'], unique=False)

    # UTCDateTime stores what cases.sent_at holds, so the value is copied as it is.
    op.execute(
        """
        INSERT INTO case_deliveries (case_id, revision, company_id, sent_at)
        SELECT sent.case_id, sent.revision, parties.company_id, cases.sent_at
        FROM (SELECT DISTINCT case_id, revision FROM documents
              WHERE role IN ('prepared', 'signed', 'sealed')) AS sent
        JOIN cases ON cases.id = sent.case_id
        JOIN parties ON parties.case_id = sent.case_id
        WHERE cases.sent_at IS NOT NULL
        """
    )


def downgrade():
    with op.batch_alter_table('case_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_deliveries_company_id'))
        batch_op.drop_index(batch_op.f('ix_case_deliveries_case_id'))

    op.drop_table('case_deliveries')
