"""/v1/roles: create, read, list, replace, change, delete; a refused body never writes."""
from __future__ import annotations

import pytest

from scim_authz.db.models import Change, Role
from tests.api._api_helpers import allowed, count, error, revision, rows, scim_user


def test_create_role_returns_it_and_writes_one_row(app, api, tenant):
    before = revision(app, tenant[0])
    r = api.post("/roles", {"key": "editor", "name": "Editor", "description": "edits documents",
                            "permissions": ["document:view", "document:edit", "document:edit"]})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    role = body["role"]
    assert role["key"] == "editor" and role["name"] == "Editor" and role["description"] == "edits documents"
    assert role["permissions"] == ["document:edit", "document:view"]  # sorted, deduplicated
    assert role["extends"] == [] and role["condition"] is None
    assert role["created"].endswith("Z") and role["updated"].endswith("Z")
    assert body["revision"] == before + 1 == revision(app, tenant[0])
    found = rows(app, Role, tenant_id=tenant[0])
    assert [(x.key, x.name, x.permissions) for x in found] == [("editor", "Editor", ["document:edit", "document:view"])]
    assert count(app, Change, tenant_id=tenant[0], kind="role", ref="editor") == 1


def test_name_defaults_to_the_key(api):
    r = api.post("/roles", {"key": "viewer", "permissions": ["document:view"]})
    assert r.status_code == 201
    assert r.get_json()["role"]["name"] == "viewer"


def test_duplicate_key_is_409_and_the_first_role_stays(app, api, tenant):
    assert api.post("/roles", {"key": "editor", "permissions": ["document:edit"]}).status_code == 201
    rev = revision(app, tenant[0])
    err = error(api.post("/roles", {"key": "editor", "permissions": ["*"]}), 409, "conflict")
    assert "editor" in err["message"]
    assert count(app, Role, tenant_id=tenant[0]) == 1
    assert rows(app, Role, tenant_id=tenant[0])[0].permissions == ["document:edit"]
    assert revision(app, tenant[0]) == rev


@pytest.mark.parametrize("perm", ["document", "document:", ":edit", "document:edit:now", "doc ument:edit", "1doc:x"])
def test_invalid_permission_string_is_400_naming_the_field(app, api, tenant, perm):
    rev = revision(app, tenant[0])
    err = error(api.post("/roles", {"key": "r", "permissions": ["document:view", perm]}), 400, "invalid_request")
    # marshmallow names the list field and the index of the bad item
    assert list(err["details"]) == ["permissions"]
    assert list(err["details"]["permissions"]) == ["1"]
    assert "resource_type:action" in err["details"]["permissions"]["1"][0]
    assert count(app, Role, tenant_id=tenant[0]) == 0
    assert revision(app, tenant[0]) == rev


def test_valid_permission_forms(api):
    r = api.post("/roles", {"key": "admin", "permissions": ["*", "document:*", "folder:share_link"]})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["role"]["permissions"] == ["*", "document:*", "folder:share_link"]


def test_a_permission_whose_action_can_never_be_checked_is_refused(app, api, tenant):
    """A check's action is letters, digits and _; a permission `document:sign-off` could be saved
    but never asked about, so it is refused with a reason, and nothing is written."""
    rev = revision(app, tenant[0])
    err = error(api.post("/roles", {"key": "signer", "permissions": ["document:view", "document:sign-off"]}),
                400, "invalid_request")
    assert err["details"]["permissions"] == {"1": ["the action 'sign-off' can never be checked: an action is "
                                                   "letters, digits and _ only"]}
    assert count(app, Role, tenant_id=tenant[0]) == 0 and revision(app, tenant[0]) == rev
    # The action a check may ask about is exactly what a permission may name.
    ok = api.post("/roles", {"key": "signer", "permissions": ["document:sign_off"]})
    assert ok.status_code == 201
    assert api.post("/check", {"user": "nobody", "action": "sign-off", "resource": "document:1"}).status_code == 400


def test_invalid_condition_is_400_with_the_parse_message(app, api, tenant):
    err = error(api.post("/roles", {"key": "owner", "permissions": ["document:edit"],
                                    "condition": "resource.owner == "}), 400, "invalid_request")
    assert list(err["details"]) == ["condition"]
    message = err["details"]["condition"][0]
    assert message.startswith("column ")
    from scim_authz.authz.conditions import validate_condition
    assert message == validate_condition("resource.owner == ")
    assert count(app, Role, tenant_id=tenant[0]) == 0


def test_condition_with_an_unknown_root_is_refused(app, api, tenant):
    err = error(api.post("/roles", {"key": "x", "permissions": ["a:b"], "condition": "os.system == 1"}), 400)
    assert "condition" in err["details"]
    assert count(app, Role, tenant_id=tenant[0]) == 0


def test_extends_unknown_role_is_400(app, api, tenant):
    err = error(api.post("/roles", {"key": "senior", "extends": ["junior"]}), 400, "invalid_request")
    assert err["details"] == {"extends": ["no role 'junior'"]}
    assert count(app, Role, tenant_id=tenant[0]) == 0


def test_extends_itself_is_a_cycle(app, api, tenant):
    err = error(api.post("/roles", {"key": "loop", "extends": ["loop"]}), 400)
    assert "extends" in err["details"]
    assert count(app, Role, tenant_id=tenant[0]) == 0


def test_extends_cycle_through_put_and_patch_is_400_and_changes_nothing(app, api, tenant):
    assert api.post("/roles", {"key": "a", "permissions": ["x:a"]}).status_code == 201
    assert api.post("/roles", {"key": "b", "permissions": ["x:b"], "extends": ["a"]}).status_code == 201
    assert api.post("/roles", {"key": "c", "permissions": ["x:c"], "extends": ["b"]}).status_code == 201
    rev = revision(app, tenant[0])
    err = error(api.patch("/roles/a", {"extends": ["c"]}), 400, "invalid_request")
    assert err["details"] == {"extends": ["a would inherit from itself"]}
    error(api.put("/roles/a", {"permissions": ["x:a"], "extends": ["b"]}), 400)
    assert rows(app, Role, tenant_id=tenant[0], key="a")[0].extends == []
    assert revision(app, tenant[0]) == rev


def test_get_and_list_roles(api):
    api.post("/roles", {"key": "zeta", "permissions": ["a:b"]})
    api.post("/roles", {"key": "alpha", "permissions": ["a:c"], "condition": 'user.department == "eng"'})
    r = api.get("/roles/alpha")
    assert r.status_code == 200
    assert r.get_json()["role"]["condition"] == 'user.department == "eng"'
    listed = api.get("/roles").get_json()["roles"]
    assert [x["key"] for x in listed] == ["alpha", "zeta"]
    error(api.get("/roles/nope"), 404, "not_found")


def test_put_replaces_the_whole_role(app, api, tenant):
    api.post("/roles", {"key": "base", "permissions": ["doc:read"]})
    api.post("/roles", {"key": "editor", "name": "Editor", "description": "d", "permissions": ["doc:edit"],
                        "extends": ["base"], "condition": 'user.department == "eng"'})
    r = api.put("/roles/editor", {"permissions": ["doc:write"]})
    assert r.status_code == 200, r.get_json()
    role = r.get_json()["role"]
    assert role == {**role, "key": "editor", "name": "editor", "description": "", "permissions": ["doc:write"],
                    "extends": [], "condition": None}
    row = rows(app, Role, tenant_id=tenant[0], key="editor")[0]
    assert (row.name, row.description, row.permissions, row.extends, row.condition) == (
        "editor", "", ["doc:write"], [], None)
    assert r.get_json()["revision"] == revision(app, tenant[0])


def test_patch_changes_only_what_it_names(app, api, tenant):
    api.post("/roles", {"key": "base", "permissions": ["doc:read"]})
    api.post("/roles", {"key": "editor", "name": "Editor", "description": "d", "permissions": ["doc:edit"],
                        "extends": ["base"], "condition": 'user.department == "eng"'})
    r = api.patch("/roles/editor", {"description": "new"})
    assert r.status_code == 200, r.get_json()
    role = r.get_json()["role"]
    assert (role["name"], role["description"], role["permissions"], role["extends"], role["condition"]) == (
        "Editor", "new", ["doc:edit"], ["base"], 'user.department == "eng"')
    r = api.patch("/roles/editor", {"condition": None})
    assert r.status_code == 200
    assert rows(app, Role, tenant_id=tenant[0], key="editor")[0].condition is None


def test_key_cannot_change(app, api, tenant):
    api.post("/roles", {"key": "editor", "permissions": ["doc:edit"]})
    err = error(api.patch("/roles/editor", {"key": "other"}), 400)
    assert err["details"] == {"key": ["read-only"]}
    assert [r.key for r in rows(app, Role, tenant_id=tenant[0])] == ["editor"]
    # naming its own key is fine
    assert api.patch("/roles/editor", {"key": "editor", "name": "E"}).status_code == 200


def test_update_unknown_role_is_404(api):
    error(api.put("/roles/ghost", {"permissions": []}), 404, "not_found")
    error(api.patch("/roles/ghost", {"permissions": []}), 404, "not_found")
    error(api.delete("/roles/ghost"), 404, "not_found")


def test_bad_bodies_never_write(app, api, tenant):
    api.post("/roles", {"key": "editor", "permissions": ["doc:edit"]})
    rev = revision(app, tenant[0])
    changes = count(app, Change, tenant_id=tenant[0])
    bad = [
        api.post("/roles", {"key": "bad key", "permissions": []}),
        api.post("/roles", {"permissions": ["doc:edit"]}),
        api.post("/roles", {"key": "x", "permissions": "doc:edit"}),
        api.post("/roles", {"key": "x", "unknown": 1}),
        api.post("/roles", raw="{not json"),
        api.post("/roles", raw="[1, 2]"),
        api.post("/roles", {"key": "x", "condition": "user.a =="}),
        api.patch("/roles/editor", {"permissions": ["nocolon"]}),
        api.put("/roles/editor", {"condition": "((("}),
        api.patch("/roles/editor", {"extends": ["ghost"]}),
    ]
    for r in bad:
        error(r, 400)
    assert count(app, Role, tenant_id=tenant[0]) == 1
    assert rows(app, Role, tenant_id=tenant[0])[0].permissions == ["doc:edit"]
    assert revision(app, tenant[0]) == rev
    assert count(app, Change, tenant_id=tenant[0]) == changes


def test_missing_required_key_names_the_field(api):
    err = error(api.post("/roles", {"permissions": ["doc:edit"]}), 400)
    assert err["details"] == {"key": ["Missing data for required field."]}


def test_delete_role_refused_while_extended_then_allowed(app, api, tenant):
    api.post("/roles", {"key": "base", "permissions": ["doc:read"]})
    api.post("/roles", {"key": "editor", "permissions": ["doc:edit"], "extends": ["base"]})
    err = error(api.delete("/roles/base"), 409, "conflict")
    assert "editor" in err["message"]
    assert count(app, Role, tenant_id=tenant[0]) == 2
    r = api.delete("/roles/editor")
    assert r.status_code == 200 and r.get_json()["deleted"] == "editor"
    r = api.delete("/roles/base")
    assert r.status_code == 200
    assert r.get_json()["revision"] == revision(app, tenant[0])
    assert count(app, Role, tenant_id=tenant[0]) == 0
    error(api.get("/roles/base"), 404)


def test_deleting_a_role_removes_its_assignments_and_mappings_and_revokes(app, api, scim, tenant):
    from scim_authz.db.models import GroupRoleMapping, RoleAssignment
    from tests.api._api_helpers import scim_group
    uid = scim_user(scim, "ann")
    vid = scim_user(scim, "vic")
    scim_group(scim, "Eng", [vid])
    api.post("/roles", {"key": "editor", "permissions": ["doc:edit"]})
    assert api.post("/role-assignments", {"user": "ann", "role": "editor"}).status_code == 201
    assert api.post("/group-mappings", {"group": "Eng", "role": "editor"}).status_code == 201
    assert allowed(api, uid, "edit", "doc:1") and allowed(api, vid, "edit", "doc:1")
    assert api.delete("/roles/editor").status_code == 200
    assert count(app, RoleAssignment, tenant_id=tenant[0]) == 0
    assert count(app, GroupRoleMapping, tenant_id=tenant[0]) == 0
    assert not allowed(api, uid, "edit", "doc:1")
    assert not allowed(api, vid, "edit", "doc:1")


def test_role_changes_change_the_next_check(api, scim):
    uid = scim_user(scim, "ann")
    api.post("/roles", {"key": "base", "permissions": ["doc:read"]})
    api.post("/roles", {"key": "editor", "permissions": ["doc:edit"]})
    api.post("/role-assignments", {"user": uid, "role": "editor"})
    assert not allowed(api, uid, "read", "doc:1")
    assert api.patch("/roles/editor", {"extends": ["base"]}).status_code == 200
    assert allowed(api, uid, "read", "doc:1")  # inherited
    assert api.put("/roles/base", {"permissions": ["doc:read", "doc:comment"]}).status_code == 200
    assert allowed(api, uid, "comment", "doc:1")  # inherited through a changed parent
    assert api.patch("/roles/editor", {"permissions": []}).status_code == 200
    assert not allowed(api, uid, "edit", "doc:1")
