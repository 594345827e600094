"""destinations.feed_status: a feed destination's whole-stock state (last full feed, hold, alarm)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 08:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('destinations') as batch_op:
        batch_op.add_column(sa.Column('feed_status', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('destinations') as batch_op:
        batch_op.drop_column('feed_status')
