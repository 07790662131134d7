"""Disabling a tenant takes effect at the next request, on every instance: its SCIM tokens and API
keys are refused (even those already trusted from memory), its checks are denied ("tenant
disabled"), its console is closed to its admins. Enabling it restores all of it, and no other
tenant notices either."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from scim_authz import pdp
from scim_authz.db.extensions import db
from scim_authz.db.models import Change, Credential, Tenant
from tests.admin._tenants import OperatorClient, operator_key, super_console
from tests.admin.conftest import Console, create_admin, text
from tests.api._api_helpers import error, eventually, revision, rows, scim_user
from tests.api.test_consistency import dispose, second_instance
from tests.conftest import APIClient, SCIMClient, issue_app_key, make_tenant

CHECK = {"user": "ann@acme.test", "action": "edit", "resource": "document:1"}
EVALUATION = {"subject": {"type": "user", "id": "ann@acme.test"}, "action": {"name": "edit"},
              "resource": {"type": "document", "id": "1"}}


@pytest.fixture
def ops(app, client):
    return OperatorClient(client, operator_key(app))


@pytest.fixture
def acme(app, client, tenant):
    """acme with ann, who may edit document:1; its SCIM client and /v1 client, both already trusted
    (used once, so the credential cache holds them)."""
    scim, api = SCIMClient(client, tenant[1]), APIClient(client, issue_app_key(app, tenant[0]))
    ann = scim_user(scim, "ann@acme.test")
    assert api.post("/roles", {"key": "editor", "permissions": ["document:edit"]}).status_code == 201
    assert api.post("/role-assignments", {"user": ann, "role": "editor"}).status_code == 201
    assert api.post("/check", CHECK).get_json()["allowed"] is True
    return scim, api


def _refused_as_disabled(r, message_key: str = "message") -> None:
    assert r.status_code == 401, r.get_data(as_text=True)
    body = r.get_json()
    said = body["detail"] if "detail" in body else body["error"][message_key]
    assert "acme is disabled" in said, said
    assert r.headers.get("WWW-Authenticate")


def test_credentials_are_refused_while_disabled_and_work_again_once_enabled(app, client, acme, ops):
    scim, api = acme
    other_scim = SCIMClient(client, make_tenant(app, "initech")[1])
    assert other_scim.get("/Users").status_code == 200
    before = revision(app, api_tenant_id(app))
    assert ops.post("/tenants/acme/disable").status_code == 200
    assert revision(app, api_tenant_id(app)) == before + 1  # one revision: the tenant and its credentials
    _refused_as_disabled(scim.get("/Users"))
    _refused_as_disabled(scim.post("/Users", {"userName": "eve@acme.test"}))
    _refused_as_disabled(api.get("/roles"))
    _refused_as_disabled(api.post("/check", CHECK))
    _refused_as_disabled(client.post("/access/v1/evaluation", json=EVALUATION,
                                     headers={"Authorization": f"Bearer {api.key}"}))
    # the tenant's own IdP retrying is not guessing keys: no 429 for its address (nor its neighbours')
    for _ in range(60):
        assert scim.get("/Users").status_code == 401
    assert other_scim.get("/Users").status_code == 200
    assert ops.post("/tenants/acme/enable").status_code == 200
    assert scim.get("/Users").status_code == 200
    assert api.post("/check", CHECK).get_json()["allowed"] is True


def api_tenant_id(app) -> int:
    with app.app_context():
        tid = db.session.execute(select(Tenant.id).where(Tenant.key == "acme")).scalar_one()
        db.session.remove()
    return tid


def test_the_change_log_tells_every_engine_and_credential_cache(app, acme, ops):
    ops.post("/tenants/acme/disable")
    tid = api_tenant_id(app)
    with app.app_context():
        kinds = db.session.execute(select(Change.kind).where(Change.tenant_id == tid,
                                                             Change.revision == revision(app, tid))).scalars().all()
        db.session.remove()
    assert {"tenant", "credential"} <= set(kinds)


def test_checks_are_denied_with_the_reason_and_decided_again_once_enabled(app, acme, ops):
    tid = api_tenant_id(app)
    eng = pdp.engine(app)
    ops.post("/tenants/acme/disable")
    with app.app_context():
        d = eng.check(tid, "ann@acme.test", "edit", "document", "1", explain=True)
        assert (d.allowed, d.reason) == (False, "denied: tenant disabled")
        assert eng.lookup_resources(tid, "ann@acme.test", "edit", "document")[1] == []
        assert eng.lookup_subjects(tid, "edit", "document", "1")[1] == []
    ops.post("/tenants/acme/enable")
    with app.app_context():
        assert eng.check(tid, "ann@acme.test", "edit", "document", "1").allowed is True
        assert eng.lookup_subjects(tid, "edit", "document", "1")[1] != []


def test_a_super_admins_playground_says_why(app, acme, ops):
    ops.post("/tenants/acme/disable")
    root = super_console(app)
    page = root.post("/admin/playground", {"user": "ann@acme.test", "action": "edit", "resource": "document:1"})
    assert page.status_code == 200 and "tenant disabled" in text(page)
    assert "Disabled" in text(root.get("/admin/"))  # the super-admin still sees it, marked


def test_the_console_is_closed_to_its_admins_until_enabled(app, acme, ops):
    create_admin(app, "ada@acme.test", "acme")
    make_tenant(app, "initech")
    create_admin(app, "ivy@initech.test", "initech")
    ada, ivy = Console(app.test_client()), Console(app.test_client())
    assert ada.login("ada@acme.test").status_code == 302 and ivy.login("ivy@initech.test").status_code == 302
    assert ada.get("/admin/").status_code == 200
    ops.post("/tenants/acme/disable")
    for path in ("/admin/", "/admin/roles", "/admin/connect", "/admin/playground"):
        r = ada.get(path)
        assert r.status_code == 403 and "acme) is disabled" in text(r), path
    r = ada.post("/admin/connect/tokens", {"name": "sneaky", "kind": "scim"})
    assert r.status_code == 403 and rows(app, Credential, name="sneaky") == []
    assert ivy.get("/admin/").status_code == 200
    assert Console(app.test_client()).login("ada@acme.test").status_code == 302  # signs in, to the notice
    ops.post("/tenants/acme/enable")
    assert ada.get("/admin/roles").status_code == 200
    assert ada.post("/admin/logout").status_code == 302


def test_a_trusted_credential_stops_working_on_another_instance(app, acme, ops, tenant):
    scim, api = acme
    b = second_instance(app)
    try:
        scim_b, api_b = SCIMClient(b.test_client(), scim.token), APIClient(b.test_client(), api.key)
        assert scim_b.get("/Users").status_code == 200 and api_b.get("/roles").status_code == 200  # trusted on b
        assert api_b.post("/check", CHECK).get_json()["allowed"] is True
        ops.post("/tenants/acme/disable")  # through a
        assert eventually(lambda: scim_b.get("/Users").status_code == 401)
        assert eventually(lambda: api_b.get("/roles").status_code == 401)
        error(api_b.post("/check", CHECK), 401, "unauthorized")
        with b.app_context():
            assert pdp.engine(b).check(tenant[0], "ann@acme.test", "edit", "document", "1").reason == \
                "denied: tenant disabled"
        ops.post("/tenants/acme/enable")
        assert eventually(lambda: api_b.get("/roles").status_code == 200)
        assert eventually(lambda: scim_b.get("/Users").status_code == 200)
    finally:
        dispose(b)
