"""Two application instances over one database: a write through one is seen by a check through the
other at once with `consistency.at_least`, and without it as soon as the other has heard of it
(at once on SQLite, whose commits are announced in a file; within milliseconds on PostgreSQL,
whose commits are announced by NOTIFY)."""
from __future__ import annotations

import pytest

from scim_authz import create_app
from scim_authz.db.extensions import db
from tests.api._api_helpers import check, error, eventually, scim_group, scim_user
from tests.conftest import APIClient, SCIMClient, app_config, patch_op


def second_instance(app, **settings):
    """Another app on the same database (the same SQLite file, or the same PostgreSQL schema)."""
    other = create_app({**app_config(app.config["SQLALCHEMY_DATABASE_URI"]), **settings})
    return other


def dispose(app):
    from scim_authz import pdp
    pdp.close(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def instance_b(app):
    b = second_instance(app)
    yield b
    dispose(b)


@pytest.fixture
def api_b(instance_b, api):
    return APIClient(instance_b.test_client(), api.key)


@pytest.fixture
def scim_b(instance_b, tenant):
    return SCIMClient(instance_b.test_client(), tenant[1])


def test_both_instances_are_one_database(app, instance_b):
    assert instance_b.config["SQLALCHEMY_DATABASE_URI"] == app.config["SQLALCHEMY_DATABASE_URI"]
    assert instance_b is not app


def test_a_group_mapping_through_a_is_seen_by_b_at_least_its_revision(api, scim, api_b):
    uid = scim_user(scim, "ann")
    scim_group(scim, "Eng", [uid])
    api.post("/roles", {"key": "editor", "permissions": ["document:edit"]})
    # B has loaded the tenant before the write, so it has to catch up
    assert check(api_b, uid, "edit", "document:1")["allowed"] is False
    r = api.post("/group-mappings", {"group": "Eng", "role": "editor"})
    assert r.status_code == 201
    rev = r.get_json()["revision"]
    body = check(api_b, uid, "edit", "document:1", consistency={"at_least": rev}, explain=True)
    assert body["allowed"] is True, body
    assert body["revision"] >= rev
    assert body["explanation"] == "allowed: role editor via group Eng (IdP)"


def test_a_scim_deactivation_through_a_denies_on_b_without_at_least(api, scim, api_b):
    uid = scim_user(scim, "ann")
    api.post("/roles", {"key": "editor", "permissions": ["document:edit"]})
    api.post("/role-assignments", {"user": uid, "role": "editor"})
    assert check(api_b, uid, "edit", "document:1")["allowed"] is True
    r = scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "value": {"active": False}}))
    assert r.status_code == 200
    body = eventually(lambda: (b := check(api_b, uid, "edit", "document:1", explain=True))["allowed"] is False and b)
    assert body and "deactivated" in body["explanation"]


def test_writes_through_b_are_seen_by_a(api, scim, api_b, scim_b):
    assert api.post("/schema", {"source": "entity doc { relation owner @user permission edit = owner }"}).status_code \
        == 201
    uid = scim_user(scim_b, "ann")  # provisioned through B
    assert check(api, uid, "edit", "doc:1")["allowed"] is False  # A knows the user
    r = api_b.post("/relationships", {"relationships": [{"resource": "doc:1", "relation": "owner",
                                                          "subject": f"user:{uid}"}]})
    assert r.status_code == 200
    body = check(api, "ann", "edit", "doc:1", consistency={"at_least": r.get_json()["revision"]})
    assert body["allowed"] is True
    r = api_b.post("/relationships/delete", {"relationships": [{"resource": "doc:1", "relation": "owner",
                                                                 "subject": f"user:{uid}"}]})
    assert eventually(lambda: check(api, "ann", "edit", "doc:1")["allowed"] is False)


def test_role_and_mode_changes_cross_instances(api, scim, api_b):
    uid = scim_user(scim, "ann")
    api.post("/roles", {"key": "editor", "permissions": ["document:edit"]})
    api.post("/role-assignments", {"user": uid, "role": "editor"})
    assert check(api_b, uid, "edit", "document:1")["allowed"] is True
    api.patch("/roles/editor", {"permissions": ["document:view"]})
    assert eventually(lambda: check(api_b, uid, "edit", "document:1")["allowed"] is False)
    assert check(api_b, uid, "view", "document:1")["allowed"] is True
    api.patch("/tenant", {"role_mode": "idp"})
    assert eventually(lambda: check(api_b, uid, "view", "document:1")["allowed"] is False)
    assert api_b.get("/users/ann/permissions").get_json()["role_mode"] == "idp"


def test_a_polling_instance_still_honours_at_least(app, api, scim, tenant):
    """With the revision read only every hour, at_least must still make the check wait for the write."""
    b = second_instance(app, AUTHZ_REVISION_POLL_SECONDS=3600.0)
    try:
        api_b = APIClient(b.test_client(), api.key)
        uid = scim_user(scim, "ann")
        api.post("/roles", {"key": "editor", "permissions": ["document:edit"]})
        assert check(api_b, uid, "edit", "document:1")["allowed"] is False
        r = api.post("/role-assignments", {"user": uid, "role": "editor"})
        rev = r.get_json()["revision"]
        assert check(api_b, uid, "edit", "document:1", consistency={"at_least": rev})["allowed"] is True
        r = scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "value": {"active": False}}))
        assert r.status_code == 200
        rev2 = api.get("/tenant").get_json()["tenant"]["revision"]
        assert rev2 > rev
        assert check(api_b, uid, "edit", "document:1", consistency={"at_least": rev2})["allowed"] is False
        # the bulk form honours the request-wide at_least as well
        api.post("/roles", {"key": "viewer", "permissions": ["document:view"]})
        scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "value": {"active": True}}))
        r = api.post("/role-assignments", {"user": uid, "role": "viewer"})
        body = api_b.post("/check/bulk", {"consistency": {"at_least": r.get_json()["revision"]}, "checks": [
            {"user": uid, "action": "view", "resource": "document:1"}]}).get_json()
        assert [x["allowed"] for x in body["results"]] == [True]
        # and so do the permissions and lookups
        perms = api_b.get(f"/users/{uid}/permissions?at_least={r.get_json()['revision']}").get_json()
        assert sorted(x["role"] for x in perms["roles"]) == ["editor", "viewer"]
    finally:
        dispose(b)


def test_a_revoked_key_stops_working_on_every_instance(app, api, api_b, tenant):
    from scim_authz.credentials.keys import revoke_credential
    from scim_authz.db.models import Credential, Tenant
    assert api.get("/roles").status_code == 200
    assert api_b.get("/roles").status_code == 200  # cached on both instances now
    with app.app_context():
        cred = db.session.execute(db.select(Credential).where(Credential.tenant_id == tenant[0],
                                                               Credential.kind == "app")).scalar_one()
        assert revoke_credential(db.session.get(Tenant, tenant[0]), cred.id) is True
        db.session.commit()
        db.session.remove()
    assert eventually(lambda: api_b.get("/roles").status_code == 401)
    error(api_b.get("/roles"), 401, "unauthorized")
    assert eventually(lambda: api.get("/roles").status_code == 401)
