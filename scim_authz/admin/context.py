"""What every console view shares: who is signed in, which tenant they are looking at, the one
transaction per request, CSRF, security headers and error pages."""
from __future__ import annotations

import functools
import logging

from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from scim_authz import pdp
from scim_authz.admin import bp, csrf, sessions
from scim_authz.admin.sessions import SESSION_ADMIN, SESSION_TENANT
from scim_authz.admin.throttle import SignInThrottle
from scim_authz.db.extensions import db
from scim_authz.db.models import Admin, Tenant
from scim_authz.db.txn import transaction
from scim_authz.governance.actor import Actor, acting
from scim_authz.ops.logs import ENVIRON_KEY
from scim_authz.policy.errors import NotFound, PolicyError
from scim_authz.web import rate_limit
from scim_authz.web.deadline import RequestTimedOut

log = logging.getLogger("scim_authz.admin")
THROTTLE_KEY = "scim_authz.admin.throttle"
# Security headers: on every /admin response, its 404s included, by scim_authz/web/guard.py.


def throttle() -> SignInThrottle:
    """The sign-in throttle, whose counts every worker of the instance shares."""
    t = current_app.extensions.get(THROTTLE_KEY)
    if t is None:
        limits = rate_limit.limits()
        t = current_app.extensions.setdefault(
            THROTTLE_KEY, SignInThrottle.configured(limits.table, current_app.config, limits.clock))
    return t


def signed_in_admin() -> Admin | None:
    """The admin this request's session signs in, or None: also when the session was ended (sign-out,
    disabled, new password) or has outlived the session lifetime, whatever its cookie's expiry."""
    admin_id = session.get(SESSION_ADMIN)
    admin = db.session.get(Admin, admin_id) if isinstance(admin_id, int) else None
    if admin is None or not sessions.stands(session, admin, current_app.permanent_session_lifetime):
        return None
    return admin


def _tenant_for(admin: Admin) -> tuple[Tenant | None, list[Tenant]]:
    """The tenant the admin is looking at, and (for a super-admin) the tenants to switch between."""
    if admin.tenant_id is not None:
        return db.session.get(Tenant, admin.tenant_id), []
    tenants = list(db.session.execute(select(Tenant).order_by(Tenant.key)).scalars())
    chosen = next((t for t in tenants if t.id == session.get(SESSION_TENANT)), tenants[0] if tenants else None)
    return chosen, tenants


def console_view(*, write: bool = False, signed_in: bool = True, needs_tenant: bool = True,
                 reads_audit: bool = False):
    """Run a console view in one transaction: SQLite's write lock taken up front when it writes,
    committed when it returns, rolled back when it raises (a view that shows a validation error
    rolls back itself). Unless `signed_in` is False, a visitor is sent to the sign-in page first.
    `reads_audit`: write this instance's queued decisions first, before the transaction's snapshot."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if reads_audit:
                pdp.audit().flush()
            with transaction(write):
                if signed_in:
                    g.admin = signed_in_admin()
                    if g.admin is None:
                        sessions.forget(session)
                        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
                    g.tenant, g.tenants = _tenant_for(g.admin)
                    if g.admin.tenant_id is not None and g.tenant.disabled_at is not None:
                        return render_template("admin/tenant_disabled.html"), 403  # until it is enabled
                    if needs_tenant and g.tenant is None:
                        return render_template("admin/no_tenant.html"), 200
                    with acting(Actor("admin", g.admin.email, "console", request.environ.get(ENVIRON_KEY))):
                        return view(*args, **kwargs)
                return view(*args, **kwargs)
        return wrapper
    return decorate


def tenant_id() -> int:
    return g.tenant.id


def own(obj, what: str = "page"):
    """`obj` when it exists and belongs to the current tenant; else 404 (another tenant's rows do not exist)."""
    if obj is None or getattr(obj, "tenant_id", None) != g.tenant.id:
        abort(404, f"There is no such {what} in this tenant.")
    return obj


def actor() -> str:
    """Who wrote, as the audit trail and created_by columns name a console admin."""
    return f"console {g.admin.email}"


def error_fields(err: PolicyError, field: str = "form") -> dict[str, list[str]]:
    """A service error as messages per form field (marshmallow's list indexes become lines)."""
    out: dict[str, list[str]] = {}
    if isinstance(err.details, dict):
        for name, msgs in err.details.items():
            if isinstance(msgs, dict):
                out[name] = [f"line {int(i) + 1}: {m}" if str(i).isascii() and str(i).isdigit() else f"{i}: {m}"
                             for i, ms in msgs.items() for m in (ms if isinstance(ms, list) else [ms])]
            else:
                out[name] = [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
    return out or {field: [err.message]}


def form_failed(template: str, errors: dict, status: int = 400, **ctx):
    """Re-render a form with its errors; nothing is written (the transaction is rolled back)."""
    db.session.rollback()
    return render_template(template, errors=errors, **ctx), status


def page_arg() -> int:
    return max(1, request.args.get("page", 1, type=int) or 1)


# ---- hooks and error pages -----------------------------------------------------------------

bp.before_request(csrf.protect)


@bp.context_processor
def _template_globals():
    return {"csrf_token": csrf.token, "current_admin": g.get("admin"), "current_tenant": g.get("tenant"),
            "switchable_tenants": g.get("tenants") or []}


def _error_page(status: int, title: str, message: str):
    return render_template("admin/error.html", status=status, title=title, message=message), status


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException):
    titles = {400: "The request was refused", 404: "Not found", 405: "Not allowed", 429: "Too many attempts"}
    return _error_page(err.code or 500, titles.get(err.code, err.name), err.description or err.name)


@bp.errorhandler(PolicyError)
def _policy_error(err: PolicyError):
    if isinstance(err, NotFound):
        return _error_page(404, "Not found", err.message)
    return _error_page(400, "The request was refused", err.message)


@bp.errorhandler(OperationalError)
def _database_error(err: OperationalError):
    log.error("database error on %s %s: %s", request.method, request.path, getattr(err, "orig", err))
    page = _error_page(503, "The database is unavailable", "Nothing was changed. Try again shortly "
                       "(if the disk is full, once space is freed).")
    return page[0], 503, {"Retry-After": "5"}


@bp.errorhandler(RequestTimedOut)
def _timed_out(err: RequestTimedOut):
    log.error("%s %s stopped: %s", request.method, request.path, err)
    return _error_page(503, "That took too long", f"{err}; it was stopped and nothing was changed.")


@bp.errorhandler(Exception)
def _unexpected(err: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _error_page(500, "Something went wrong", "An unexpected error occurred; nothing was changed.")
