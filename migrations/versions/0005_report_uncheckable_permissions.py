"""report permissions whose action no check can ask about (they are kept; an admin edits them)

Before actions and permissions shared one vocabulary, a role could be saved with a permission such
as `document:sign-off`, while a check's action is letters, digits and _ only: the role was saved but
could never grant it. This revision changes no table; it names each such permission in the upgrade's
log so an operator sees them, and `scim-authz roles check` lists them at any time.

Revision ID: 0005_report_uncheckable
Revises: 0004_decision_log
Create Date: 2026-12-06

"""
import json
import logging
import re

import sqlalchemy as sa
from alembic import op

revision = '0005_report_uncheckable'
down_revision = '0004_decision_log'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
# The vocabulary as it stands at this revision (scim_authz/policy/vocabulary.py), kept here so the
# migration means the same thing however the code moves on.
_PERMISSION = re.compile(r"^(\*|[A-Za-z_][A-Za-z0-9_]*:(\*|[A-Za-z_][A-Za-z0-9_]*))$")


def upgrade():
    rows = op.get_bind().execute(sa.text(
        "SELECT t.key, r.key, r.permissions FROM roles r JOIN tenants t ON t.id = r.tenant_id ORDER BY t.key, r.key"))
    found = []
    for tenant, role, permissions in rows:
        if isinstance(permissions, str):
            permissions = json.loads(permissions)
        found += [(tenant, role, p) for p in permissions or [] if not _PERMISSION.match(p)]
    for tenant, role, permission in found:
        log.warning("tenant %s, role %s: permission %r can never be checked (an action is letters, digits and _)",
                    tenant, role, permission)
    if found:
        log.warning("%d permission(s) can never be checked; `scim-authz roles check` lists them", len(found))


def downgrade():
    pass
