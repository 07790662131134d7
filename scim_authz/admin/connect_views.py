"""Connecting an identity provider: the SCIM base URL, and the tokens that decide the tenant."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from scim_authz.admin import bp
from scim_authz.admin.context import console_view, own, tenant_id
from scim_authz.credentials.keys import issue_credential, revoke_credential
from scim_authz.db.extensions import db
from scim_authz.db.models import Credential
from scim_authz.web.requests import scim_base_url

KINDS = {"scim": "SCIM token (identity provider)", "app": "API key (application, /v1)",
         "pdp": "PDP key (a decision point beside an application: docs/dataplane.md)"}


def _page(**ctx):
    creds = db.session.execute(select(Credential).where(Credential.tenant_id == tenant_id())
                               .order_by(Credential.revoked_at.is_not(None), Credential.id.desc())).scalars().all()
    ctx.setdefault("errors", {})
    ctx.setdefault("form", {"name": "", "kind": "scim"})
    return render_template("admin/connect.html", base_url=scim_base_url(), credentials=creds, kinds=KINDS, **ctx)


@bp.get("/connect")
@console_view()
def connect():
    return _page()


@bp.post("/connect/tokens")
@console_view(write=True)
def issue_token():
    name = request.form.get("name", "").strip()
    kind = request.form.get("kind", "scim")
    errors = {}
    if not name:
        errors["name"] = ["Name the connection, e.g. “Okta production”, so you can tell tokens apart."]
    elif len(name) > 200:
        errors["name"] = ["At most 200 characters."]
    if kind not in KINDS:
        errors["kind"] = ["Choose a SCIM token, an API key or a PDP key."]
    if errors:
        db.session.rollback()
        return _page(errors=errors, form={"name": name, "kind": kind}), 400
    issued = issue_credential(g.tenant, kind, name)
    # Rendered, not redirected: the secret exists only in this response and is never stored in clear.
    return _page(issued=issued, issued_name=name, issued_kind=kind)


@bp.get("/connect/tokens/<int:cid>/revoke")
@console_view()
def revoke_token_confirm(cid):
    cred = own(db.session.get(Credential, cid), "token")
    return render_template("admin/confirm.html", title=f"Revoke {cred.prefix}…?", action="Revoke token",
                           message=f"“{cred.name or cred.prefix}” stops working at once: every request made with it "
                                   "is refused. This cannot be undone; issue a new token to reconnect.",
                           post_to=url_for("admin.revoke_token", cid=cid), back=url_for("admin.connect"))


@bp.post("/connect/tokens/<int:cid>/revoke")
@console_view(write=True)
def revoke_token(cid):
    cred = own(db.session.get(Credential, cid), "token")
    if cred.revoked_at is not None:
        flash(f"Token {cred.prefix}… was already revoked.", "info")
    else:
        revoke_credential(g.tenant, cid)
        flash(f"Token {cred.prefix}… is revoked.", "success")
    return redirect(url_for("admin.connect"))
