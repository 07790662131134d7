"""tenants: how many users and groups each holds

An unfiltered GET /Users or /Groups answers totalResults (Okta's connection test asks for
`startIndex=1&count=2`); counting 100,000 rows for it made the request grow with the tenant. Each
tenant's row now keeps its counts, changed by every create and delete in the statement that
advances the tenant's revision (scim_authz/pdp/changes.py). The upgrade fills them from the rows.

Revision ID: 0011_directory_counts
Revises: 0010_group_name_unique
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

revision = '0011_directory_counts'
down_revision = '0010_group_name_unique'
branch_labels = None
depends_on = None


def upgrade():
    # (added in place: no copy of the tenants table, whose rows every other table refers to)
    op.add_column('tenants', sa.Column('user_count', sa.Integer(), nullable=False, server_default=sa.text('0')))
    op.add_column('tenants', sa.Column('group_count', sa.Integer(), nullable=False, server_default=sa.text('0')))
    op.execute("UPDATE tenants SET "
               "user_count = (SELECT count(*) FROM users WHERE users.tenant_id = tenants.id), "
               "group_count = (SELECT count(*) FROM groups WHERE groups.tenant_id = tenants.id)")


def downgrade():
    op.drop_column('tenants', 'group_count')
    op.drop_column('tenants', 'user_count')
