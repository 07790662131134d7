"""Small helpers shared by the /v1 API tests: SCIM users and groups, row counts, checks."""
from __future__ import annotations

from sqlalchemy import func, select

from scim_authz.db.extensions import db


def scim_user(scim, user_name: str, **extra) -> str:
    """Provision a user through SCIM; its id."""
    r = scim.post("/Users", {"userName": user_name, **extra})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json(force=True)["id"]


def scim_group(scim, name: str, members: list[str] = ()) -> str:
    """Provision a group (with user or group members) through SCIM; its id."""
    r = scim.post("/Groups", {"displayName": name, "members": [{"value": m} for m in members]})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json(force=True)["id"]


def count(app, model, **where) -> int:
    """Rows of `model` whose columns equal `where`."""
    with app.app_context():
        q = select(func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        n = db.session.execute(q).scalar_one()
        db.session.remove()
        return n


def rows(app, model, **where) -> list:
    """Rows of `model` (detached) whose columns equal `where`."""
    with app.app_context():
        q = select(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        found = list(db.session.execute(q).scalars())
        db.session.expunge_all()
        db.session.remove()
        return found


def revision(app, tenant_id: int) -> int:
    """The tenant's revision in the database."""
    from scim_authz.db.models import Tenant
    with app.app_context():
        n = db.session.get(Tenant, tenant_id).revision
        db.session.remove()
        return n


def check(api, user, action: str, resource, **extra) -> dict:
    """POST /v1/check; asserts 200 and returns the body."""
    r = api.post("/check", {"user": user, "action": action, "resource": resource, **extra})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def allowed(api, user, action: str, resource, **extra) -> bool:
    return check(api, user, action, resource, **extra)["allowed"]


def error(r, status: int, code: str | None = None) -> dict:
    """Assert a JSON error body of this status (and code); returns its "error" object."""
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.content_type.startswith("application/json"), r.content_type
    err = r.get_json()["error"]
    assert err["status"] == status
    if code is not None:
        assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"]
    return err


def eventually(probe, timeout: float = 2.0):
    """`probe()` once it is truthy, polled for up to `timeout` seconds (another instance hears of a
    write within milliseconds, not at once); its last value otherwise."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.005)
