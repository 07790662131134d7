"""admins can be disabled, and their console sessions revoked

`disabled_at` is set while an admin may not sign in. `session_epoch` is copied into each console
session at sign-in and bumped on sign-out, disable and password change; a session holding another
number is refused. Existing admins start enabled at epoch 0; sessions signed before this revision
carry no epoch at all, so every admin signs in once more after the upgrade.

Downgrading drops both columns: a disabled admin can sign in again with the older code, so delete
such admins (or reset their passwords) before going back.

Revision ID: 0006_admin_sessions
Revises: 0005_report_uncheckable
Create Date: 2026-12-08

"""
import sqlalchemy as sa
from alembic import op

revision = '0006_admin_sessions'
down_revision = '0005_report_uncheckable'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('admins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(), nullable=True))
        # The server default fills the rows that exist; new rows get it from the model too.
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), nullable=False, server_default=sa.text('0')))


def downgrade():
    with op.batch_alter_table('admins', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')
        batch_op.drop_column('disabled_at')
