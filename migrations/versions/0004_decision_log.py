"""a decision log indexed by time only; monthly active users kept as they are written

Revision ID: 0004_decision_log
Revises: 0003_admins
Create Date: 2026-11-23

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_decision_log'
down_revision = '0003_admins'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('active_users',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_active_users_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'month', 'user_id', name=op.f('pk_active_users'))
    )
    month = "strftime('%Y-%m', at)" if op.get_bind().dialect.name == "sqlite" else "to_char(at, 'YYYY-MM')"
    op.execute(f"INSERT INTO active_users (tenant_id, month, user_id) "
               f"SELECT DISTINCT tenant_id, {month}, user_id FROM decisions WHERE user_id IS NOT NULL")
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_tenant_user_at')


def downgrade():
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decisions_tenant_user_at', ['tenant_id', 'user_id', 'at'], unique=False)
    op.drop_table('active_users')
