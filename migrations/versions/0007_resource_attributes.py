"""resources' attributes held by the server

One row per resource the application describes (`PUT /v1/resources/{type}/{id}`): conditions read
its attributes as `resource.*` when a check, or a search that names no properties, asks about it.

Revision ID: 0007_resource_attributes
Revises: 0006_admin_sessions
Create Date: 2026-12-06

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0007_resource_attributes'
down_revision = '0006_admin_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'resource_attributes',
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('resource_type', sa.String(length=100), nullable=False),
        sa.Column('resource_id', sa.String(length=300), nullable=False),
        sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                  nullable=False),
        sa.Column('updated', sa.DateTime(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_resource_attributes_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', 'resource_type', 'resource_id', name=op.f('pk_resource_attributes')),
    )


def downgrade():
    op.drop_table('resource_attributes')
