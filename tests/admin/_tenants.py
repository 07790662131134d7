"""Helpers for the tenant lifecycle tests: an operator key the app admits, a client of the admin API,
a signed-in super-admin, and the administrative change log's tenant entries."""
from __future__ import annotations

import json

from sqlalchemy import select

from scim_authz.credentials import operator_keys
from scim_authz.db.extensions import db
from scim_authz.db.models import AdminChange
from tests.admin.conftest import Console, create_admin


def operator_key(app, name: str = "ci") -> str:
    """A new operator key, added to the app's ADMIN_API_KEYS; its secret."""
    secret, entry = operator_keys.generate(name)
    current = app.config.get(operator_keys.SETTING) or ""
    app.config[operator_keys.SETTING] = f"{current},{entry}" if current else entry
    return secret


class OperatorClient:
    """The test client as a script calling /admin/api with a bearer secret."""

    def __init__(self, client, secret: str | None):
        self.client, self.secret = client, secret

    def request(self, method: str, path: str, body=None, *, headers=None):
        h = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        h.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        return self.client.open("/admin/api" + path, method=method, data=data, headers=h)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)


def super_console(app, email: str = "root@ops.test") -> Console:
    """A super-admin signed in, in a browser of their own."""
    create_admin(app, email, None)
    c = Console(app.test_client())
    assert c.login(email).status_code == 302
    return c


def tenant_changes(app) -> list[dict]:
    """The change log's tenant.* entries, oldest first, as plain dicts."""
    with app.app_context():
        found = db.session.execute(select(AdminChange).where(AdminChange.action.startswith("tenant."))
                                   .order_by(AdminChange.id)).scalars().all()
        out = [{"tenant_id": r.tenant_id, "action": r.action, "target": r.target, "actor_kind": r.actor_kind,
                "actor": r.actor, "surface": r.surface, "before": r.before, "after": r.after,
                "request_id": r.request_id} for r in found]
        db.session.remove()
    # the console's own settings page (and others' instrumentation) may log tenant.settings: not ours
    return [c for c in out if c["action"] in ("tenant.create", "tenant.rename", "tenant.link", "tenant.disable",
                                                "tenant.enable")]
