"""leads: shoppers' enquiries (personal data encrypted) and their delivery per destination

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-06 08:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('leads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('submission_id', sa.String(length=128), nullable=False),
    sa.Column('car_id', sa.Integer(), nullable=True),
    sa.Column('car_ref', sa.String(length=255), nullable=True),
    sa.Column('vin', sa.String(length=32), nullable=True),
    sa.Column('form', sa.String(length=32), nullable=False),
    sa.Column('person', sa.Text(), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['car_id'], ['cars.id'], name=op.f('fk_leads_car_id_cars'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_leads_site_id_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads')),
    sa.UniqueConstraint('site_id', 'submission_id', name=op.f('uq_leads_site_id'))
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leads_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_car_id'), ['car_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_email_hash'), ['email_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_created_at'), ['created_at'], unique=False)

    op.create_table('lead_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('destination_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('remote_id', sa.String(length=255), nullable=True),
    sa.Column('redirect_url', sa.String(length=2048), nullable=True),
    sa.Column('duplicate', sa.Boolean(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.JSON(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['destination_id'], ['destinations.id'],
                            name=op.f('fk_lead_deliveries_destination_id_destinations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_lead_deliveries_lead_id_leads'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_deliveries')),
    sa.UniqueConstraint('lead_id', 'destination_id', name=op.f('uq_lead_deliveries_lead_id'))
    )
    with op.batch_alter_table('lead_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lead_deliveries_lead_id'), ['lead_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lead_deliveries_destination_id'), ['destination_id'], unique=False)


def downgrade():
    with op.batch_alter_table('lead_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_deliveries_destination_id'))
        batch_op.drop_index(batch_op.f('ix_lead_deliveries_lead_id'))
    op.drop_table('lead_deliveries')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leads_created_at'))
        batch_op.drop_index(batch_op.f('ix_leads_email_hash'))
        batch_op.drop_index(batch_op.f('ix_leads_car_id'))
        batch_op.drop_index(batch_op.f('ix_leads_site_id'))
    op.drop_table('leads')
