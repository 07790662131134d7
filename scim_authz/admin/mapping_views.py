"""Group → role mappings: pick a pushed group and a role, preview who gains the role, then save."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from scim_authz.admin import bp, forms
from scim_authz.admin import directory_queries as dq
from scim_authz.admin.context import actor, console_view, form_failed, own, tenant_id
from scim_authz.db.extensions import db
from scim_authz.db.models import Group, GroupRoleMapping, Role
from scim_authz.policy import mappings as mapping_service
from scim_authz.policy.errors import PolicyError
from scim_authz.policy.mapping_preview import preview as preview_mapping


def _roles() -> list[Role]:
    return db.session.execute(select(Role).where(Role.tenant_id == tenant_id()).order_by(Role.key)).scalars().all()


@bp.get("/mappings")
@console_view()
def mappings():
    rows = db.session.execute(
        select(GroupRoleMapping, Group, Role).join(Group, Group.id == GroupRoleMapping.group_id)
        .join(Role, Role.id == GroupRoleMapping.role_id).where(GroupRoleMapping.tenant_id == tenant_id())
        .order_by(Group.display_name_ci, Role.key, GroupRoleMapping.id)).all()
    return render_template("admin/mappings.html", rows=rows, role_mode=g.tenant.role_mode)


def _form_values(source) -> dict:
    return {k: (source.get(k) or "").strip() for k in ("group", "role", "resource", "replace", "gq")}


def _form(values: dict, errors: dict, status: int = 200):
    groups, more = dq.group_choices(tenant_id(), values["gq"])
    if values["group"] and all(gr.id != values["group"] for gr in groups):
        chosen = db.session.get(Group, values["group"])
        if chosen is not None and chosen.tenant_id == tenant_id():
            groups.insert(0, chosen)
    ctx = {"values": values, "groups": groups, "more_groups": more, "roles": _roles()}
    if errors:
        return form_failed("admin/mapping_form.html", errors, status, **ctx)
    return render_template("admin/mapping_form.html", errors={}, **ctx), status


@bp.get("/mappings/new")
@console_view()
def mapping_new():
    return _form(_form_values(request.args), {})


@bp.get("/mappings/<int:mid>/edit")
@console_view()
def mapping_edit(mid):
    m = own(db.session.get(GroupRoleMapping, mid), "mapping")
    role = db.session.get(Role, m.role_id)
    values = {"group": m.group_id, "role": role.key, "replace": str(m.id), "gq": "",
              "resource": f"{m.resource_type}:{m.resource_id}" if m.resource_type else ""}
    return _form(values, {})


def _read(values: dict):
    """(group, role, scope, replaced mapping, errors) from the submitted form."""
    errors: dict[str, list[str]] = {}
    group = db.session.get(Group, values["group"]) if values["group"] else None
    if group is None or group.tenant_id != tenant_id():
        errors["group"] = ["Choose one of the groups your identity provider pushed."]
    role = db.session.execute(select(Role).where(Role.tenant_id == tenant_id(), Role.key == values["role"])
                              ).scalar_one_or_none() if values["role"] else None
    if role is None:
        errors["role"] = ["Choose a role." if not values["role"] else f"There is no role {values['role']!r}."]
    scope, problem = forms.parse_resource(values["resource"])
    if problem:
        errors["resource"] = [problem]
    replaced = None
    if values["replace"]:
        wanted = values["replace"]
        replaced = own(db.session.get(GroupRoleMapping, int(wanted) if wanted.isascii() and wanted.isdigit()
                                      else 0), "mapping")
    return group, role, scope or ("", ""), replaced, errors


@bp.post("/mappings/preview")
@console_view()
def mapping_preview():
    values = _form_values(request.form)
    group, role, scope, replaced, errors = _read(values)
    if errors:
        return _form(values, errors, 400)
    impact = preview_mapping(tenant_id(), group.id, role.key, scope[0], scope[1],
                                     except_mapping=replaced.id if replaced else None)
    return render_template("admin/mapping_preview.html", values=values, group=group, role=role, impact=impact,
                           replaced=replaced, role_mode=g.tenant.role_mode)


@bp.post("/mappings")
@console_view(write=True)
def mapping_save():
    values = _form_values(request.form)
    group, role, _scope, replaced, errors = _read(values)
    if errors:
        return _form(values, errors, 400)
    try:
        if replaced is not None:  # an edit is a delete and a create, in this one transaction
            mapping_service.unmap(tenant_id(), replaced.id)
        _, _, created = mapping_service.map_group(tenant_id(), group.id, role.key, values["resource"] or None, actor())
    except PolicyError as e:
        db.session.rollback()
        return _form(values, {"form": [e.message]}, 400)
    where = f" on {values['resource']}" if values["resource"] else ""
    flash(f"Members of {group.display_name} now hold {role.key}{where}." if created else
          f"{group.display_name} was already mapped to {role.key}{where}.", "success")
    return redirect(url_for("admin.mappings"))


@bp.get("/mappings/<int:mid>/delete")
@console_view()
def mapping_delete_confirm(mid):
    m = own(db.session.get(GroupRoleMapping, mid), "mapping")
    group, role = db.session.get(Group, m.group_id), db.session.get(Role, m.role_id)
    impact = preview_mapping(tenant_id(), group.id, role.key, m.resource_type, m.resource_id,
                                     except_mapping=m.id)
    return render_template("admin/mapping_delete.html", mapping=m, group=group, role=role, impact=impact)


@bp.post("/mappings/<int:mid>/delete")
@console_view(write=True)
def mapping_delete(mid):
    m = own(db.session.get(GroupRoleMapping, mid), "mapping")
    group, role = db.session.get(Group, m.group_id), db.session.get(Role, m.role_id)
    mapping_service.unmap(tenant_id(), mid)
    flash(f"{group.display_name} no longer maps to {role.key}.", "success")
    return redirect(url_for("admin.mappings"))
