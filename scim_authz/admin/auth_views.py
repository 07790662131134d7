"""Signing in and out, and a super-admin's choice of tenant. Signing out ends every session of the
admin, in every browser (scim_authz/admin/sessions.py says how)."""
from __future__ import annotations

import math

from flask import abort, flash, g, redirect, render_template, request, session, url_for

from scim_authz.admin import bp, sessions
from scim_authz.admin.context import SESSION_TENANT, console_view, signed_in_admin, throttle
from scim_authz.credentials import admins as accounts
from scim_authz.db.extensions import db
from scim_authz.db.models import Tenant
from scim_authz.web import rate_limit

GENERIC_FAILURE = "The email or password is not correct."
THROTTLED = "Too many failed sign-ins for this email. Try again {when}."
THROTTLED_ADDRESS = "Too many failed sign-ins from your network address. Try again {when}."
SIGNED_OUT = "You are signed out. This ended your sessions in every browser, not only this one."


def _in(seconds: int) -> str:
    """A wait as a person reads it."""
    if seconds < 120:
        return f"in {seconds} second{'s' if seconds != 1 else ''}"
    return f"in {math.ceil(seconds / 60)} minutes"


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never another host (an open redirect)."""
    if target and target.startswith("/admin") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("admin.dashboard")


@bp.get("/login")
@console_view(signed_in=False)
def login():
    if signed_in_admin() is not None:
        return redirect(url_for("admin.dashboard"))
    return render_template("admin/login.html", email="", next=request.args.get("next", ""), errors={})


@bp.post("/login")
@console_view(signed_in=False, write=True)
def login_post():
    email = accounts.normalise_email(request.form.get("email", ""))
    password = request.form.get("password", "")
    nxt = request.form.get("next", "")
    errors = {}
    if not email:
        errors["email"] = ["Enter your email address."]
    if not password:
        errors["password"] = ["Enter your password."]
    status, headers = 400, {}
    if not errors:
        limiter, address = throttle(), rate_limit.client_address()
        wait, held_by = limiter.attempt(email, address)  # counted as a failure until it succeeds
        if wait:
            seconds = max(1, math.ceil(wait))
            message = THROTTLED_ADDRESS if held_by == "address" else THROTTLED
            errors["form"], status = [message.format(when=_in(seconds))], 429
            headers["Retry-After"] = str(seconds)
        else:
            admin = accounts.authenticate(email, password)
            if admin is None:
                errors["form"], status = [GENERIC_FAILURE], 401
            else:
                limiter.succeeded(email, address)
                sessions.begin(session, admin)
                return redirect(_safe_next(nxt))
    db.session.rollback()
    return render_template("admin/login.html", email=email, next=nxt, errors=errors), status, headers


@bp.post("/logout")
@console_view(signed_in=False, write=True)
def logout():
    """Sign out everywhere: a cookie copied from this browser, or the admin's other browsers, would
    otherwise stay signed in, and a signed cookie cannot be taken back; ending all is what can be."""
    admin = signed_in_admin()
    if admin is not None:  # an ended session has nothing left to end, and may not end the admin's others
        accounts.end_sessions(admin)
    session.clear()
    flash(SIGNED_OUT, "info")
    return redirect(url_for("admin.login"))


@bp.post("/tenant")
@console_view(needs_tenant=False)
def switch_tenant():
    """A super-admin picks the tenant the console shows; a tenant's admin has nothing to pick."""
    if g.admin.tenant_id is not None:
        abort(404, "There is no such page for a tenant's admin.")
    tenant = db.session.get(Tenant, request.form.get("tenant", type=int) or 0)
    if tenant is None:
        abort(404, "There is no such tenant.")
    session[SESSION_TENANT] = tenant.id
    flash(f"Now showing tenant {tenant.name} ({tenant.key}).", "info")
    return redirect(url_for("admin.dashboard"))
