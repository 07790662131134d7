"""groups: displayName unique per tenant, case-insensitively

Microsoft Entra ID's provisioning requires a group's displayName to be unique in the target (its
SCIM guide says so, while noting that SCIM itself does not), so a second group with a name in use
is refused with 409 uniqueness, as a userName is. The index on (tenant_id, display_name_ci)
becomes unique, which also settles two concurrent creates.

A database that already holds two groups of one name in a tenant cannot take the index: the
upgrade stops and names them, so they can be renamed (PATCH displayName) first.

Revision ID: 0010_group_name_unique
Revises: 0009_access_history
Create Date: 2026-12-06

"""
import sqlalchemy as sa
from alembic import op

revision = '0010_group_name_unique'
down_revision = '0009_access_history'
branch_labels = None
depends_on = None


def upgrade():
    duplicates = op.get_bind().execute(sa.text(
        "SELECT t.key, g.display_name_ci, count(*) FROM groups g JOIN tenants t ON t.id = g.tenant_id "
        "GROUP BY t.key, g.display_name_ci HAVING count(*) > 1 ORDER BY t.key, g.display_name_ci LIMIT 20")).all()
    if duplicates:
        listed = "; ".join(f"tenant {key!r}: {count} groups named {name!r}" for key, name, count in duplicates)
        raise RuntimeError("group displayNames must be unique per tenant (case-insensitively) before this "
                           f"upgrade; rename these first: {listed}")
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.drop_index('ix_groups_tenant_display_name_ci')
        batch_op.create_index('ix_groups_tenant_display_name_ci', ['tenant_id', 'display_name_ci'], unique=True)


def downgrade():
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.drop_index('ix_groups_tenant_display_name_ci')
        batch_op.create_index('ix_groups_tenant_display_name_ci', ['tenant_id', 'display_name_ci'], unique=False)
