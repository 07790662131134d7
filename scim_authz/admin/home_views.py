"""The dashboard: what the tenant holds, and where to go next."""
from __future__ import annotations

from datetime import datetime

from flask import g, render_template
from sqlalchemy import func, select

from scim_authz.admin import bp
from scim_authz.admin.context import console_view, tenant_id
from scim_authz.db.extensions import db
from scim_authz.db.models import AuthzSchema, Credential, Decision, Group, GroupRoleMapping, Role, User, utcnow


def _count(model, *where) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(
        model.tenant_id == tenant_id(), *where)).scalar_one()


@bp.get("/")
@console_view(reads_audit=True)  # this instance's own decisions count at once
def dashboard():
    now = utcnow()
    today = datetime(now.year, now.month, now.day)
    counts = {
        "users": _count(User), "active_users": _count(User, User.active.is_(True)), "groups": _count(Group),
        "roles": _count(Role), "mappings": _count(GroupRoleMapping),
        "decisions_today": _count(Decision, Decision.at >= today),
        "scim_tokens": _count(Credential, Credential.kind == "scim", Credential.revoked_at.is_(None)),
    }
    schema_version = db.session.execute(select(func.max(AuthzSchema.version)).where(
        AuthzSchema.tenant_id == tenant_id())).scalar()
    steps = [
        ("Connect your identity provider", "admin.connect", counts["scim_tokens"] > 0),
        ("Users and groups pushed over SCIM", "admin.users", counts["users"] > 0),
        ("Define roles", "admin.roles", counts["roles"] > 0),
        ("Map groups to roles", "admin.mappings", counts["mappings"] > 0),
        ("Try a check in the playground", "admin.playground", counts["decisions_today"] > 0),
    ]
    return render_template("admin/dashboard.html", counts=counts, schema_version=schema_version, steps=steps,
                           tenant=g.tenant)
