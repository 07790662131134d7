"""Roles: named sets of `resource_type:action` permissions, with extends and a condition."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from scim_authz.admin import bp, forms
from scim_authz.admin.context import console_view, error_fields, form_failed, tenant_id
from scim_authz.db.extensions import db
from scim_authz.db.models import GroupRoleMapping, Role, RoleAssignment
from scim_authz.policy import roles as roles_service
from scim_authz.policy.errors import Conflict, NotFound, PolicyError
from scim_authz.policy.lookup import role_or_404

EMPTY = {"key": "", "name": "", "description": "", "permissions_text": "", "extends": [], "condition": ""}


def _usage() -> dict[int, tuple[int, int]]:
    """role id → (group mappings, app assignments)."""
    maps = dict(db.session.execute(select(GroupRoleMapping.role_id, func.count()).where(
        GroupRoleMapping.tenant_id == tenant_id()).group_by(GroupRoleMapping.role_id)).all())
    assigns = dict(db.session.execute(select(RoleAssignment.role_id, func.count()).where(
        RoleAssignment.tenant_id == tenant_id()).group_by(RoleAssignment.role_id)).all())
    return {rid: (maps.get(rid, 0), assigns.get(rid, 0)) for rid in set(maps) | set(assigns)}


@bp.get("/roles")
@console_view()
def roles():
    rows = db.session.execute(select(Role).where(Role.tenant_id == tenant_id()).order_by(Role.key)).scalars().all()
    return render_template("admin/roles.html", roles=rows, usage=_usage())


def _form(role_key: str | None, data: dict, errors: dict, status: int = 200):
    others = [k for k in db.session.execute(select(Role.key).where(Role.tenant_id == tenant_id())
                                            .order_by(Role.key)).scalars() if k != role_key]
    ctx = {"role_key": role_key, "form": data, "others": others}
    if errors:
        return form_failed("admin/role_form.html", errors, status, **ctx)
    return render_template("admin/role_form.html", errors={}, **ctx), status


@bp.get("/roles/new")
@console_view()
def role_new():
    return _form(None, dict(EMPTY), {})


def _save(role_key: str | None):
    data = forms.role_input(request.form, role_key)
    role, errors = forms.validate_role(data)
    if errors:
        return _form(role_key, data, errors, 400)
    try:
        if role_key is None:
            roles_service.create_role(tenant_id(), role)
        else:
            roles_service.update_role(tenant_id(), role_key, {k: v for k, v in role.items() if k != "key"},
                                      partial=False)
    except Conflict as e:
        return _form(role_key, data, {"key": [e.message]}, 400)
    except NotFound:
        raise
    except PolicyError as e:
        return _form(role_key, data, error_fields(e), 400)
    flash(f"Role {data['key']} is saved.", "success")
    return redirect(url_for("admin.roles"))


@bp.post("/roles")
@console_view(write=True)
def role_create():
    return _save(None)


@bp.get("/roles/<key>/edit")
@console_view()
def role_edit(key):
    r = role_or_404(tenant_id(), key)
    data = {"key": r.key, "name": r.name if r.name != r.key else "", "description": r.description,
            "permissions_text": "\n".join(r.permissions), "extends": list(r.extends), "condition": r.condition or ""}
    return _form(key, data, {})


@bp.post("/roles/<key>")
@console_view(write=True)
def role_update(key):
    role_or_404(tenant_id(), key)
    return _save(key)


@bp.get("/roles/<key>/delete")
@console_view()
def role_delete_confirm(key):
    r = role_or_404(tenant_id(), key)
    maps, assigns = _usage().get(r.id, (0, 0))
    return render_template("admin/confirm.html", title=f"Delete role {key}?", action="Delete role",
                           message=f"The role, its {maps} group mapping(s) and {assigns} app assignment(s) are "
                                   "deleted; users lose what it granted at once.",
                           post_to=url_for("admin.role_delete", key=key), back=url_for("admin.roles"))


@bp.post("/roles/<key>/delete")
@console_view(write=True)
def role_delete(key):
    try:
        roles_service.delete_role(tenant_id(), key)
    except Conflict as e:
        return form_failed("admin/confirm.html", {"form": [e.message]}, 409, title=f"Delete role {key}?",
                           action="Delete role", message="", post_to=url_for("admin.role_delete", key=key),
                           back=url_for("admin.roles"))
    flash(f"Role {key} is deleted.", "success")
    return redirect(url_for("admin.roles"))
