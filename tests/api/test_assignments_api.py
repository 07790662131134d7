"""App-managed role assignments, IdP-managed group mappings, a user's effective permissions with
provenance, and the tenant's role mode."""
from __future__ import annotations

import pytest

from scim_authz.db.models import GroupRoleMapping, RoleAssignment
from tests.api._api_helpers import allowed, check, count, error, revision, rows, scim_group, scim_user
from tests.conftest import patch_op


@pytest.fixture
def people(scim, api):
    """ann (app role target) and bob (in group Engineering); roles editor and viewer."""
    ann = scim_user(scim, "ann@example.com")
    bob = scim_user(scim, "bob@example.com")
    eng = scim_group(scim, "Engineering", [bob])
    assert api.post("/roles", {"key": "editor", "name": "Editor", "permissions": ["document:edit"]}).status_code == 201
    assert api.post("/roles", {"key": "viewer", "name": "Viewer", "permissions": ["folder:view"]}).status_code == 201
    return {"ann": ann, "bob": bob, "eng": eng}


# ---- assignments -----------------------------------------------------------------------------

def test_assign_by_user_name_then_again_is_idempotent(app, api, tenant, people):
    r = api.post("/role-assignments", {"user": "ann@example.com", "role": "editor"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    a = body["assignment"]
    assert a["user"] == people["ann"] and a["userName"] == "ann@example.com" and a["role"] == "editor"
    assert a["resource"] is None and a["source"] == "app"
    assert a["assigned_by"].startswith("key sk_") and "(tests)" in a["assigned_by"]
    assert body["revision"] == revision(app, tenant[0])

    r2 = api.post("/role-assignments", {"user": people["ann"], "role": "editor"})  # by id this time
    assert r2.status_code == 200, r2.get_json()
    assert r2.get_json()["assignment"]["id"] == a["id"]
    assert r2.get_json()["revision"] == body["revision"]  # nothing changed
    assert count(app, RoleAssignment, tenant_id=tenant[0]) == 1
    assert revision(app, tenant[0]) == body["revision"]


def test_assignment_grants_and_its_deletion_revokes(app, api, tenant, people):
    assert not allowed(api, "ann@example.com", "edit", "document:1")
    aid = api.post("/role-assignments", {"user": "ann@example.com", "role": "editor"}).get_json()["assignment"]["id"]
    d = check(api, "ann@example.com", "edit", "document:1", explain=True)
    assert d["allowed"] is True
    assert d["explanation"].startswith("allowed: role editor assigned by key sk_")
    assert d["explanation"].endswith("(app)")
    r = api.delete(f"/role-assignments/{aid}")
    assert r.status_code == 200 and r.get_json()["deleted"] == aid
    assert r.get_json()["revision"] == revision(app, tenant[0])
    assert count(app, RoleAssignment, tenant_id=tenant[0]) == 0
    assert not allowed(api, "ann@example.com", "edit", "document:1")
    error(api.delete(f"/role-assignments/{aid}"), 404, "not_found")


def test_assignment_scoped_to_a_resource(app, api, tenant, people):
    r = api.post("/role-assignments", {"user": "ann@example.com", "role": "viewer", "resource": "folder:42"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["assignment"]["resource"] == "folder:42"
    row = rows(app, RoleAssignment, tenant_id=tenant[0])[0]
    assert (row.resource_type, row.resource_id) == ("folder", "42")
    assert allowed(api, "ann@example.com", "view", "folder:42")
    assert not allowed(api, "ann@example.com", "view", "folder:43")
    # the same role tenant-wide is a different assignment, not a duplicate
    assert api.post("/role-assignments", {"user": "ann@example.com", "role": "viewer"}).status_code == 201
    assert api.post("/role-assignments", {"user": "ann@example.com", "role": "viewer",
                                          "resource": "folder:42"}).status_code == 200
    assert count(app, RoleAssignment, tenant_id=tenant[0]) == 2
    assert allowed(api, "ann@example.com", "view", "folder:43")


def test_list_assignments_with_filters(api, people):
    api.post("/role-assignments", {"user": "ann@example.com", "role": "editor"})
    api.post("/role-assignments", {"user": "ann@example.com", "role": "viewer", "resource": "folder:42"})
    api.post("/role-assignments", {"user": "bob@example.com", "role": "viewer"})
    every = api.get("/role-assignments").get_json()["assignments"]
    assert [(a["userName"], a["role"], a["resource"]) for a in every] == [
        ("ann@example.com", "editor", None), ("ann@example.com", "viewer", "folder:42"),
        ("bob@example.com", "viewer", None)]
    by_user = api.get("/role-assignments?user=ann@example.com").get_json()["assignments"]
    assert [(a["role"], a["resource"]) for a in by_user] == [("editor", None), ("viewer", "folder:42")]
    by_id = api.get(f"/role-assignments?user={people['bob']}").get_json()["assignments"]
    assert [a["role"] for a in by_id] == ["viewer"]
    by_role = api.get("/role-assignments?role=viewer").get_json()["assignments"]
    assert [a["userName"] for a in by_role] == ["ann@example.com", "bob@example.com"]
    both = api.get("/role-assignments?role=viewer&user=bob@example.com").get_json()["assignments"]
    assert len(both) == 1 and both[0]["user"] == people["bob"]
    error(api.get("/role-assignments?user=ghost"), 404)


def test_assign_unknown_user_or_role_is_404_and_writes_nothing(app, api, tenant, people):
    rev = revision(app, tenant[0])
    err = error(api.post("/role-assignments", {"user": "ghost", "role": "editor"}), 404, "not_found")
    assert "ghost" in err["message"]
    err = error(api.post("/role-assignments", {"user": "ann@example.com", "role": "ghost"}), 404, "not_found")
    assert "ghost" in err["message"]
    err = error(api.post("/role-assignments", {"user": "ann@example.com", "role": "editor", "resource": "nocolon"}),
                400)
    assert "resource" in err["details"]
    error(api.post("/role-assignments", {"role": "editor"}), 400)
    assert count(app, RoleAssignment, tenant_id=tenant[0]) == 0
    assert revision(app, tenant[0]) == rev


# ---- group mappings --------------------------------------------------------------------------

def test_map_group_by_name_then_by_id_is_idempotent(app, api, tenant, people):
    r = api.post("/group-mappings", {"group": "engineering", "role": "editor"})  # displayName, any case
    assert r.status_code == 201, r.get_json()
    m = r.get_json()["mapping"]
    assert m["group"] == {"id": people["eng"], "displayName": "Engineering"}
    assert m["role"] == "editor" and m["resource"] is None and m["source"] == "idp"
    r2 = api.post("/group-mappings", {"group": people["eng"], "role": "editor"})
    assert r2.status_code == 200 and r2.get_json()["mapping"]["id"] == m["id"]
    assert count(app, GroupRoleMapping, tenant_id=tenant[0]) == 1
    assert allowed(api, "bob@example.com", "edit", "document:7")
    assert not allowed(api, "ann@example.com", "edit", "document:7")


def test_mapping_scoped_to_a_resource_and_deleted(app, api, tenant, people):
    r = api.post("/group-mappings", {"group": people["eng"], "role": "viewer", "resource": "folder:42"})
    assert r.status_code == 201
    mid = r.get_json()["mapping"]["id"]
    assert r.get_json()["mapping"]["resource"] == "folder:42"
    assert allowed(api, "bob@example.com", "view", "folder:42")
    assert not allowed(api, "bob@example.com", "view", "folder:1")
    r = api.delete(f"/group-mappings/{mid}")
    assert r.status_code == 200 and r.get_json()["deleted"] == mid
    assert count(app, GroupRoleMapping, tenant_id=tenant[0]) == 0
    assert not allowed(api, "bob@example.com", "view", "folder:42")
    error(api.delete(f"/group-mappings/{mid}"), 404)


def test_list_mappings_with_group_filter(api, scim, people):
    ops = scim_group(scim, "Ops", [people["ann"]])
    api.post("/group-mappings", {"group": "Engineering", "role": "editor"})
    api.post("/group-mappings", {"group": "Ops", "role": "viewer", "resource": "folder:9"})
    every = api.get("/group-mappings").get_json()["mappings"]
    assert [(m["group"]["displayName"], m["role"], m["resource"]) for m in every] == [
        ("Engineering", "editor", None), ("Ops", "viewer", "folder:9")]
    only = api.get(f"/group-mappings?group={ops}").get_json()["mappings"]
    assert [m["role"] for m in only] == ["viewer"]
    only = api.get("/group-mappings?group=Engineering").get_json()["mappings"]
    assert [m["role"] for m in only] == ["editor"]
    error(api.get("/group-mappings?group=Nope"), 404)


def test_map_unknown_group_or_role_is_404(app, api, tenant, people):
    error(api.post("/group-mappings", {"group": "Nope", "role": "editor"}), 404, "not_found")
    error(api.post("/group-mappings", {"group": "Engineering", "role": "ghost"}), 404, "not_found")
    assert count(app, GroupRoleMapping, tenant_id=tenant[0]) == 0


def test_nested_groups_inherit_mappings(api, scim, people):
    carl = scim_user(scim, "carl@example.com")
    backend = scim_group(scim, "Backend", [carl])
    assert scim.patch(f"/Groups/{people['eng']}", patch_op(
        {"op": "add", "path": "members", "value": [{"value": backend}]})).status_code in (200, 204)
    api.post("/group-mappings", {"group": "Engineering", "role": "editor"})
    d = check(api, carl, "edit", "document:1", explain=True)
    assert d["allowed"] is True
    assert d["explanation"] == "allowed: role editor via group Backend, member of Engineering (IdP)"


# ---- effective permissions -------------------------------------------------------------------

def test_permissions_show_provenance(api, people):
    api.post("/roles", {"key": "owner", "permissions": ["document:delete"], "condition": "resource.owner == user.id"})
    api.post("/group-mappings", {"group": "Engineering", "role": "editor"})
    api.post("/role-assignments", {"user": "bob@example.com", "role": "viewer", "resource": "folder:42"})
    api.post("/role-assignments", {"user": "bob@example.com", "role": "owner"})
    r = api.get("/users/bob@example.com/permissions")
    assert r.status_code == 200, r.get_json()
    p = r.get_json()
    assert p["user"] == {"id": people["bob"], "userName": "bob@example.com", "active": True}
    assert p["role_mode"] == "hybrid"
    by_role = {x["role"]: x for x in p["roles"]}
    assert set(by_role) == {"editor", "viewer", "owner"}
    assert by_role["editor"]["source"] == "idp"
    assert by_role["editor"]["group"] == {"id": people["eng"], "displayName": "Engineering"}
    assert by_role["editor"]["resource"] is None and by_role["editor"]["permissions"] == ["document:edit"]
    assert by_role["editor"]["name"] == "Editor"
    assert by_role["viewer"]["source"] == "app" and by_role["viewer"]["resource"] == "folder:42"
    assert by_role["viewer"]["assigned_by"].startswith("key sk_")
    assert "group" not in by_role["viewer"]
    assert by_role["owner"]["condition"] == "resource.owner == user.id"
    # tenant-wide unconditional permissions only; scoped and conditional ones apart
    assert p["permissions"] == ["document:edit"]
    assert p["conditional_permissions"] == ["document:delete"]
    assert p["revision"] == api.get("/tenant").get_json()["tenant"]["revision"]
    # by id too
    assert api.get(f"/users/{people['bob']}/permissions").get_json()["roles"] == p["roles"]


def test_permissions_of_unknown_user_is_404(api, people):
    error(api.get("/users/ghost/permissions"), 404, "not_found")


def test_permissions_of_a_deactivated_user_are_empty(api, scim, people):
    api.post("/role-assignments", {"user": "ann@example.com", "role": "editor"})
    scim.patch(f"/Users/{people['ann']}", patch_op({"op": "replace", "value": {"active": False}}))
    p = api.get("/users/ann@example.com/permissions").get_json()
    assert p["user"]["active"] is False and p["permissions"] == []


# ---- role modes ------------------------------------------------------------------------------

def test_role_mode_switching_changes_the_next_check(api, people):
    api.post("/role-assignments", {"user": "ann@example.com", "role": "editor"})
    api.post("/group-mappings", {"group": "Engineering", "role": "editor"})

    def answers():
        return (allowed(api, "ann@example.com", "edit", "document:1"),
                allowed(api, "bob@example.com", "edit", "document:1"))

    assert api.get("/tenant").get_json()["tenant"]["role_mode"] == "hybrid"
    assert answers() == (True, True)
    r = api.patch("/tenant", {"role_mode": "idp"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["tenant"]["role_mode"] == "idp"
    assert answers() == (False, True)
    assert api.get("/users/ann@example.com/permissions").get_json()["roles"] == []
    assert api.patch("/tenant", {"role_mode": "app"}).status_code == 200
    assert answers() == (True, False)
    assert [x["source"] for x in api.get("/users/ann@example.com/permissions").get_json()["roles"]] == ["app"]
    assert api.patch("/tenant", {"role_mode": "hybrid"}).status_code == 200
    assert answers() == (True, True)


def test_role_mode_must_be_known(api):
    err = error(api.patch("/tenant", {"role_mode": "both"}), 400)
    assert "role_mode" in err["details"]
    assert api.get("/tenant").get_json()["tenant"]["role_mode"] == "hybrid"


def test_scim_membership_changes_reach_the_check(api, scim, people):
    api.post("/group-mappings", {"group": "Engineering", "role": "editor"})
    assert not allowed(api, people["ann"], "edit", "document:1")
    scim.patch(f"/Groups/{people['eng']}", patch_op({"op": "add", "path": "members",
                                                     "value": [{"value": people["ann"]}]}))
    assert allowed(api, people["ann"], "edit", "document:1")
    assert scim.delete(f"/Groups/{people['eng']}").status_code == 204
    assert not allowed(api, people["ann"], "edit", "document:1")
    assert not allowed(api, people["bob"], "edit", "document:1")


def test_a_condition_on_user_groups_sees_membership_changes(api, scim, people):
    """`user.groups` (group names) in a condition follows SCIM membership like mappings do."""
    api.post("/roles", {"key": "eng-only", "permissions": ["repo:push"], "condition": '"Engineering" in user.groups'})
    api.post("/role-assignments", {"user": people["ann"], "role": "eng-only"})
    api.post("/role-assignments", {"user": people["bob"], "role": "eng-only"})
    assert allowed(api, people["bob"], "push", "repo:1")
    assert not allowed(api, people["ann"], "push", "repo:1")
    scim.patch(f"/Groups/{people['eng']}", patch_op({"op": "add", "path": "members",
                                                     "value": [{"value": people["ann"]}]}))
    scim.patch(f"/Groups/{people['eng']}", patch_op({"op": "remove", "path": f'members[value eq "{people["bob"]}"]'}))
    assert allowed(api, people["ann"], "push", "repo:1")
    assert not allowed(api, people["bob"], "push", "repo:1")


def test_a_condition_on_user_groups_sees_a_renamed_group(api, scim, people):
    api.post("/roles", {"key": "eng-only", "permissions": ["repo:push"], "condition": '"Engineering" in user.groups'})
    api.post("/role-assignments", {"user": people["bob"], "role": "eng-only"})
    assert allowed(api, people["bob"], "push", "repo:1")
    r = scim.patch(f"/Groups/{people['eng']}", patch_op({"op": "replace", "path": "displayName", "value": "R&D"}))
    assert r.status_code in (200, 204)
    assert not allowed(api, people["bob"], "push", "repo:1")
