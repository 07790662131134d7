"""/v1/lookup/resources and /v1/lookup/subjects: complete answers, paged by cursor."""
from __future__ import annotations

import pytest

from tests.api._api_helpers import error, scim_group, scim_user
from tests.conftest import patch_op

SCHEMA = """
entity folder {
  relation owner @user
  relation viewer @user @group#member
  permission view = owner or viewer
}
entity document {
  relation owner @user
  relation viewer @user @group#member
  relation parent @folder
  permission view = owner or viewer or parent.view
}
"""


def rel(resource, relation, subject):
    return {"resource": resource, "relation": relation, "subject": subject}


@pytest.fixture
def schema(api):
    assert api.post("/schema", {"source": SCHEMA}).status_code == 201


def all_pages(api, body: dict, limit: int) -> tuple[list[list[str]], list[int]]:
    pages, totals, cursor = [], [], None
    for _ in range(100):
        r = api.post("/lookup/resources", {**body, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.get_json()
        out = r.get_json()
        pages.append(out["resources"])
        totals.append(out["total"])
        cursor = out["next_cursor"]
        if cursor is None:
            return pages, totals
    raise AssertionError("the cursor never ended")


def test_2500_documents_in_pages_of_1000(api, scim, schema):
    ann = scim_user(scim, "ann")
    bob = scim_user(scim, "bob")
    mine = [f"d{i}" for i in range(2500)]
    api.post("/relationships", {"relationships": [rel(f"document:{d}", "owner", f"user:{ann}") for d in mine]})
    api.post("/relationships", {"relationships": [rel(f"document:b{i}", "owner", f"user:{bob}") for i in range(30)]})
    pages, totals = all_pages(api, {"user": ann, "action": "view", "resource_type": "document"}, 1000)
    assert [len(p) for p in pages] == [1000, 1000, 500]
    assert totals == [2500, 2500, 2500]
    flat = [x for p in pages for x in p]
    assert len(flat) == len(set(flat)) == 2500
    assert set(flat) == set(mine)
    assert flat == sorted(flat)


def test_pages_of_odd_sizes_cover_everything_once(api, scim, schema):
    ann = scim_user(scim, "ann")
    docs = [f"x{i}" for i in range(17)]
    api.post("/relationships", {"relationships": [rel(f"document:{d}", "owner", f"user:{ann}") for d in docs]})
    for limit in (1, 4, 16, 17, 18):
        pages, totals = all_pages(api, {"user": "ann", "action": "view", "resource_type": "document"}, limit)
        flat = [x for p in pages for x in p]
        assert sorted(flat) == sorted(docs) and len(flat) == 17, limit
        assert set(totals) == {17}
        assert len(pages) == -(-17 // limit)


def test_page_max_caps_a_page_but_never_cuts_the_answer(app, api, scim, schema):
    app.config["AUTHZ_LOOKUP_PAGE_MAX"] = 5
    ann = scim_user(scim, "ann")
    api.post("/relationships", {"relationships": [rel(f"document:{i}", "owner", f"user:{ann}") for i in range(12)]})
    pages, totals = all_pages(api, {"user": ann, "action": "view", "resource_type": "document"}, 1000)
    assert [len(p) for p in pages] == [5, 5, 2]
    assert totals == [12, 12, 12]


def test_lookup_through_groups_parents_and_roles(api, scim, schema):
    ann = scim_user(scim, "ann")
    eng = scim_group(scim, "Eng", [ann])
    api.post("/relationships", {"relationships": [
        rel("document:own", "owner", f"user:{ann}"),
        rel("document:grp", "viewer", f"group:{eng}#member"),
        rel("folder:f", "viewer", f"user:{ann}"),
        rel("document:child", "parent", "folder:f"),
        rel("document:other", "owner", "user:nobody"),
    ]})
    api.post("/roles", {"key": "docviewer", "permissions": ["document:view"]})
    api.post("/role-assignments", {"user": ann, "role": "docviewer", "resource": "document:assigned"})
    r = api.post("/lookup/resources", {"user": "ann", "action": "view", "resource_type": "document"})
    body = r.get_json()
    assert body["resources"] == ["assigned", "child", "grp", "own"]
    assert body["total"] == 4 and body["next_cursor"] is None
    assert body["resource_type"] == "document"
    # a tenant-wide role grants every known document
    api.post("/role-assignments", {"user": ann, "role": "docviewer"})
    body = api.post("/lookup/resources", {"user": ann, "action": "view", "resource_type": "document"}).get_json()
    assert body["resources"] == ["assigned", "child", "grp", "other", "own"]


def test_lookup_for_unknown_or_deactivated_users_is_empty(api, scim, schema):
    ann = scim_user(scim, "ann")
    api.post("/relationships", {"relationships": [rel("document:1", "owner", f"user:{ann}")]})
    body = api.post("/lookup/resources", {"user": "ghost", "action": "view", "resource_type": "document"}).get_json()
    assert body["resources"] == [] and body["total"] == 0
    scim.patch(f"/Users/{ann}", patch_op({"op": "replace", "value": {"active": False}}))
    body = api.post("/lookup/resources", {"user": ann, "action": "view", "resource_type": "document"}).get_json()
    assert body["resources"] == []


def test_lookup_sees_writes_at_once(api, scim, schema):
    ann = scim_user(scim, "ann")
    q = {"user": ann, "action": "view", "resource_type": "document"}
    assert api.post("/lookup/resources", q).get_json()["resources"] == []
    api.post("/relationships", {"relationships": [rel("document:1", "owner", f"user:{ann}")]})
    assert api.post("/lookup/resources", q).get_json()["resources"] == ["1"]
    api.post("/relationships/delete", {"relationships": [rel("document:1", "owner", f"user:{ann}")]})
    assert api.post("/lookup/resources", q).get_json()["resources"] == []


def test_lookup_bad_bodies(api, schema):
    error(api.post("/lookup/resources", {"user": "a", "action": "view"}), 400)
    error(api.post("/lookup/resources", {"user": "a", "action": "view", "resource_type": "doc", "limit": 0}), 400)
    for cursor in ("!!!not base64", "%%%"):  # (the second decodes to nothing when characters are skipped)
        err = error(api.post("/lookup/resources", {"user": "a", "action": "view", "resource_type": "doc",
                                                   "cursor": cursor}), 400)
        assert err["details"] == {"cursor": ["invalid"]}


def test_lookup_subjects(api, scim, schema):
    ann = scim_user(scim, "ann")
    bob = scim_user(scim, "bob")
    carl = scim_user(scim, "carl")
    dora = scim_user(scim, "dora")
    scim_user(scim, "eve")
    eng = scim_group(scim, "Eng", [bob, dora])
    api.post("/relationships", {"relationships": [rel("document:1", "owner", f"user:{ann}"),
                                                  rel("document:1", "viewer", f"group:{eng}#member")]})
    api.post("/roles", {"key": "reader", "permissions": ["document:view"]})
    api.post("/role-assignments", {"user": carl, "role": "reader"})
    scim.patch(f"/Users/{dora}", patch_op({"op": "replace", "value": {"active": False}}))
    r = api.post("/lookup/subjects", {"action": "view", "resource": "document:1"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert sorted(u["userName"] for u in body["users"]) == ["ann", "bob", "carl"]
    assert {u["id"] for u in body["users"]} == {ann, bob, carl}
    assert body["total"] == 3 and body["next_cursor"] is None
    # paged
    seen, cursor = [], None
    while True:
        page = api.post("/lookup/subjects", {"action": "view", "resource": "document:1", "limit": 2,
                                             **({"cursor": cursor} if cursor else {})}).get_json()
        seen += [u["id"] for u in page["users"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted([ann, bob, carl])
    only_owner = api.post("/lookup/subjects", {"action": "view", "resource": "document:2"}).get_json()
    assert [u["userName"] for u in only_owner["users"]] == ["carl"]


def test_lookup_answers_depend_on_the_context_they_were_asked_with(api, scim, schema):
    """A conditional role on `context`: the same lookup with another context is another answer."""
    ann = scim_user(scim, "ann")
    api.post("/relationships", {"relationships": [rel(f"document:{i}", "owner", "user:someone") for i in range(3)]})
    api.post("/roles", {"key": "office", "permissions": ["document:view"], "condition": 'context.network == "office"'})
    api.post("/role-assignments", {"user": ann, "role": "office"})
    q = {"user": ann, "action": "view", "resource_type": "document"}
    # checks agree with the condition
    from tests.api._api_helpers import allowed
    assert allowed(api, ann, "view", "document:0", context={"network": "office"})
    assert not allowed(api, ann, "view", "document:0", context={"network": "home"})
    home = api.post("/lookup/resources", {**q, "context": {"network": "home"}}).get_json()
    office = api.post("/lookup/resources", {**q, "context": {"network": "office"}}).get_json()
    assert home["resources"] == []
    assert office["resources"] == ["0", "1", "2"], office


def test_lookup_answers_do_not_carry_over_to_another_context(api, scim, schema):
    ann = scim_user(scim, "ann")
    api.post("/relationships", {"relationships": [rel(f"document:{i}", "owner", "user:someone") for i in range(3)]})
    api.post("/roles", {"key": "office", "permissions": ["document:view"], "condition": 'context.network == "office"'})
    api.post("/role-assignments", {"user": ann, "role": "office"})
    q = {"user": ann, "action": "view", "resource_type": "document"}
    office = api.post("/lookup/resources", {**q, "context": {"network": "office"}}).get_json()
    home = api.post("/lookup/resources", {**q, "context": {"network": "home"}}).get_json()
    assert office["resources"] == ["0", "1", "2"]
    assert home["resources"] == [], home


def test_lookup_subjects_answers_do_not_carry_over_to_another_context(api, scim, schema):
    ann = scim_user(scim, "ann")
    api.post("/relationships", {"relationships": [rel("document:0", "owner", "user:someone")]})
    api.post("/roles", {"key": "office", "permissions": ["document:view"], "condition": 'context.network == "office"'})
    api.post("/role-assignments", {"user": ann, "role": "office"})
    subjects_home = api.post("/lookup/subjects", {"action": "view", "resource": "document:0",
                                                  "context": {"network": "home"}}).get_json()
    subjects_office = api.post("/lookup/subjects", {"action": "view", "resource": "document:0",
                                                    "context": {"network": "office"}}).get_json()
    assert [u["userName"] for u in subjects_home["users"]] == []
    assert [u["userName"] for u in subjects_office["users"]] == ["ann"], subjects_office
