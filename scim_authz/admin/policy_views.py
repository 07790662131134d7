"""The tenant's role mode, and the relationship schema: edit, validate, save, history, activate."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from scim_authz.admin import bp
from scim_authz.admin.context import actor, console_view, error_fields, form_failed, tenant_id
from scim_authz.db.extensions import db
from scim_authz.db.models import Role
from scim_authz.policy import relationships as rels
from scim_authz.policy import tenants as tenant_service
from scim_authz.policy.errors import InvalidSchema, NotFound, PolicyError
from scim_authz.policy.vocabulary import ROLE_MODES

EXAMPLE_SCHEMA = """entity folder {
  relation owner @user
  relation viewer @user @group#member
  permission view = owner or viewer
}

entity document {
  relation parent @folder
  relation owner @user
  permission view = owner or parent.view
  permission edit = owner
}
"""


# ---- role mode -------------------------------------------------------------------------------

def _settings_page(values: dict, errors: dict, status: int = 200):
    roles = db.session.execute(select(Role.key).where(Role.tenant_id == tenant_id()).order_by(Role.key)).scalars()
    ctx = {"values": values, "modes": ROLE_MODES, "roles": list(roles), "tenant": g.tenant}
    if errors:
        return form_failed("admin/settings.html", errors, status, **ctx)
    return render_template("admin/settings.html", errors={}, **ctx), status


@bp.get("/settings")
@console_view()
def settings():
    s = tenant_service.settings_dict(g.tenant)
    return _settings_page({"name": s["name"], "role_mode": s["role_mode"], "default_role": s["default_role"] or ""},
                          {})


@bp.post("/settings")
@console_view(write=True)
def settings_save():
    values = {k: request.form.get(k, "").strip() for k in ("name", "role_mode", "default_role")}
    errors = {}
    if not values["name"]:
        errors["name"] = ["Enter the organisation's name."]
    elif len(values["name"]) > 200:
        errors["name"] = ["At most 200 characters."]
    if values["role_mode"] not in ROLE_MODES:
        errors["role_mode"] = ["Choose how roles are decided."]
    if errors:
        return _settings_page(values, errors, 400)
    try:
        tenant_service.update_settings(tenant_id(), {"name": values["name"], "role_mode": values["role_mode"],
                                                     "default_role": values["default_role"] or None})
    except PolicyError as e:
        return _settings_page(values, error_fields(e), 400)
    flash(f"Saved. Role mode: {values['role_mode']}: {ROLE_MODES[values['role_mode']]}", "success")
    return redirect(url_for("admin.settings"))


# ---- relationship schema ---------------------------------------------------------------------

def _newest():
    try:
        return rels.get_schema(tenant_id())
    except NotFound:
        return None


def _schema_page(source: str, *, issues=(), status: int = 200, valid: bool | None = None, viewing=None):
    newest = _newest()
    ctx = {"source": source, "issues": list(issues), "error_lines": sorted({i["line"] for i in issues}),
           "valid": valid, "newest": newest, "versions": rels.list_versions(tenant_id()), "viewing": viewing,
           "example": EXAMPLE_SCHEMA, "line_count": max(1, source.count("\n") + 1)}
    if issues:
        return form_failed("admin/schema.html", {"source": [f"{len(issues)} problem(s)"]}, status, **ctx)
    return render_template("admin/schema.html", errors={}, **ctx), status


@bp.get("/schema")
@console_view()
def schema():
    version = request.args.get("version", type=int)
    if version:
        row = rels.get_schema(tenant_id(), version)  # 404 for a version the tenant lacks
        return _schema_page(row.source, viewing=row)
    newest = _newest()
    return _schema_page(newest.source if newest else EXAMPLE_SCHEMA)


def _source() -> str:
    return request.form.get("source", "").replace("\r\n", "\n")


@bp.post("/schema/validate")
@console_view()
def schema_validate():
    """Validate only: the answer, never a write."""
    source = _source()
    result = rels.validate(source)
    return _schema_page(source, issues=result["errors"], valid=result["valid"])


@bp.post("/schema")
@console_view(write=True)
def schema_save():
    source = _source()
    try:
        row, _revision = rels.write_schema(tenant_id(), source, actor())
    except InvalidSchema as e:
        return _schema_page(source, issues=e.details, valid=False, status=400)
    flash(f"Saved as version {row['version']}; checks use it from now on.", "success")
    return redirect(url_for("admin.schema"))


@bp.post("/schema/versions/<int:version>/activate")
@console_view(write=True)
def schema_activate(version):
    old = rels.get_schema(tenant_id(), version)
    row, _revision = rels.write_schema(tenant_id(), old.source, actor())
    flash(f"Version {version} is active again, saved as version {row['version']}.", "success")
    return redirect(url_for("admin.schema"))
