"""access history: every change to who holds which role, written by database triggers

`access_history` gets one row for every insert, delete or relevant update of users, groups,
memberships, roles, assignments, group mappings and tenants' role modes, written by triggers
(scim_authz/db/history_triggers.py), so access reviews can be answered as of a past date.

What exists when this runs is written as a baseline: each row as of when it was created (a
membership as of when it was added), so the history starts complete.

Revision ID: 0009_access_history
Revises: 0008_governance
Create Date: 2026-12-06

"""
import sqlalchemy as sa
from alembic import op

from scim_authz.db.history_triggers import statements

revision = '0009_access_history'
down_revision = '0008_governance'
branch_labels = None
depends_on = None

BASELINE = [
    "INSERT INTO access_history (tenant_id, at, kind, role_mode) SELECT id, created, 'tenant.mode', role_mode "
    "FROM tenants",
    "INSERT INTO access_history (tenant_id, at, kind, user_id, name, external_id, active) "
    "SELECT tenant_id, created, 'user.put', id, user_name, external_id, active FROM users",
    "INSERT INTO access_history (tenant_id, at, kind, group_id, name, external_id) "
    "SELECT tenant_id, created, 'group.put', id, display_name, external_id FROM groups",
    "INSERT INTO access_history (tenant_id, at, kind, ref_id, name) SELECT tenant_id, created, 'role.put', id, key "
    "FROM roles",
    "INSERT INTO access_history (tenant_id, at, kind, group_id, member_id, member_type) "
    "SELECT tenant_id, added, 'member.add', group_id, member_id, member_type FROM group_members",
    "INSERT INTO access_history (tenant_id, at, kind, ref_id, user_id, role_id, resource_type, resource_id, by) "
    "SELECT tenant_id, created, 'assignment.add', id, user_id, role_id, resource_type, resource_id, assigned_by "
    "FROM role_assignments",
    "INSERT INTO access_history (tenant_id, at, kind, ref_id, group_id, role_id, resource_type, resource_id, by) "
    "SELECT tenant_id, created, 'mapping.add', id, group_id, role_id, resource_type, resource_id, created_by "
    "FROM group_role_mappings",
]


def upgrade():
    op.create_table(
        'access_history',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('ref_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.String(length=36), nullable=True),
        sa.Column('group_id', sa.String(length=36), nullable=True),
        sa.Column('member_id', sa.String(length=36), nullable=True),
        sa.Column('member_type', sa.String(length=5), nullable=True),
        sa.Column('name', sa.String(length=256), nullable=True),
        sa.Column('external_id', sa.String(length=256), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=True),
        sa.Column('role_id', sa.Integer(), nullable=True),
        sa.Column('resource_type', sa.String(length=100), nullable=True),
        sa.Column('resource_id', sa.String(length=300), nullable=True),
        sa.Column('by', sa.String(length=200), nullable=True),
        sa.Column('role_mode', sa.String(length=10), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_access_history')),
    )
    with op.batch_alter_table('access_history', schema=None) as batch_op:
        batch_op.create_index('ix_access_history_tenant_at', ['tenant_id', 'at'], unique=False)
    for stmt in BASELINE:  # (ordered by kind; a replay orders by time, then by id)
        op.execute(stmt)
    for stmt in statements(op.get_bind().dialect.name):
        op.execute(stmt)


def downgrade():
    dialect = op.get_bind().dialect.name
    for stmt in statements(dialect):
        if stmt.startswith("CREATE TRIGGER"):
            name = stmt.split()[2]
            op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {stmt.split(' ON ')[1].split()[0]}"
                                                             if dialect == "postgresql" else ""))
    if dialect == "postgresql":
        for stmt in statements(dialect):
            if stmt.startswith("CREATE OR REPLACE FUNCTION"):
                op.execute(f"DROP FUNCTION IF EXISTS {stmt.split()[4].split('(')[0]}()")
    op.drop_table('access_history')
