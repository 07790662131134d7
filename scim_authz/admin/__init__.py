"""The web console for IT admins under /admin: one blueprint, defined here, whose views live in
one module per page group (auth, home, connect, directory, roles, mappings, policy, playground, audit)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates", static_folder="static",
               static_url_path="/static")

# The view modules attach their routes to `bp`; imported last, once `bp` exists.
from scim_authz.admin import (  # noqa: E402,F401
               audit_views,
               auth_views,
               connect_views,
               context,
               directory_views,
               governance_views,
               home_views,
               mapping_views,
               playground_views,
               policy_file_views,
               policy_views,
               role_views,
               tenant_views,
)
