"""Big groups: GET /Groups/{id} streams the members of a group too large for one read (RFC 7644
§3.4.1: the same document, byte for byte, as the one built whole), from one snapshot; a PATCH
adding or removing thousands of members (RFC 7644 §3.5.2.1, §3.5.2.2) is a few set-based
statements and all or nothing."""
from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from scim_authz import pdp
from scim_authz.db.extensions import db
from scim_authz.db.models import Change, Group, GroupMember
from scim_authz.db.txn import intent
from scim_authz.directory import service as directory
from scim_authz.scim.filter_parse import MAX_TERMS
from scim_authz.scim.schema_defs import GROUP
from tests.conftest import patch_op

CHUNK = 1000  # members per read in these tests: 3,000 members cross two chunk boundaries


@pytest.fixture
def chunked(app):
    app.config["SCIM_GROUP_MEMBERS_CHUNK"] = CHUNK
    return app


def make_users(app, tenant_id: int, n: int, prefix: str = "u") -> list[str]:
    """n users made through the directory service in one transaction; their ids."""
    with app.app_context(), intent(True):
        ids = [directory.create_user(tenant_id, {"userName": f"{prefix}{i:05d}@example.com"}).id for i in range(n)]
        db.session.commit()
        db.session.remove()
    return ids


def make_group(scim, name: str, members: list[str]) -> dict:
    r = scim.post("/Groups", {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members]})
    assert r.status_code == 201, r.get_data(as_text=True)[:500]
    return r.get_json(force=True)


def member_ids(app, gid: str) -> set[str]:
    with app.app_context():
        found = set(db.session.execute(select(GroupMember.member_id).where(GroupMember.group_id == gid)).scalars())
        db.session.remove()
    return found


def whole(app, scim, path: str) -> bytes:
    """The body of GET `path` built whole in memory: with a chunk larger than any group."""
    app.config["SCIM_GROUP_MEMBERS_CHUNK"] = 10**9
    try:
        r = scim.get(path)
        assert r.status_code == 200 and "Content-Length" in r.headers
        return r.get_data()
    finally:
        app.config["SCIM_GROUP_MEMBERS_CHUNK"] = CHUNK


@pytest.fixture
def big(chunked, scim, tenant):
    """A group of 3,000 users (and one nested group), made by one POST."""
    users = make_users(chunked, tenant[0], 3000)
    inner = make_group(scim, "Inner", users[:2])
    g = make_group(scim, "Big", [*users, inner["id"]])
    return {"id": g["id"], "users": users, "inner": inner["id"]}


# ---- GET /Groups/{id} ---------------------------------------------------------------------------

def test_a_big_group_is_streamed_and_reads_as_the_whole_document(chunked, scim, big):
    r = scim.get(f"/Groups/{big['id']}")
    assert r.status_code == 200
    assert "Content-Length" not in r.headers  # streamed
    assert r.headers["Content-Type"] == "application/scim+json"
    body = r.get_data()
    assert body == whole(chunked, scim, f"/Groups/{big['id']}")
    doc = json.loads(body)
    # In the order they joined, and by id among those that joined together.
    assert [m["value"] for m in doc["members"]] == sorted([*big["users"], big["inner"]])
    assert {"value": big["inner"], "type": "Group",
            "$ref": f"http://localhost/scim/v2/Groups/{big['inner']}"} in doc["members"]
    assert doc["displayName"] == "Big" and doc["meta"]["resourceType"] == "Group"


def test_a_small_group_streamed_in_chunks_of_two_reads_the_same(chunked, scim, tenant):
    users = make_users(chunked, tenant[0], 5)
    g = make_group(scim, "Five", users)
    chunked.config["SCIM_GROUP_MEMBERS_CHUNK"] = 2
    streamed = scim.get(f"/Groups/{g['id']}")
    assert "Content-Length" not in streamed.headers
    assert streamed.get_data() == whole(chunked, scim, f"/Groups/{g['id']}")
    assert [m["value"] for m in json.loads(streamed.get_data())["members"]] == sorted(users)


def test_a_group_that_fits_in_one_read_is_sent_whole(chunked, scim, tenant):
    users = make_users(chunked, tenant[0], 3)
    g = make_group(scim, "Three", users)
    r = scim.get(f"/Groups/{g['id']}")
    assert int(r.headers["Content-Length"]) == len(r.get_data())
    assert json.loads(r.get_data()) == g  # as POST answered


def test_an_empty_group_has_no_members_attribute(chunked, scim):
    g = make_group(scim, "Nobody", [])
    r = scim.get(f"/Groups/{g['id']}")
    assert r.status_code == 200 and "members" not in r.get_json(force=True)


@pytest.mark.parametrize("query", [
    "attributes=members.value",
    "attributes=displayName,members",
    "attributes=members.$ref,meta.version",
    "attributes=displayName",
    "attributes=members.display",  # not a sub-attribute of members: nothing of them is returned
    "excludedAttributes=members",
    "excludedAttributes=members.type,meta",
    "excludedAttributes=members.value,members.type,members.$ref",
    "excludedAttributes=displayName",
])
def test_attributes_and_excluded_attributes_on_a_streamed_group(chunked, scim, big, query):
    """RFC 7644 §3.9: the projection of the streamed document is the projection of the whole one."""
    r = scim.get(f"/Groups/{big['id']}?{query}")
    assert r.status_code == 200
    assert r.get_data() == whole(chunked, scim, f"/Groups/{big['id']}?{query}")
    doc = json.loads(r.get_data())
    assert doc["id"] == big["id"] and doc["schemas"] == [GROUP]


def test_etag_and_if_none_match_on_a_big_group(chunked, scim, big):
    """RFC 7644 §3.14: the ETag is meta.version; If-None-Match naming it answers 304, no body."""
    r = scim.get(f"/Groups/{big['id']}")
    tag = r.headers["ETag"]
    assert tag == json.loads(r.get_data())["meta"]["version"]
    r = scim.get(f"/Groups/{big['id']}", headers={"If-None-Match": tag})
    assert r.status_code == 304 and r.get_data() == b""
    assert r.headers["ETag"] == tag
    scim.patch(f"/Groups/{big['id']}", patch_op({"op": "remove", "path": "members",
                                                  "value": [{"value": big["users"][0]}]}))
    r = scim.get(f"/Groups/{big['id']}", headers={"If-None-Match": tag})
    assert r.status_code == 200 and r.headers["ETag"] != tag
    assert r.headers["ETag"] == json.loads(r.get_data())["meta"]["version"]


def test_the_stream_reads_one_snapshot(chunked, scim, big):
    """Members removed while a streamed body is half sent are still in it: every chunk is read in
    the transaction the first one was, whose snapshot is the group's version in meta."""
    before = scim.get(f"/Groups/{big['id']}").get_data()
    r = scim.get(f"/Groups/{big['id']}", buffered=False)
    parts = iter(r.response)
    first = next(parts)  # the first chunk is out; the rest is read as it is sent
    gone = sorted(big["users"])[-500:]  # all in the last chunk (members who joined together come by id)
    p = scim.patch(f"/Groups/{big['id']}", patch_op({"op": "remove", "path": "members",
                                                      "value": [{"value": m} for m in gone]}))
    assert p.status_code == 204
    assert first + b"".join(parts) == before
    r.close()
    after = json.loads(scim.get(f"/Groups/{big['id']}").get_data())
    assert len(after["members"]) == 3001 - 500
    assert after["meta"]["version"] != json.loads(before)["meta"]["version"]


def _none_checked_out(app, within: float = 3.0) -> bool:
    """No pooled connection is out, within `within` seconds: the directory-write counter's thread
    (governance/directory_writes.py) takes one for a moment about a second after a write."""
    deadline = time.monotonic() + within
    with app.app_context():
        while db.engine.pool.checkedout() and time.monotonic() < deadline:
            time.sleep(0.05)
        return db.engine.pool.checkedout() == 0


def test_an_abandoned_stream_gives_its_connection_back(chunked, scim, big):
    r = scim.get(f"/Groups/{big['id']}", buffered=False)
    with chunked.app_context():
        assert db.engine.pool.checkedout() >= 1  # the stream's snapshot
    r.close()  # the client went away before the body was read
    assert _none_checked_out(chunked)


def test_errors_before_the_first_byte_are_scim_errors(chunked, scim, other_scim, big):
    r = scim.get("/Groups/no-such-group")
    assert r.status_code == 404 and r.get_json(force=True)["schemas"] == [
        "urn:ietf:params:scim:api:messages:2.0:Error"]
    r = other_scim.get(f"/Groups/{big['id']}")  # another tenant's group
    assert r.status_code == 404
    r = scim.get(f"/Groups/{big['id']}?count=x")
    assert r.status_code == 400 and r.get_json(force=True)["status"] == "400"
    assert _none_checked_out(chunked)


def test_a_list_with_a_big_group_still_carries_its_members(chunked, scim, big):
    body = scim.get("/Groups?filter=displayName eq \"Big\"").get_json(force=True)
    assert body["totalResults"] == 1 and len(body["Resources"][0]["members"]) == 3001


# ---- PATCH with many members ----------------------------------------------------------------------

def _revision_store(app, tenant_id: int, response):
    with app.app_context():
        return pdp.engine(app).store(tenant_id, at_least=int(response.headers["X-Authz-Revision"]))


def test_remove_thousands_of_members_by_value_list(chunked, scim, tenant, big):
    store = _revision_store(chunked, tenant[0], scim.post("/Users", {"userName": "warm"}))  # the engine, loaded
    assert set(big["users"]) <= store.groups[big["id"]].users
    gone = big["users"][100:2600]  # 2,500: three statements' worth of ids
    r = scim.patch(f"/Groups/{big['id']}", patch_op({"op": "remove", "path": "members",
                                                      "value": [{"value": m} for m in gone]}))
    assert r.status_code == 204
    assert member_ids(chunked, big["id"]) == (set(big["users"]) - set(gone)) | {big["inner"]}
    with chunked.app_context():
        logged = db.session.execute(select(Change.kind, func.count()).where(
            Change.tenant_id == tenant[0], Change.revision == int(r.headers["X-Authz-Revision"]))
            .group_by(Change.kind)).all()
    assert dict(logged) == {"member": 2500}  # one per member removed, all under one revision
    store = _revision_store(chunked, tenant[0], r)
    assert store.groups[big["id"]].users == set(big["users"]) - set(gone)
    doc = scim.get(f"/Groups/{big['id']}").get_json(force=True)
    assert len(doc["members"]) == 501 and doc["meta"]["version"] == r.headers["ETag"]


def test_a_batch_past_the_logged_limit_is_one_change_and_the_engine_follows(chunked, scim, tenant, big, monkeypatch):
    monkeypatch.setattr(directory, "MEMBER_CHANGES_LOGGED", 100)
    store = _revision_store(chunked, tenant[0], scim.post("/Users", {"userName": "warm"}))
    gone = big["users"][:1500]
    r = scim.patch(f"/Groups/{big['id']}", patch_op({"op": "remove", "path": "members",
                                                      "value": [{"value": m} for m in gone]}))
    assert r.status_code == 204
    with chunked.app_context():
        logged = db.session.execute(select(Change.kind, Change.ref).where(
            Change.tenant_id == tenant[0], Change.revision == int(r.headers["X-Authz-Revision"]))).all()
    assert [tuple(x) for x in logged] == [("members", big["id"])]
    store = _revision_store(chunked, tenant[0], r)
    assert store.groups[big["id"]].users == set(big["users"][1500:])
    assert store.groups[big["id"]].subgroups == {big["inner"]}
    assert all(big["id"] not in store.users[u].groups for u in gone)
    added = scim.patch(f"/Groups/{big['id']}", patch_op({"op": "add", "path": "members",
                                                         "value": [{"value": m} for m in gone]}))
    assert added.status_code == 204
    store = _revision_store(chunked, tenant[0], added)
    assert store.groups[big["id"]].users == set(big["users"])
    assert all(big["id"] in store.users[u].groups for u in gone)


def test_remove_members_by_an_or_filter(chunked, scim, big):
    """Okta: `members[value eq "a" or value eq "b" …]` (RFC 7644 §3.5.2.2 with a valuePath filter),
    as many ids as a filter may compare (MAX_TERMS)."""
    gone = big["users"][500:500 + MAX_TERMS]
    path = "members[" + " or ".join(f'value eq "{m}"' for m in gone) + "]"
    r = scim.patch(f"/Groups/{big['id']}", patch_op({"op": "remove", "path": path}))
    assert r.status_code == 204, r.get_data(as_text=True)
    assert member_ids(chunked, big["id"]) == (set(big["users"]) - set(gone)) | {big["inner"]}


def test_add_thousands_of_members_in_one_patch_and_again(chunked, scim, tenant):
    users = make_users(chunked, tenant[0], 2500)
    g = make_group(scim, "Pushed", [])
    op = patch_op({"op": "add", "path": "members", "value": [{"value": m} for m in users]})
    r = scim.patch(f"/Groups/{g['id']}", op)
    assert r.status_code == 204
    assert member_ids(chunked, g["id"]) == set(users)
    version = r.headers["ETag"]
    again = scim.patch(f"/Groups/{g['id']}", op)  # all in already: nothing changes
    assert again.status_code == 204 and again.headers["ETag"] == version
    assert "X-Authz-Revision" not in again.headers or int(again.headers["X-Authz-Revision"]) == int(
        r.headers["X-Authz-Revision"])


def test_entra_batches_of_fifty_add_up(chunked, scim, tenant):
    users = make_users(chunked, tenant[0], 200)
    g = make_group(scim, "Entra", [])
    for start in range(0, 200, 50):
        r = scim.patch(f"/Groups/{g['id']}", patch_op(
            *({"op": "Add", "path": "members", "value": [{"value": m}]} for m in users[start:start + 50])))
        assert r.status_code == 204
    assert member_ids(chunked, g["id"]) == set(users)


def test_a_failed_patch_leaves_every_member_in_place(chunked, scim, big):
    """RFC 7644 §3.5.2: "if ... any operation fails, the original resource is unchanged"."""
    before = scim.get(f"/Groups/{big['id']}").get_data()
    r = scim.patch(f"/Groups/{big['id']}", patch_op(
        {"op": "remove", "path": "members", "value": [{"value": m} for m in big["users"][:2000]]},
        {"op": "add", "path": "members", "value": [{"value": "no-such-user"}]}))
    assert r.status_code == 400 and r.get_json(force=True)["scimType"] == "invalidValue"
    assert member_ids(chunked, big["id"]) == set(big["users"]) | {big["inner"]}
    assert scim.get(f"/Groups/{big['id']}").get_data() == before  # same members, same version
    r = scim.patch(f"/Groups/{big['id']}", patch_op(
        {"op": "remove", "path": "members", "value": [{"value": m} for m in big["users"][:2000]]},
        {"op": "replace", "path": "displayName", "value": None}))  # required: refused
    assert r.status_code == 400
    assert scim.get(f"/Groups/{big['id']}").get_data() == before


def test_a_cycle_in_a_big_add_is_refused_whole(chunked, scim, tenant, big):
    users = make_users(chunked, tenant[0], 1200, prefix="v")
    r = scim.patch(f"/Groups/{big['inner']}", patch_op(
        {"op": "add", "path": "members", "value": [{"value": m} for m in users] + [{"value": big["id"]}]}))
    assert r.status_code == 400
    assert member_ids(chunked, big["inner"]) == set(big["users"][:2])
    with chunked.app_context():
        assert db.session.get(Group, big["inner"]).version == 1
