"""PUT /v1/users/{key} (syncUser at the handoff point), POST /v1/users/bulk, GET /v1/users/{key}."""
from __future__ import annotations

import pytest

from scim_authz.db.models import Role, RoleAssignment, User
from tests.api._api_helpers import allowed, count, error, revision, rows, scim_user


@pytest.fixture
def roles(api):
    for key, perms in (("member", ["document:view"]), ("editor", ["document:edit"]), ("admin", ["*"])):
        assert api.post("/roles", {"key": key, "permissions": perms}).status_code == 201


def app_roles(app, tenant_id, user_id) -> list[str]:
    with app.app_context():
        from sqlalchemy import select

        from scim_authz.db.extensions import db
        keys = sorted(db.session.execute(select(Role.key).join(RoleAssignment, RoleAssignment.role_id == Role.id).where(
            RoleAssignment.tenant_id == tenant_id, RoleAssignment.user_id == user_id,
            RoleAssignment.resource_type == "")).scalars())
        db.session.remove()
        return keys


def test_sync_creates_then_updates(app, api, tenant):
    r = api.put("/users/ext-1", {"userName": "ann@example.com", "displayName": "Ann", "email": "ann@example.com"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    u = body["user"]
    assert body["created"] is True
    assert u["userName"] == "ann@example.com" and u["externalId"] == "ext-1" and u["displayName"] == "Ann"
    assert u["active"] is True and u["attributes"] == {}
    assert body["revision"] == revision(app, tenant[0])
    row = rows(app, User, tenant_id=tenant[0])
    assert [(x.id, x.user_name, x.external_id) for x in row] == [(u["id"], "ann@example.com", "ext-1")]

    r = api.put("/users/ext-1", {"displayName": "Ann B."})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["created"] is False
    assert r.get_json()["user"]["id"] == u["id"]
    assert r.get_json()["user"]["displayName"] == "Ann B."
    assert r.get_json()["user"]["userName"] == "ann@example.com"
    assert count(app, User, tenant_id=tenant[0]) == 1
    # found by id and userName as well
    assert api.put(f"/users/{u['id']}", {"active": False}).status_code == 200
    assert api.put("/users/ANN@example.com", {"active": True}).status_code == 200
    assert count(app, User, tenant_id=tenant[0]) == 1
    got = api.get("/users/ext-1").get_json()["user"]
    assert got["id"] == u["id"] and got["active"] is True


def test_sync_with_only_a_key(app, api, tenant):
    r = api.put("/users/carl", {})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["user"]["userName"] == "carl"
    assert r.get_json()["user"]["externalId"] is None


def test_default_role_on_first_sight_only(app, api, tenant, roles):
    r = api.patch("/tenant", {"default_role": "member"})
    assert r.status_code == 200 and r.get_json()["tenant"]["default_role"] == "member"
    uid = api.put("/users/ann", {"userName": "ann"}).get_json()["user"]["id"]
    assert app_roles(app, tenant[0], uid) == ["member"]
    assert allowed(api, "ann", "view", "document:1")
    a = api.get("/role-assignments?user=ann").get_json()["assignments"]
    assert [x["role"] for x in a] == ["member"]
    # the app takes it away; a later sync does not give it back
    assert api.delete(f"/role-assignments/{a[0]['id']}").status_code == 200
    assert api.put("/users/ann", {"displayName": "Ann"}).status_code == 200
    assert app_roles(app, tenant[0], uid) == []
    assert not allowed(api, "ann", "view", "document:1")
    # roles given on first sight replace the default
    vid = api.put("/users/vic", {"roles": ["editor"]}).get_json()["user"]["id"]
    assert app_roles(app, tenant[0], vid) == ["editor"]


def test_default_role_must_exist(api, roles):
    err = error(api.patch("/tenant", {"default_role": "ghost"}), 400)
    assert "default_role" in err["details"]
    assert api.get("/tenant").get_json()["tenant"]["default_role"] is None
    assert api.patch("/tenant", {"default_role": "member"}).status_code == 200
    assert api.patch("/tenant", {"default_role": None}).status_code == 200
    assert api.get("/tenant").get_json()["tenant"]["default_role"] is None


def test_roles_set_tenant_wide_app_roles_exactly(app, api, tenant, roles):
    uid = api.put("/users/ann", {"roles": ["member", "editor"]}).get_json()["user"]["id"]
    assert app_roles(app, tenant[0], uid) == ["editor", "member"]
    api.post("/role-assignments", {"user": uid, "role": "admin", "resource": "folder:1"})
    assert api.put("/users/ann", {"roles": ["editor", "admin"]}).status_code == 200
    assert app_roles(app, tenant[0], uid) == ["admin", "editor"]
    assert count(app, RoleAssignment, tenant_id=tenant[0], user_id=uid, resource_type="folder") == 1  # stays
    assert allowed(api, uid, "edit", "document:1")
    assert allowed(api, uid, "delete", "anything:1")  # admin has "*"
    assert api.put("/users/ann", {"roles": []}).status_code == 200
    assert app_roles(app, tenant[0], uid) == []
    assert not allowed(api, uid, "edit", "document:1")
    assert allowed(api, uid, "edit", "folder:1")  # the instance role is untouched
    # omitted roles leave them as they are
    api.put("/users/ann", {"roles": ["member"]})
    api.put("/users/ann", {"displayName": "A"})
    assert app_roles(app, tenant[0], uid) == ["member"]


def test_unknown_role_in_sync_is_400_and_writes_nothing(app, api, tenant, roles):
    rev = revision(app, tenant[0])
    err = error(api.put("/users/ann", {"userName": "ann", "roles": ["member", "ghost"]}), 400)
    assert err["details"] == {"roles": ["no role 'ghost'"]}
    assert count(app, User, tenant_id=tenant[0]) == 0
    assert revision(app, tenant[0]) == rev


@pytest.mark.parametrize("body, field", [
    ({"email": "not-an-email"}, "email"),
    ({"userName": ""}, "userName"),
    ({"attributes": [1]}, "attributes"),
    ({"roles": ["bad key"]}, "roles"),
    ({"active": "maybe"}, "active"),
    ({"nickname": "x"}, "nickname"),
])
def test_invalid_sync_bodies(app, api, tenant, body, field):
    err = error(api.put("/users/ann", body), 400)
    assert field in err["details"]
    assert count(app, User, tenant_id=tenant[0]) == 0


def test_attributes_are_usable_in_conditions(app, api, tenant):
    api.post("/roles", {"key": "eng", "permissions": ["repo:push"], "condition": 'user.department == "eng"'})
    uid = api.put("/users/ann", {"attributes": {"department": "eng", "level": 3}, "roles": ["eng"]}).get_json()
    assert uid["user"]["attributes"] == {"department": "eng", "level": 3}
    assert rows(app, User, tenant_id=tenant[0])[0].app_attributes == {"department": "eng", "level": 3}
    assert allowed(api, "ann", "push", "repo:1")
    api.put("/users/ann", {"attributes": {"department": "sales"}})
    assert not allowed(api, "ann", "push", "repo:1")
    api.put("/users/ann", {"attributes": {"department": "eng"}})
    assert allowed(api, "ann", "push", "repo:1")


def test_sync_finds_a_scim_user_by_user_name_instead_of_duplicating(app, api, scim, tenant):
    """The app knows the user by its own id; Okta already provisioned the same userName."""
    sid = scim_user(scim, "ann@example.com", externalId="okta-00u1")
    r = api.put("/users/app-42", {"userName": "ann@example.com", "displayName": "Ann"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["user"]["id"] == sid
    assert r.get_json()["created"] is False
    assert count(app, User, tenant_id=tenant[0]) == 1


def test_sync_by_scim_user_name_updates_the_scim_user(app, api, scim, tenant, roles):
    sid = scim_user(scim, "bob@example.com")
    r = api.put("/users/bob@example.com", {"attributes": {"department": "eng"}, "roles": ["editor"]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["user"]["id"] == sid
    assert count(app, User, tenant_id=tenant[0]) == 1
    assert allowed(api, sid, "edit", "document:1")
    # the SCIM view of the user is intact
    assert scim.get(f"/Users/{sid}").get_json(force=True)["userName"] == "bob@example.com"


def test_user_name_taken_by_another_user_is_409(app, api, scim, tenant):
    scim_user(scim, "ann@example.com")
    api.put("/users/bob", {"userName": "bob@example.com"})
    err = error(api.put("/users/bob", {"userName": "ann@example.com"}), 409, "conflict")
    assert "ann@example.com" in err["message"]
    assert sorted(u.user_name for u in rows(app, User, tenant_id=tenant[0])) == ["ann@example.com", "bob@example.com"]


def test_get_user(api):
    uid = api.put("/users/ann", {"userName": "ann"}).get_json()["user"]["id"]
    assert api.get(f"/users/{uid}").get_json()["user"]["userName"] == "ann"
    error(api.get("/users/ghost"), 404, "not_found")


# ---- bulk ------------------------------------------------------------------------------------

def test_bulk_reports_per_item_and_one_bad_item_blocks_nothing(app, api, tenant, roles):
    api.put("/users/existing", {"userName": "existing"})
    r = api.post("/users/bulk", {"users": [
        {"key": "a1", "userName": "alice", "roles": ["member"]},
        {"key": "b1", "email": "not-an-email"},
        {"key": "existing", "displayName": "Ex"},
        {"key": "c1", "userName": "carol", "roles": ["ghost"]},
        {"userName": "nokey"},
        {"key": "d1", "userName": "dave", "attributes": {"department": "eng"}},
    ]})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    res = body["results"]
    assert [x["index"] for x in res] == [0, 1, 2, 3, 4, 5]
    assert [x["status"] for x in res] == [201, 400, 200, 400, 400, 201]
    assert body["succeeded"] == 3 and body["failed"] == 3
    assert "email" in res[1]["error"]["details"]
    assert res[3]["error"]["details"] == {"roles": ["no role 'ghost'"]}
    assert "key" in res[4]["error"]["details"]
    assert res[2]["user"]["displayName"] == "Ex"
    names = sorted(u.user_name for u in rows(app, User, tenant_id=tenant[0]))
    assert names == ["alice", "dave", "existing"]  # carol's failed item left no user behind
    alice = rows(app, User, tenant_id=tenant[0], user_name="alice")[0]
    assert app_roles(app, tenant[0], alice.id) == ["member"]
    assert body["revision"] == revision(app, tenant[0])
    assert allowed(api, "alice", "view", "document:1")


def test_bulk_conflict_is_reported_for_that_item(app, api, scim, tenant):
    scim_user(scim, "taken")
    api.put("/users/x", {"userName": "x"})
    r = api.post("/users/bulk", {"users": [{"key": "x", "userName": "taken"}, {"key": "y", "userName": "yy"}]})
    assert r.status_code == 200
    assert [x["status"] for x in r.get_json()["results"]] == [409, 201]
    assert sorted(u.user_name for u in rows(app, User, tenant_id=tenant[0])) == ["taken", "x", "yy"]


def test_bulk_needs_users(api):
    error(api.post("/users/bulk", {"users": []}), 400)
    error(api.post("/users/bulk", {}), 400)


def test_deleting_the_default_role_does_not_break_syncing_new_users(app, api, tenant, roles):
    """Either the default role cannot be deleted while it is the default (409), or deleting it clears
    the default; a dangling default must not turn every first-sight sync into a 400."""
    api.patch("/tenant", {"default_role": "member"})
    r = api.delete("/roles/member")
    if r.status_code == 409:
        assert api.get("/tenant").get_json()["tenant"]["default_role"] == "member"
        return
    assert r.status_code == 200
    r = api.put("/users/newcomer", {"userName": "newcomer"})
    assert r.status_code == 201, r.get_json()
    assert api.get("/tenant").get_json()["tenant"]["default_role"] is None
