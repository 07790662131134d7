"""Groups and memberships: RFC 7644 §3.5.2 member operations touch only the rows they change."""
from __future__ import annotations

from sqlalchemy import select

from scim_authz.db.extensions import db
from scim_authz.db.models import Group, GroupMember
from scim_authz.scim.schema_defs import GROUP
from tests.conftest import patch_op


def user(scim, name):
    r = scim.post("/Users", {"userName": name, "displayName": name.title()})
    assert r.status_code == 201
    return r.get_json(force=True)["id"]


def group(scim, name, members=()):
    r = scim.post("/Groups", {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members]})
    assert r.status_code == 201, r.get_json(force=True)
    return r.get_json(force=True)


def member_rows(app, gid):
    with app.app_context():
        return set(db.session.execute(select(GroupMember.member_id).where(GroupMember.group_id == gid)).scalars())


def test_create_group_with_members(app, scim):
    a, b = user(scim, "alice"), user(scim, "bob")
    g = group(scim, "Engineering", [a, b])
    assert {m["value"] for m in g["members"]} == {a, b}
    assert all(m["type"] == "User" and m["$ref"].endswith(f"/Users/{m['value']}") for m in g["members"])
    assert member_rows(app, g["id"]) == {a, b}


def test_unknown_member_is_400_and_nothing_is_created(app, scim):
    r = scim.post("/Groups", {"displayName": "Ghosts", "members": [{"value": "no-such-user"}]})
    assert r.status_code == 400 and r.get_json(force=True)["scimType"] == "invalidValue"
    with app.app_context():
        assert db.session.query(Group).count() == 0


def test_member_of_another_tenant_is_refused(scim, other_scim):
    stranger = other_scim.post("/Users", {"userName": "stranger"}).get_json(force=True)["id"]
    r = scim.post("/Groups", {"displayName": "G", "members": [{"value": stranger}]})
    assert r.status_code == 400


def test_patch_add_and_remove_members_touches_only_those_rows(app, scim):
    """RFC 7644 §3.5.2.1 add to members; §3.5.2.2 remove members[value eq ...]."""
    a, b, c = user(scim, "a"), user(scim, "b"), user(scim, "c")
    g = group(scim, "G", [a, b])
    r = scim.patch(f"/Groups/{g['id']}", patch_op(
        {"op": "add", "path": "members", "value": [{"value": c}]},
        {"op": "remove", "path": f'members[value eq "{a}"]'}))
    assert r.status_code == 204
    assert r.headers["ETag"] == 'W/"2"'
    assert member_rows(app, g["id"]) == {b, c}


def test_patch_replace_members_and_remove_all(app, scim):
    """RFC 7644 §3.5.2.3 replace members; §3.5.2.2 remove path members."""
    a, b = user(scim, "a"), user(scim, "b")
    g = group(scim, "G", [a])
    assert scim.patch(f"/Groups/{g['id']}", patch_op({"op": "replace", "path": "members",
                                                       "value": [{"value": b}]})).status_code == 204
    assert member_rows(app, g["id"]) == {b}
    assert scim.patch(f"/Groups/{g['id']}", patch_op({"op": "remove", "path": "members"})).status_code == 204
    assert member_rows(app, g["id"]) == set()


def test_patch_group_returns_representation_when_asked(scim):
    a = user(scim, "a")
    g = group(scim, "G")
    r = scim.patch(f"/Groups/{g['id']}?excludedAttributes=members",
                   patch_op({"op": "add", "path": "members", "value": [{"value": a}]}))
    assert r.status_code == 200
    body = r.get_json(force=True)
    assert "members" not in body and body["meta"]["version"] == 'W/"2"'


def test_adding_an_existing_member_changes_nothing(app, scim):
    a = user(scim, "a")
    g = group(scim, "G", [a])
    r = scim.patch(f"/Groups/{g['id']}", patch_op({"op": "add", "path": "members", "value": [{"value": a}]}))
    assert r.status_code == 204 and r.headers["ETag"] == 'W/"1"'


def test_nested_groups_and_users_groups_attribute(scim):
    """RFC 7643 §4.1.2: a user's groups, direct and indirect."""
    a = user(scim, "a")
    inner = group(scim, "Inner", [a])
    outer = group(scim, "Outer", [inner["id"]])
    u = scim.get(f"/Users/{a}").get_json(force=True)
    assert {(g["display"], g["type"]) for g in u["groups"]} == {("Inner", "direct"), ("Outer", "indirect")}
    assert outer["members"][0]["type"] == "Group"


def test_membership_cycle_is_refused(scim):
    inner = group(scim, "Inner")
    outer = group(scim, "Outer", [inner["id"]])
    r = scim.patch(f"/Groups/{inner['id']}", patch_op({"op": "add", "path": "members",
                                                        "value": [{"value": outer["id"]}]}))
    assert r.status_code == 400 and r.get_json(force=True)["scimType"] == "invalidValue"
    r = scim.patch(f"/Groups/{inner['id']}", patch_op({"op": "add", "path": "members",
                                                        "value": [{"value": inner["id"]}]}))
    assert r.status_code == 400


def test_a_cycle_through_a_chain_deeper_than_the_listing_walk_is_refused(app, scim):
    """The cycle check walks every ancestor, not only as many levels as a user's groups are listed."""
    from scim_authz.directory.membership_reads import MAX_GROUP_DEPTH

    chain = [group(scim, "Level 0")]
    for n in range(1, MAX_GROUP_DEPTH + 3):  # each group holds the one before it
        chain.append(group(scim, f"Level {n}", [chain[-1]["id"]]))
    bottom, top = chain[0], chain[-1]
    r = scim.patch(f"/Groups/{bottom['id']}", patch_op({"op": "add", "path": "members",
                                                         "value": [{"value": top["id"]}]}))
    assert r.status_code == 400 and r.get_json(force=True)["scimType"] == "invalidValue"
    assert member_rows(app, bottom["id"]) == set()


def test_deleting_user_removes_its_memberships(app, scim):
    a, b = user(scim, "a"), user(scim, "b")
    g = group(scim, "G", [a, b])
    assert scim.delete(f"/Users/{a}").status_code == 204
    assert member_rows(app, g["id"]) == {b}


def test_deleting_group_removes_rows(app, scim):
    a = user(scim, "a")
    g = group(scim, "G", [a])
    assert scim.delete(f"/Groups/{g['id']}").status_code == 204
    assert member_rows(app, g["id"]) == set()
    assert scim.get(f"/Groups/{g['id']}").status_code == 404


def test_put_group_replaces_name_and_members(app, scim):
    a, b = user(scim, "a"), user(scim, "b")
    g = group(scim, "G", [a])
    r = scim.put(f"/Groups/{g['id']}", {"displayName": "G2", "members": [{"value": b}]})
    assert r.status_code == 200
    assert r.get_json(force=True)["displayName"] == "G2"
    assert member_rows(app, g["id"]) == {b}


def test_excluded_members_never_loads_members(app, scim, monkeypatch):
    """excludedAttributes=members answers without reading the membership table."""
    a = user(scim, "a")
    g = group(scim, "G", [a])
    from scim_authz.directory import membership_reads

    def boom(*_a, **_k):
        raise AssertionError("members were loaded")
    monkeypatch.setattr(membership_reads, "members_of_groups", boom)
    r = scim.get(f"/Groups/{g['id']}?excludedAttributes=members")
    assert r.status_code == 200 and "members" not in r.get_json(force=True)
    r = scim.get("/Groups?excludedAttributes=members")
    assert r.status_code == 200 and r.get_json(force=True)["totalResults"] == 1


def test_group_display_name_filter_is_case_insensitive(scim):
    group(scim, "Engineering")
    r = scim.get('/Groups?filter=displayName eq "engineering"').get_json(force=True)
    assert r["totalResults"] == 1


def test_group_display_name_is_unique_per_tenant_case_insensitively(app, scim, other_scim):
    group(scim, "Zoë's Ångström Team")
    for name in ("Zoë's Ångström Team", "ZOË'S ÅNGSTRÖM TEAM"):
        r = scim.post("/Groups", {"schemas": [GROUP], "displayName": name})
        assert r.status_code == 409, name
        body = r.get_json(force=True)
        assert body["scimType"] == "uniqueness" and body["status"] == "409"
        assert "already in use" in body["detail"]
    # Another tenant may use the name.
    assert other_scim.post("/Groups", {"schemas": [GROUP], "displayName": "Zoë's Ångström Team"}).status_code == 201
    with app.app_context():
        names = db.session.execute(select(Group.display_name)).scalars()
        assert sorted(names).count("Zoë's Ångström Team") == 2


def test_renaming_a_group_to_a_name_in_use_is_409_and_changes_nothing(app, scim):
    a, b = group(scim, "Alpha"), group(scim, "Beta")
    r = scim.patch(f"/Groups/{b['id']}", patch_op({"op": "replace", "path": "displayName", "value": "ALPHA"}))
    assert r.status_code == 409 and r.get_json(force=True)["scimType"] == "uniqueness"
    r = scim.put(f"/Groups/{b['id']}", {"schemas": [GROUP], "displayName": "alpha"})
    assert r.status_code == 409
    after = scim.get(f"/Groups/{b['id']}").get_json(force=True)
    assert after["displayName"] == "Beta" and after["meta"]["version"] == b["meta"]["version"]
    # A group may change the case of its own name.
    r = scim.patch(f"/Groups/{a['id']}", patch_op({"op": "replace", "path": "displayName", "value": "ALPHA"}))
    assert r.status_code in (200, 204)
    assert scim.get(f"/Groups/{a['id']}").get_json(force=True)["displayName"] == "ALPHA"
