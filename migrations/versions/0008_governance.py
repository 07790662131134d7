"""governance: the administrative change log, SCIM writes per token and day, webhook events,
tenants that can be disabled and linked as an organisation's environments

`admin_changes` is append-only (the application never updates a row; the retention prune is the
only delete). It has no foreign key to tenants: the record of a change outlives what it names.

Revision ID: 0008_governance
Revises: 0007_resource_attributes
Create Date: 2026-12-06

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0008_governance'
down_revision = '0007_resource_attributes'
branch_labels = None
depends_on = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('organization', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('environment', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_tenants_organization'), ['organization'], unique=False)

    op.create_table(
        'admin_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('actor_kind', sa.String(length=16), nullable=False),
        sa.Column('actor', sa.String(length=300), nullable=False),
        sa.Column('surface', sa.String(length=16), nullable=False),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('target', sa.String(length=600), nullable=False),
        sa.Column('before', DOCUMENT, nullable=True),
        sa.Column('after', DOCUMENT, nullable=True),
        sa.Column('request_id', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_changes')),
    )
    with op.batch_alter_table('admin_changes', schema=None) as batch_op:
        batch_op.create_index('ix_admin_changes_tenant_id', ['tenant_id', 'id'], unique=False)
        batch_op.create_index('ix_admin_changes_at', ['at'], unique=False)

    op.create_table(
        'directory_write_counts',
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('credential_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('writes', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_directory_write_counts_tenant_id_tenants'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', 'credential_id', 'day', name=op.f('pk_directory_write_counts')),
    )
    op.create_table(
        'webhook_events',
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('event_id', sa.String(length=200), nullable=False),
        sa.Column('received', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_webhook_events_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', 'source', 'event_id', name=op.f('pk_webhook_events')),
    )


def downgrade():
    op.drop_table('webhook_events')
    op.drop_table('directory_write_counts')
    with op.batch_alter_table('admin_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_admin_changes_at')
        batch_op.drop_index('ix_admin_changes_tenant_id')
    op.drop_table('admin_changes')
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tenants_organization'))
        batch_op.drop_column('environment')
        batch_op.drop_column('organization')
        batch_op.drop_column('disabled_at')
