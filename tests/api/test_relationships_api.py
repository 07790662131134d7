"""/v1/relationships: batches written all or nothing against the schema in force, read with filters
and a cursor, deleted; checks through relationship rules (owner, parent traversal, SCIM groups)."""
from __future__ import annotations

import pytest

from scim_authz.db.models import Change, Relationship
from tests.api._api_helpers import allowed, check, count, error, revision, rows, scim_group, scim_user
from tests.conftest import patch_op

SCHEMA = """
entity folder {
  relation owner @user
  relation viewer @user @group#member
  relation parent @folder
  permission view = owner or viewer or parent.view
}
entity document {
  relation owner @user
  relation viewer @user @group#member
  relation parent @folder
  permission edit = owner
  permission view = edit or viewer or parent.view
}
"""


def rel(resource, relation, subject):
    return {"resource": resource, "relation": relation, "subject": subject}


@pytest.fixture
def schema(api):
    r = api.post("/schema", {"source": SCHEMA})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["schema"]["version"]


def test_write_a_batch_then_again_is_idempotent(app, api, tenant, schema):
    batch = [rel("document:1", "owner", "user:u1"), rel("document:1", "viewer", "group:g1#member"),
             rel("document:1", "parent", "folder:f1"), rel("document:1", "owner", "user:u1")]  # a duplicate
    r = api.post("/relationships", {"relationships": batch})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["written"] == 3
    assert body["revision"] == revision(app, tenant[0])
    assert count(app, Relationship, tenant_id=tenant[0]) == 3
    assert {x.revision for x in rows(app, Relationship, tenant_id=tenant[0])} == {body["revision"]}
    again = api.post("/relationships", {"relationships": batch})
    assert again.status_code == 200
    assert again.get_json() == {"written": 0, "revision": body["revision"]}
    assert count(app, Relationship, tenant_id=tenant[0]) == 3
    # partly new: only the new one is written
    r = api.post("/relationships", {"relationships": batch[:1] + [rel("folder:f1", "owner", "user:u2")]})
    assert r.get_json()["written"] == 1
    assert count(app, Relationship, tenant_id=tenant[0]) == 4


@pytest.mark.parametrize("bad, words", [
    (rel("document:2", "editor", "user:u1"), "document has no relation 'editor'"),
    (rel("document:2", "view", "user:u1"), "(it is a permission, computed, not written)"),
    (rel("spreadsheet:2", "owner", "user:u1"), "the schema has no entity 'spreadsheet'"),
    (rel("document:2", "owner", "robot:r2"), "document#owner takes @user, not @robot"),
    (rel("document:2", "owner", "group:g1#member"), "document#owner takes @user, not @group#member"),
    (rel("document:2", "viewer", "group:g1"), "not @group"),
    (rel("document:2", "parent", "document:3"), "not @document"),
])
def test_a_bad_item_refuses_the_whole_batch(app, api, tenant, schema, bad, words):
    rev = revision(app, tenant[0])
    good = [rel("document:1", "owner", "user:u1"), rel("folder:f1", "viewer", "user:u1")]
    err = error(api.post("/relationships", {"relationships": good + [bad]}), 400, "invalid_request")
    assert "nothing was written" in err["message"]
    assert list(err["details"]) == ["relationships"]
    assert list(err["details"]["relationships"]) == ["2"]
    assert words in err["details"]["relationships"]["2"][0]
    assert count(app, Relationship, tenant_id=tenant[0]) == 0
    assert count(app, Change, tenant_id=tenant[0], kind="relationship") == 0
    assert revision(app, tenant[0]) == rev


@pytest.mark.parametrize("item", [
    {"resource": "nocolon", "relation": "owner", "subject": "user:u1"},
    {"resource": "document:1", "relation": "owner", "subject": "u1"},
    {"resource": "document:1", "relation": "own er", "subject": "user:u1"},
    {"resource": "document:1", "relation": "owner"},
    {"resource": "document:1", "relation": "owner", "subject": "user:u1", "extra": 1},
])
def test_malformed_items_are_400_naming_the_item(app, api, tenant, schema, item):
    err = error(api.post("/relationships", {"relationships": [rel("document:1", "owner", "user:u1"), item]}), 400)
    assert "1" in err["details"]["relationships"]
    assert count(app, Relationship, tenant_id=tenant[0]) == 0


def test_empty_or_missing_batch_is_400(api, schema):
    error(api.post("/relationships", {"relationships": []}), 400)
    error(api.post("/relationships", {}), 400)


def test_without_a_schema_nothing_can_be_written(app, api, tenant):
    err = error(api.post("/relationships", {"relationships": [rel("document:1", "owner", "user:u1")]}), 404)
    assert "no schema" in err["message"]
    assert count(app, Relationship, tenant_id=tenant[0]) == 0


def test_read_with_filters(api, schema):
    api.post("/relationships", {"relationships": [
        rel("document:1", "owner", "user:u1"), rel("document:1", "viewer", "user:u2"),
        rel("document:2", "owner", "user:u2"), rel("folder:f1", "viewer", "group:g1#member")]})
    r = api.get("/relationships")
    assert r.status_code == 200
    assert r.get_json()["next_cursor"] is None
    assert [(x["resource"], x["relation"], x["subject"]) for x in r.get_json()["relationships"]] == [
        ("document:1", "owner", "user:u1"), ("document:1", "viewer", "user:u2"), ("document:2", "owner", "user:u2"),
        ("folder:f1", "viewer", "group:g1#member")]
    got = api.get("/relationships?resource_type=document&resource_id=1").get_json()["relationships"]
    assert [x["subject"] for x in got] == ["user:u1", "user:u2"]
    got = api.get("/relationships?subject_type=user&subject_id=u2").get_json()["relationships"]
    assert [x["resource"] for x in got] == ["document:1", "document:2"]
    got = api.get("/relationships?relation=viewer&subject_relation=member").get_json()["relationships"]
    assert [x["resource"] for x in got] == ["folder:f1"]
    assert api.get("/relationships?resource_type=nothing").get_json()["relationships"] == []
    err = error(api.get("/relationships?colour=blue"), 400)
    assert err["details"] == {"colour": ["not a filter"]}
    error(api.get("/relationships?limit=0"), 400)
    error(api.get("/relationships?limit=x"), 400)
    error(api.get("/relationships?cursor=abc"), 400)


def test_read_pages_with_a_cursor(api, schema):
    items = [rel(f"document:{i}", "owner", "user:u1") for i in range(7)]
    api.post("/relationships", {"relationships": items})
    seen, cursor, pages = [], None, 0
    while True:
        r = api.get("/relationships?limit=3&subject_id=u1" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        pages += 1
        seen += [x["resource"] for x in body["relationships"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(body["relationships"]) == 3
    assert pages == 3
    assert sorted(seen) == sorted(x["resource"] for x in items) and len(seen) == 7


def test_delete_a_batch(app, api, tenant, schema):
    api.post("/relationships", {"relationships": [rel("document:1", "owner", "user:u1"),
                                                  rel("document:2", "owner", "user:u1")]})
    r = api.post("/relationships/delete", {"relationships": [rel("document:1", "owner", "user:u1"),
                                                             rel("document:9", "owner", "user:u1")]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["deleted"] == 1
    assert r.get_json()["revision"] == revision(app, tenant[0])
    assert [x.resource_id for x in rows(app, Relationship, tenant_id=tenant[0])] == ["2"]
    again = api.post("/relationships/delete", {"relationships": [rel("document:1", "owner", "user:u1")]})
    assert again.get_json() == {"deleted": 0, "revision": r.get_json()["revision"]}


# ---- checks through relationships --------------------------------------------------------------

def test_owner_relation_grants_and_deleting_it_revokes(api, scim, schema):
    uid = scim_user(scim, "ann")
    other = scim_user(scim, "bob")
    api.post("/relationships", {"relationships": [rel("document:1", "owner", f"user:{uid}")]})
    d = check(api, "ann", "edit", "document:1", explain=True)
    assert d["allowed"] is True
    assert d["explanation"] == "allowed: owner of document:1"
    assert d["path"] == ["owner of document:1"]
    assert allowed(api, "ann", "view", "document:1")  # view = edit or ...
    assert not allowed(api, "bob", "edit", "document:1")
    assert not allowed(api, "ann", "edit", "document:2")
    d = check(api, other, "edit", "document:1", explain=True)
    assert d["explanation"] == ("denied: no role of bob grants document:edit, and document.edit does not hold for "
                                "document:1")
    api.post("/relationships/delete", {"relationships": [rel("document:1", "owner", f"user:{uid}")]})
    assert not allowed(api, "ann", "edit", "document:1")


def test_parent_traversal(api, scim, schema):
    uid = scim_user(scim, "ann")
    api.post("/relationships", {"relationships": [
        rel("document:1", "parent", "folder:a"), rel("folder:a", "parent", "folder:b"),
        rel("folder:b", "viewer", f"user:{uid}")]})
    d = check(api, uid, "view", "document:1", explain=True)
    assert d["allowed"] is True, d
    assert d["path"][0] == "document:1 has parent folder:a"
    assert d["path"][-1] == "viewer of folder:b"
    assert len(d["path"]) >= 3
    assert allowed(api, uid, "view", "folder:a")
    assert not allowed(api, uid, "edit", "document:1")  # edit is owner only
    api.post("/relationships/delete", {"relationships": [rel("folder:a", "parent", "folder:b")]})
    assert not allowed(api, uid, "view", "document:1")


def test_group_member_through_scim_groups(api, scim, schema):
    ann = scim_user(scim, "ann")
    bob = scim_user(scim, "bob")
    carl = scim_user(scim, "carl")
    team = scim_group(scim, "Team", [ann])
    outer = scim_group(scim, "Outer", [team])  # Team nested in Outer
    api.post("/relationships", {"relationships": [rel("document:1", "viewer", f"group:{outer}#member")]})
    d = check(api, ann, "view", "document:1", explain=True)
    assert d["allowed"] is True, d
    assert d["path"][-1] == "member of group Outer (SCIM)"
    assert not allowed(api, bob, "view", "document:1")
    # Okta adds carl to the nested group: the next check sees it
    scim.patch(f"/Groups/{team}", patch_op({"op": "add", "path": "members", "value": [{"value": carl}]}))
    assert allowed(api, carl, "view", "document:1")
    scim.patch(f"/Groups/{team}", patch_op({"op": "remove", "path": f'members[value eq "{ann}"]'}))
    assert not allowed(api, ann, "view", "document:1")
    assert allowed(api, carl, "view", "document:1")


def test_instance_role_and_relationship_do_not_leak_between_resources(api, scim, schema):
    uid = scim_user(scim, "ann")
    api.post("/relationships", {"relationships": [rel("document:1", "owner", f"user:{uid}")]})
    assert allowed(api, uid, "edit", "document:1")
    assert not allowed(api, uid, "edit", "document:10")
    assert not allowed(api, uid, "edit", "folder:1")
