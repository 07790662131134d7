"""A super-admin's tenants: the list, a new tenant (with its first SCIM token and API key, shown
once), renaming and linking to an organisation's environment, disabling and enabling (each after a
confirmation). A tenant's admin has none of these pages: 404, as for anything not theirs."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from scim_authz.admin import bp
from scim_authz.admin.context import console_view, error_fields, form_failed
from scim_authz.policy import tenant_lifecycle as lifecycle
from scim_authz.policy.errors import Conflict, PolicyError
from scim_authz.policy.vocabulary import ROLE_MODES

MODE_LABELS = {"idp": "Identity provider", "app": "Application", "hybrid": "Hybrid"}
NEW = {"key": "", "name": "", "role_mode": "hybrid", "organization": "", "environment": "",
       "credentials": list(lifecycle.CREDENTIAL_KINDS)}
FIELDS = {"key": "Key", "name": "Name", "role_mode": "Role mode", "organization": "Organisation",
          "environment": "Environment", "credentials": "First credentials"}


def _super_admin_only() -> None:
    if g.admin.tenant_id is not None:
        abort(404, "There is no such page for a tenant's admin.")


def _tenant(tenant_key: str):
    _super_admin_only()
    return lifecycle.tenant_or_404(tenant_key)  # NotFound: the console's 404 page


def _list_page(form: dict, errors: dict, status: int = 200, **ctx):
    ctx.update(tenants=lifecycle.all_tenants(), form=form, modes=MODE_LABELS, fields=FIELDS)
    if errors:
        return form_failed("admin/tenants.html", errors, status, **ctx)
    return render_template("admin/tenants.html", errors={}, **ctx), status


@bp.get("/tenants")
@console_view(needs_tenant=False)
def tenants():
    _super_admin_only()
    return _list_page(dict(NEW), {})


@bp.post("/tenants")
@console_view(write=True, needs_tenant=False)
def tenant_create():
    _super_admin_only()
    form = {k: request.form.get(k, "").strip() for k in ("key", "name", "role_mode", "organization", "environment")}
    form["credentials"] = [k for k in request.form.getlist("credentials") if k in lifecycle.CREDENTIAL_KINDS]
    errors = {}
    if not form["key"]:
        errors["key"] = ["Enter a key: lowercase letters, digits and dashes, e.g. acme-prod."]
    if form["role_mode"] not in ROLE_MODES:
        errors["role_mode"] = ["Choose how roles are decided."]
    if errors:
        return _list_page(form, errors, 400)
    try:
        tenant, issued = lifecycle.create(form["key"], form["name"] or None, form["role_mode"],
                                          organization=form["organization"] or None,
                                          environment=form["environment"] or None, credentials=form["credentials"])
    except Conflict as e:
        return _list_page(form, e.details or {"key": [e.message]}, 409)
    except PolicyError as e:
        return _list_page(form, error_fields(e), 400)
    # Rendered, not redirected: the secrets exist only in this response and are never stored in clear.
    return _list_page(dict(NEW), {}, created=tenant, issued=issued)


@bp.get("/tenants/<tenant_key>/edit")
@console_view(needs_tenant=False)
def tenant_edit(tenant_key):
    t = _tenant(tenant_key)
    form = {"name": t.name, "organization": t.organization or "", "environment": t.environment or ""}
    return render_template("admin/tenant_form.html", tenant=t, form=form, errors={})


@bp.post("/tenants/<tenant_key>")
@console_view(write=True, needs_tenant=False)
def tenant_update(tenant_key):
    t = _tenant(tenant_key)
    form = {k: request.form.get(k, "").strip() for k in ("name", "organization", "environment")}
    try:
        lifecycle.update(t.key, {"name": form["name"], "organization": form["organization"] or None,
                                 "environment": form["environment"] or None})
    except PolicyError as e:
        status = 409 if isinstance(e, Conflict) else 400
        return form_failed("admin/tenant_form.html", error_fields(e, "name"), status, tenant=t, form=form)
    flash(f"Tenant {t.key} is saved.", "success")
    return redirect(url_for("admin.tenants"))


_EFFECTS = {
    "disable": ("Disable tenant", "btn-danger",
                "While it is disabled, its SCIM tokens and API keys are refused (its identity provider and "
                "application get 401), every check for it is denied, and its admins cannot use the console. "
                "Nothing is deleted: enabling it again restores all of it."),
    "enable": ("Enable tenant", "btn-primary",
               "Its SCIM tokens and API keys work again, its checks are decided by its policy, and its admins "
               "can use the console again."),
}


def _confirm(tenant_key: str, change: str):
    t = _tenant(tenant_key)
    action, button, message = _EFFECTS[change]
    return render_template("admin/confirm.html", title=f"{action.split()[0]} {t.name} ({t.key})?", action=action,
                           button_class=button, message=message, back=url_for("admin.tenants"),
                           post_to=url_for(f"admin.tenant_{change}", tenant_key=t.key))


def _change(tenant_key: str, change: str):
    t = _tenant(tenant_key)
    _, changed = (lifecycle.disable if change == "disable" else lifecycle.enable)(t.key)
    done = "disabled" if change == "disable" else "enabled"
    flash(f"Tenant {t.key} is {done}." if changed else f"Tenant {t.key} was already {done}.",
          "success" if changed else "info")
    return redirect(url_for("admin.tenants"))


@bp.get("/tenants/<tenant_key>/disable")
@console_view(needs_tenant=False)
def tenant_disable_confirm(tenant_key):
    return _confirm(tenant_key, "disable")


@bp.post("/tenants/<tenant_key>/disable")
@console_view(write=True, needs_tenant=False)
def tenant_disable(tenant_key):
    return _change(tenant_key, "disable")


@bp.get("/tenants/<tenant_key>/enable")
@console_view(needs_tenant=False)
def tenant_enable_confirm(tenant_key):
    return _confirm(tenant_key, "enable")


@bp.post("/tenants/<tenant_key>/enable")
@console_view(write=True, needs_tenant=False)
def tenant_enable(tenant_key):
    return _change(tenant_key, "enable")
