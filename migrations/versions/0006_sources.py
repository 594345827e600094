"""inventory sources, per-source car versions and sent payloads (issue 12)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 08:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('car_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('car_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('vin', sa.String(length=17), nullable=True),
    sa.Column('vehicle', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('removed', sa.Boolean(), nullable=False),
    sa.Column('modified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['car_id'], ['cars.id'], name=op.f('fk_car_versions_car_id_cars'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_car_versions'))
    )
    op.create_index(op.f('ix_car_versions_car_id'), 'car_versions', ['car_id'], unique=False)
    op.create_index(op.f('ix_car_versions_site_id'), 'car_versions', ['site_id'], unique=False)
    op.create_index(op.f('ix_car_versions_vin'), 'car_versions', ['vin'], unique=False)
    op.create_index(op.f('ix_car_versions_received_at'), 'car_versions', ['received_at'], unique=False)
    op.create_table('sent_payloads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('car_id', sa.Integer(), nullable=False),
    sa.Column('destination_id', sa.Integer(), nullable=True),
    sa.Column('marketplace', sa.String(length=32), nullable=False),
    sa.Column('operation', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['car_id'], ['cars.id'], name=op.f('fk_sent_payloads_car_id_cars'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['destination_id'], ['destinations.id'], name=op.f('fk_sent_payloads_destination_id_destinations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_payloads'))
    )
    op.create_index(op.f('ix_sent_payloads_car_id'), 'sent_payloads', ['car_id'], unique=False)
    op.create_index(op.f('ix_sent_payloads_sent_at'), 'sent_payloads', ['sent_at'], unique=False)
    op.create_table('source_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('destination_id', sa.Integer(), nullable=False),
    sa.Column('vin', sa.String(length=17), nullable=False),
    sa.Column('car_ref', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('missing_pulls', sa.Integer(), nullable=False),
    sa.Column('missing_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['destination_id'], ['destinations.id'], name=op.f('fk_source_items_destination_id_destinations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_items')),
    sa.UniqueConstraint('destination_id', 'vin', name=op.f('uq_source_items_destination_id'))
    )
    op.create_index(op.f('ix_source_items_destination_id'), 'source_items', ['destination_id'], unique=False)
    op.create_table('source_pulls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('destination_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['destination_id'], ['destinations.id'], name=op.f('fk_source_pulls_destination_id_destinations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_pulls'))
    )
    op.create_index(op.f('ix_source_pulls_destination_id'), 'source_pulls', ['destination_id'], unique=False)


def downgrade():
    op.drop_table('source_pulls')
    op.drop_table('source_items')
    op.drop_table('sent_payloads')
    op.drop_table('car_versions')
