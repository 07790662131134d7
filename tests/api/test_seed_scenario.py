"""The scenario the product exists for, end to end over HTTP: Okta pushes a group, an admin maps it
to a role, the app checks, Okta deactivates the user, the next check denies."""
from __future__ import annotations

from tests.conftest import patch_op


def test_okta_group_mapped_to_role_then_user_deactivated(scim, api):
    user = scim.post("/Users", {"userName": "ada@example.com", "name": {"givenName": "Ada"},
                                "emails": [{"value": "ada@example.com", "type": "work"}]}).get_json(force=True)
    assert scim.post("/Groups", {"displayName": "Engineering", "members": [{"value": user["id"]}]}).status_code == 201

    r = api.post("/roles", {"key": "editor", "name": "Editor", "permissions": ["document:edit", "document:view"]})
    assert r.status_code == 201, r.get_json()
    r = api.post("/group-mappings", {"group": "Engineering", "role": "editor"})
    assert r.status_code == 201, r.get_json()
    revision = r.get_json()["revision"]

    r = api.post("/check?explain=true", {"user": "ada@example.com", "action": "edit", "resource": "document:12",
                                         "consistency": {"at_least": revision}})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["allowed"] is True
    assert body["explanation"] == "allowed: role editor via group Engineering (IdP)"
    assert body["revision"] >= revision and body["decision_id"]

    r = scim.patch(f"/Users/{user['id']}", patch_op({"op": "replace", "value": {"active": False}}))
    assert r.status_code == 200 and r.get_json(force=True)["active"] is False

    body = api.post("/check?explain=true", {"user": user["id"], "action": "edit",
                                            "resource": "document:12"}).get_json()
    assert body["allowed"] is False
    assert "deactivated" in body["explanation"]

    log = api.get("/decisions").get_json()["decisions"]
    assert [d["allowed"] for d in log] == [False, True]
    assert log[1]["reason"] == "allowed: role editor via group Engineering (IdP)"
    assert log[0]["user"] == user["id"] and log[0]["resource"] == "document:12"


def test_removing_the_user_from_the_group_revokes_at_once(scim, api):
    uid = scim.post("/Users", {"userName": "bo"}).get_json(force=True)["id"]
    gid = scim.post("/Groups", {"displayName": "Ops", "members": [{"value": uid}]}).get_json(force=True)["id"]
    api.post("/roles", {"key": "deployer", "permissions": ["service:deploy"]})
    api.post("/group-mappings", {"group": gid, "role": "deployer"})
    assert api.post("/check", {"user": "bo", "action": "deploy", "resource": "service:api"}).get_json()["allowed"]
    scim.patch(f"/Groups/{gid}", patch_op({"op": "remove", "path": f'members[value eq "{uid}"]'}))
    assert not api.post("/check", {"user": "bo", "action": "deploy", "resource": "service:api"}).get_json()["allowed"]
