"""Tenants never see or change each other's data, and /v1 needs a valid, unrevoked application key."""
from __future__ import annotations

import pytest

from scim_authz.db.extensions import db
from scim_authz.db.models import Credential, GroupRoleMapping, Relationship, Role, RoleAssignment, Tenant, User
from tests.api._api_helpers import check, count, error, rows, scim_group, scim_user
from tests.conftest import APIClient, SCIMClient, issue_app_key, make_tenant

SCHEMA = "entity document { relation owner @user relation viewer @user @group#member " \
         "permission view = owner or viewer }"


@pytest.fixture
def acme(api, scim):
    """acme's data: a user, a group, a role, an assignment, a mapping, a schema, relationships, a decision."""
    ann = scim_user(scim, "ann@example.com")
    eng = scim_group(scim, "Eng", [ann])
    api.post("/roles", {"key": "editor", "permissions": ["document:edit"]})
    aid = api.post("/role-assignments", {"user": ann, "role": "editor"}).get_json()["assignment"]["id"]
    mid = api.post("/group-mappings", {"group": "Eng", "role": "editor"}).get_json()["mapping"]["id"]
    api.post("/schema", {"source": SCHEMA})
    api.post("/relationships", {"relationships": [{"resource": "document:1", "relation": "owner",
                                                   "subject": f"user:{ann}"}]})
    assert check(api, ann, "edit", "document:1")["allowed"] is True
    return {"ann": ann, "eng": eng, "aid": aid, "mid": mid}


def test_other_tenant_sees_nothing_of_acme(api, other_api, acme):
    assert other_api.get("/roles").get_json() == {"roles": []}
    error(other_api.get("/roles/editor"), 404)
    assert other_api.get("/role-assignments").get_json() == {"assignments": []}
    assert other_api.get("/group-mappings").get_json() == {"mappings": []}
    error(other_api.get("/group-mappings?group=Eng"), 404)
    error(other_api.get(f"/role-assignments?user={acme['ann']}"), 404)
    assert other_api.get("/relationships").get_json()["relationships"] == []
    assert other_api.get("/relationships?subject_id=" + acme["ann"]).get_json()["relationships"] == []
    assert other_api.get("/decisions").get_json()["decisions"] == []
    assert other_api.get("/usage?months=1").get_json()["usage"][0]["checks"] == 0
    error(other_api.get(f"/users/{acme['ann']}"), 404)
    error(other_api.get("/users/ann@example.com"), 404)
    error(other_api.get(f"/users/{acme['ann']}/permissions"), 404)
    error(other_api.get("/schema"), 404)
    assert other_api.get("/schema/versions").get_json() == {"versions": []}
    assert other_api.get("/tenant").get_json()["tenant"]["key"] == "initech"
    body = other_api.post("/lookup/subjects", {"action": "edit", "resource": "document:1"}).get_json()
    assert body["users"] == []
    body = other_api.post("/lookup/resources", {"user": acme["ann"], "action": "view",
                                                "resource_type": "document"}).get_json()
    assert body["resources"] == []


def test_other_tenant_cannot_change_acme(app, api, other_api, acme, tenant):
    error(other_api.put("/roles/editor", {"permissions": ["*"]}), 404)
    error(other_api.patch("/roles/editor", {"permissions": ["*"]}), 404)
    error(other_api.delete("/roles/editor"), 404)
    error(other_api.delete(f"/role-assignments/{acme['aid']}"), 404)
    error(other_api.delete(f"/group-mappings/{acme['mid']}"), 404)
    error(other_api.post("/role-assignments", {"user": acme["ann"], "role": "editor"}), 404)
    error(other_api.post("/group-mappings", {"group": acme["eng"], "role": "editor"}), 404)
    r = other_api.post("/relationships/delete", {"relationships": [
        {"resource": "document:1", "relation": "owner", "subject": f"user:{acme['ann']}"}]})
    assert r.status_code == 200 and r.get_json()["deleted"] == 0
    # syncing a user by acme's user id makes a user in initech, never touches acme's
    r = other_api.put(f"/users/{acme['ann']}", {"displayName": "Hijacked", "active": False})
    assert r.status_code == 201
    assert r.get_json()["user"]["id"] != acme["ann"]

    assert rows(app, Role, tenant_id=tenant[0])[0].permissions == ["document:edit"]
    assert count(app, RoleAssignment, tenant_id=tenant[0]) == 1
    assert count(app, GroupRoleMapping, tenant_id=tenant[0]) == 1
    assert count(app, Relationship, tenant_id=tenant[0]) == 1
    ann = rows(app, User, id=acme["ann"])[0]
    assert ann.tenant_id == tenant[0] and ann.active is True and ann.display_name is None
    assert check(api, acme["ann"], "edit", "document:1")["allowed"] is True


def test_other_tenant_check_of_an_acme_user_knows_no_such_user(other_api, acme):
    body = other_api.post("/check?explain=true", {"user": acme["ann"], "action": "edit",
                                                  "resource": "document:1"}).get_json()
    assert body["allowed"] is False
    assert body["explanation"] == f"denied: no user {acme['ann']!r} in this tenant"
    body = other_api.post("/check", {"user": "ann@example.com", "action": "edit", "resource": "document:1"})
    assert body.get_json()["allowed"] is False


def test_an_acme_check_never_uses_other_tenants_data(app, client, api, scim, other_api):
    """initech has a user of the same name with a role of the same key granting everything, the same
    group name mapped, the same relationships: none of it reaches acme's ann."""
    ann = scim_user(scim, "ann@example.com")
    api.post("/roles", {"key": "editor", "permissions": ["document:view"]})
    api.post("/schema", {"source": SCHEMA})
    # initech, through its own SCIM token
    other_token = None
    with app.app_context():
        from scim_authz.credentials.keys import issue_credential
        t = db.session.execute(db.select(Tenant).where(Tenant.key == "initech")).scalar_one()
        other_token = issue_credential(t, "scim", "tests").secret
        db.session.commit()
        db.session.remove()
    other_scim = SCIMClient(client, other_token)
    twin = scim_user(other_scim, "ann@example.com")
    scim_group(other_scim, "Eng", [twin])
    scim_group(scim, "Eng", [ann])  # acme's own Eng, unmapped
    assert other_api.post("/roles", {"key": "editor", "permissions": ["*"]}).status_code == 201
    assert other_api.post("/role-assignments", {"user": "ann@example.com", "role": "editor"}).status_code == 201
    assert other_api.post("/group-mappings", {"group": "Eng", "role": "editor"}).status_code == 201
    assert other_api.post("/schema", {"source": SCHEMA}).status_code == 201
    assert other_api.post("/relationships", {"relationships": [
        {"resource": "document:1", "relation": "owner", "subject": f"user:{ann}"},
        {"resource": "document:1", "relation": "viewer", "subject": f"user:{twin}"}]}).status_code == 200
    assert check(other_api, "ann@example.com", "delete", "anything:1")["allowed"] is True
    for action, resource in (("edit", "document:1"), ("view", "document:1"), ("delete", "anything:1")):
        body = check(api, "ann@example.com", action, resource, explain=True)
        assert body["allowed"] is False, (action, resource, body)
    assert api.get("/users/ann@example.com/permissions").get_json()["roles"] == []
    body = api.post("/lookup/resources", {"user": ann, "action": "view", "resource_type": "document"}).get_json()
    assert body["resources"] == []
    assert api.get("/relationships").get_json()["relationships"] == []


# ---- keys ------------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer sk_not-a-real-key"},
])
def test_missing_or_invalid_keys_are_401_json(client, api, headers):
    r = client.get("/v1/roles", headers=headers)
    err = error(r, 401, "unauthorized")
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert err["message"]


def test_a_scim_token_is_not_an_api_key(client, tenant, api):
    error(client.get("/v1/roles", headers={"Authorization": f"Bearer {tenant[1]}"}), 401, "unauthorized")


def test_an_api_key_is_not_a_scim_token(client, api):
    r = client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {api.key}"})
    assert r.status_code == 401


def test_revoking_a_key_takes_effect_at_the_next_request(app, client, api, tenant):
    from scim_authz.credentials.keys import revoke_credential
    second = APIClient(client, issue_app_key(app, tenant[0]))
    assert api.get("/roles").status_code == 200  # now cached
    assert second.get("/roles").status_code == 200
    with app.app_context():
        creds = db.session.execute(db.select(Credential).where(Credential.tenant_id == tenant[0],
                                                                Credential.kind == "app")
                                   .order_by(Credential.id)).scalars().all()
        assert revoke_credential(db.session.get(Tenant, tenant[0]), creds[0].id) is True
        db.session.commit()
        db.session.remove()
    err = error(api.get("/roles"), 401, "unauthorized")
    assert err["message"] == "The API key is not valid."
    error(api.post("/check", {"user": "a", "action": "b", "resource": "c:d"}), 401)
    assert second.get("/roles").status_code == 200  # the other key still works


def test_revoking_another_tenants_key_is_refused(app, api, tenant):
    from scim_authz.credentials.keys import revoke_credential
    tid, _ = make_tenant(app, "globex")
    with app.app_context():
        cred = db.session.execute(db.select(Credential).where(Credential.tenant_id == tenant[0],
                                                               Credential.kind == "app")).scalar_one()
        assert revoke_credential(db.session.get(Tenant, tid), cred.id) is False
        db.session.commit()
        db.session.remove()
    assert api.get("/roles").status_code == 200
