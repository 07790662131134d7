"""Scripted conversations in the shape Okta's SCIM 2.0 provisioning documents.

Each test replays the requests Okta sends for one documented behaviour (user existence check,
create, read, deactivate/reactivate, full profile PUT, connector test, import paging, group push)
and checks the exact HTTP answers and, where it matters, the rows in the database.
"""
from __future__ import annotations

import json
import re
import uuid
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from scim_authz.db.extensions import db
from scim_authz.db.models import Group, GroupMember, User
from tests.conftest import patch_op
from tests.integration.conversation import body_of, db_members, db_user

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = "application/scim+json"
WEAK_ETAG = re.compile(r'^W/"[^"]+"$')


# ---- helpers ---------------------------------------------------------------------------------

def qs(**params) -> str:
    """A query string with every value percent-encoded (filters carry spaces and quotes)."""
    return "?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())


def assert_error(r, status: int, scim_type: str | None = None):
    """An RFC 7644 §3.12 error: exact HTTP status, status as a string in the body, the scimType."""
    assert r.status_code == status, (r.status_code, r.data[:500])
    b = body_of(r)
    assert b["schemas"] == [ERROR]
    assert b["status"] == str(status)
    if scim_type is not None:
        assert b.get("scimType") == scim_type, b


def okta_user(user_name: str, *, given="Test", family="User", external_id=None, password="1mz050nq") -> dict:
    """The body Okta POSTs to /Users (Okta SCIM 2.0 reference, "Create the user")."""
    return {
        "schemas": [CORE_USER],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": f"{given} {family}",
        "locale": "en-US",
        "externalId": external_id or "00u" + uuid.uuid4().hex[:17],
        "groups": [],
        "password": password,
        "active": True,
    }


def create_user(scim, user_name: str, **kw) -> dict:
    r = scim.post("/Users", okta_user(user_name, **kw))
    assert r.status_code == 201, r.data
    return body_of(r)


def create_group(scim, name: str, member_ids=()) -> dict:
    r = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": name,
                              "members": [{"value": m} for m in member_ids]})
    assert r.status_code == 201, r.data
    return body_of(r)


def member_values(group: dict) -> set[str]:
    return {m["value"] for m in group.get("members", [])}


def find_users(scim, filter_text: str, **extra):
    r = scim.get("/Users" + qs(filter=filter_text, **extra))
    assert r.status_code == 200, r.data
    return body_of(r)


# ---- users -----------------------------------------------------------------------------------

def test_existence_check_returns_empty_list_with_integer_counts(scim):
    """Okta: before creating a user it asks GET /Users?filter=userName eq "..."&startIndex=1&count=100
    and expects a ListResponse with totalResults 0 (integers, not strings) when nobody matches."""
    r = scim.get("/Users" + qs(filter='userName eq "test.user@okta.local"', startIndex=1, count=100))
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith(SCIM_JSON)
    b = body_of(r)
    assert b["schemas"] == [LIST_RESPONSE]
    assert b["totalResults"] == 0 and type(b["totalResults"]) is int
    assert b["startIndex"] == 1 and type(b["startIndex"]) is int
    assert b["itemsPerPage"] == 0 and type(b["itemsPerPage"]) is int
    assert b["Resources"] == []


def test_existence_check_matches_user_name_case_insensitively(scim):
    """Okta: the userName filter finds the user whatever the case Okta's profile uses (userName is caseExact false)."""
    created = create_user(scim, "Test.User@Okta.Local")
    create_user(scim, "someone.else@okta.local")
    b = find_users(scim, 'userName eq "test.user@okta.local"', startIndex=1, count=100)
    assert b["totalResults"] == 1
    assert b["itemsPerPage"] == 1
    assert [u["id"] for u in b["Resources"]] == [created["id"]]
    assert b["Resources"][0]["userName"] == "Test.User@Okta.Local"


def test_create_user_with_okta_body(app, scim):
    """Okta: POST /Users with password, groups: [], locale, externalId, name, emails -> 201 with the
    full user; the password is never returned and never stored."""
    body = okta_user("test.user@okta.local", external_id="00ujl29u0le5T6Aj10h7", password="1mz050nq")
    r = scim.post("/Users", body)
    assert r.status_code == 201
    assert r.headers["Content-Type"].startswith(SCIM_JSON)
    u = body_of(r)
    uid = u["id"]
    assert isinstance(uid, str) and uid
    assert u["schemas"] == [CORE_USER]
    assert u["userName"] == "test.user@okta.local"
    assert u["name"] == {"givenName": "Test", "familyName": "User"}
    assert u["emails"] == [{"primary": True, "value": "test.user@okta.local", "type": "work"}]
    assert u["displayName"] == "Test User"
    assert u["locale"] == "en-US"
    assert u["externalId"] == "00ujl29u0le5T6Aj10h7"
    assert u["active"] is True
    assert u.get("groups", []) == []
    assert "password" not in u
    assert "1mz050nq" not in r.get_data(as_text=True)
    assert u["meta"]["resourceType"] == "User"
    assert u["meta"]["location"].endswith(f"/scim/v2/Users/{uid}")
    assert r.headers["Location"] == u["meta"]["location"]
    assert WEAK_ETAG.match(u["meta"]["version"])
    assert r.headers["ETag"] == u["meta"]["version"]

    row = db_user(app, uid)
    assert row is not None
    assert row.active is True
    assert row.user_name == "test.user@okta.local"
    assert "password" not in row.doc
    assert "1mz050nq" not in json.dumps(row.doc)

    # A GET returns the same representation, still without the password.
    g = scim.get(f"/Users/{uid}")
    assert g.status_code == 200
    assert body_of(g) == u
    assert g.headers["ETag"] == u["meta"]["version"]


def test_create_full_rfc_user_ignores_read_only_and_password(app, scim, sample):
    """Okta sends whatever its profile holds; read-only attributes (id, meta, groups) in the body are
    ignored and the password is not stored (RFC 7643 §8.3 example as the body)."""
    body = sample("rfc7643_8.3_enterprise_user.json")
    r = scim.post("/Users", body)
    assert r.status_code == 201, r.data
    u = body_of(r)
    assert u["id"] != body["id"]
    assert u["meta"]["created"] != body["meta"]["created"]
    assert "password" not in u
    assert u.get("groups", []) == []
    for attr in ("userName", "externalId", "name", "displayName", "nickName", "profileUrl", "emails",
                 "phoneNumbers", "ims", "photos", "userType", "title", "preferredLanguage", "locale",
                 "timezone", "x509Certificates"):
        assert u[attr] == body[attr], attr
    assert u["addresses"] == body["addresses"]
    ent = u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
    assert ent["employeeNumber"] == "701984"
    assert ent["department"] == "Tour Operations"
    assert ent["manager"]["value"] == "26118915-6090-4610-87e4-49d8ca9f808d"
    row = db_user(app, u["id"])
    assert "password" not in row.doc and "t1meMa$heen" not in json.dumps(row.doc)
    assert "groups" not in row.doc and "id" not in row.doc and "meta" not in row.doc


def test_duplicate_user_name_in_other_case_is_409_uniqueness(app, scim, tenant):
    """Okta: creating a user whose userName already exists must fail with 409 (uniqueness), so Okta
    can match instead of duplicating."""
    create_user(scim, "test.user@okta.local")
    r = scim.post("/Users", okta_user("TEST.USER@okta.local"))
    assert_error(r, 409, "uniqueness")
    with app.app_context():
        n = db.session.execute(select(func.count()).select_from(User).where(User.tenant_id == tenant[0])).scalar_one()
    assert n == 1


def test_get_unknown_user_is_404(scim):
    """Okta: GET /Users/{id} for an id the app does not know answers 404 with a SCIM error."""
    r = scim.get(f"/Users/{uuid.uuid4()}")
    assert_error(r, 404)


def test_deactivate_and_reactivate_with_pathless_patch(app, scim):
    """Okta: deactivation is PATCH {"op":"replace","value":{"active":false}}; reactivation the same with
    true. Both answer 200 with the user."""
    u = create_user(scim, "deact@okta.local")
    uid = u["id"]
    r = scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "value": {"active": False}}))
    assert r.status_code == 200, r.data
    b = body_of(r)
    assert b["id"] == uid and b["active"] is False
    assert b["userName"] == "deact@okta.local"
    assert b["name"] == {"givenName": "Test", "familyName": "User"}
    assert r.headers["ETag"] == b["meta"]["version"] != u["meta"]["version"]
    assert db_user(app, uid).active is False
    assert body_of(scim.get(f"/Users/{uid}"))["active"] is False

    r = scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "value": {"active": True}}))
    assert r.status_code == 200, r.data
    assert body_of(r)["active"] is True
    assert db_user(app, uid).active is True
    assert body_of(scim.get(f"/Users/{uid}"))["active"] is True


def test_password_sync_patch_accepted_not_stored(app, scim):
    """Okta: with password sync it PATCHes {"op":"replace","value":{"password":"..."}}; the server
    accepts it (200) and never stores or returns it."""
    uid = create_user(scim, "pw@okta.local")["id"]
    r = scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "value": {"password": "N3wPassw0rd!"}}))
    assert r.status_code == 200, r.data
    assert "password" not in body_of(r)
    assert "N3wPassw0rd!" not in r.get_data(as_text=True)
    row = db_user(app, uid)
    assert "password" not in row.doc and "N3wPassw0rd!" not in json.dumps(row.doc)


def test_full_put_deactivates_echoing_read_only_attributes(app, scim):
    """Okta: profile pushes and deactivation can be a full PUT /Users/{id} of the user as Okta last read
    it (id, meta, groups included) with active false -> 200 with the updated user."""
    u = create_user(scim, "put.user@okta.local")
    uid = u["id"]
    g = create_group(scim, "PUT Group", [uid])
    current = body_of(scim.get(f"/Users/{uid}"))
    assert [x["value"] for x in current["groups"]] == [g["id"]]
    body = dict(current)
    body["active"] = False
    body["name"] = {"givenName": "Test", "familyName": "Renamed"}
    body["title"] = "Engineer"
    r = scim.put(f"/Users/{uid}", body)
    assert r.status_code == 200, r.data
    b = body_of(r)
    assert b["id"] == uid
    assert b["active"] is False
    assert b["name"] == {"givenName": "Test", "familyName": "Renamed"}
    assert b["title"] == "Engineer"
    assert b["meta"]["created"] == u["meta"]["created"]
    assert b["meta"]["version"] != u["meta"]["version"]
    assert r.headers["ETag"] == b["meta"]["version"]
    # groups is computed from memberships: the PUT neither changed nor copied it.
    assert [(x["value"], x["type"]) for x in b["groups"]] == [(g["id"], "direct")]
    assert db_members(app, g["id"]) == {uid}
    row = db_user(app, uid)
    assert row.active is False
    assert "groups" not in row.doc and "meta" not in row.doc and "id" not in row.doc


def test_put_replaces_whole_user(app, scim):
    """Okta: PUT carries the whole profile; attributes it leaves out are removed."""
    u = create_user(scim, "whole@okta.local")
    body = okta_user("whole@okta.local", external_id=u["externalId"])
    del body["locale"]
    r = scim.put(f"/Users/{u['id']}", body)
    assert r.status_code == 200, r.data
    assert "locale" not in body_of(r)
    assert "locale" not in db_user(app, u["id"]).doc


def test_put_with_a_different_id_is_400_mutability(app, scim):
    """A PUT whose body id names another resource is refused (id is read-only)."""
    u = create_user(scim, "idcheck@okta.local")
    body = dict(u, id=str(uuid.uuid4()), active=False)
    r = scim.put(f"/Users/{u['id']}", body)
    assert_error(r, 400, "mutability")
    assert db_user(app, u["id"]).active is True


def test_deactivated_user_still_readable_by_id_and_filter(scim):
    """Okta never deletes users: a deactivated user stays readable by id and by the userName filter."""
    uid = create_user(scim, "sleeping@okta.local")["id"]
    assert scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "value": {"active": False}})).status_code == 200
    r = scim.get(f"/Users/{uid}")
    assert r.status_code == 200
    assert body_of(r)["active"] is False
    b = find_users(scim, 'userName eq "sleeping@okta.local"', startIndex=1, count=100)
    assert b["totalResults"] == 1
    assert b["Resources"][0]["id"] == uid
    assert b["Resources"][0]["active"] is False
    b = find_users(scim, "active eq false")
    assert [x["id"] for x in b["Resources"]] == [uid]


def test_connector_test_get_users_start_1_count_2(scim):
    """Okta: "Test Connector Configuration" sends GET /Users?startIndex=1&count=2 and needs 200 with a
    ListResponse of at most two users and the real total."""
    r = scim.get("/Users?startIndex=1&count=2")
    assert r.status_code == 200
    b = body_of(r)
    assert (b["totalResults"], b["startIndex"], b["itemsPerPage"], b["Resources"]) == (0, 1, 0, [])
    ids = [create_user(scim, f"conn{i}@okta.local")["id"] for i in range(3)]
    b = body_of(scim.get("/Users?startIndex=1&count=2"))
    assert b["schemas"] == [LIST_RESPONSE]
    assert b["totalResults"] == 3
    assert b["startIndex"] == 1
    assert b["itemsPerPage"] == 2
    assert [u["id"] for u in b["Resources"]] == ids[:2]


def test_import_pages_through_users_without_gaps_or_duplicates(scim):
    """Okta imports users page by page with startIndex/count; pages follow a stable order, so the
    union of pages is every user exactly once."""
    ids = [create_user(scim, f"page{i:02d}@okta.local")["id"] for i in range(7)]
    seen = []
    start = 1
    while True:
        b = body_of(scim.get(f"/Users?startIndex={start}&count=3"))
        assert b["totalResults"] == 7
        assert b["startIndex"] == start
        assert b["itemsPerPage"] == len(b["Resources"])
        if not b["Resources"]:
            break
        seen += [u["id"] for u in b["Resources"]]
        start += len(b["Resources"])
        assert start <= 20
    assert seen == ids  # creation order, no duplicates, no gaps
    assert start == 8
    # Deactivating users between pages does not reorder them.
    scim.patch(f"/Users/{ids[0]}", patch_op({"op": "replace", "value": {"active": False}}))
    b = body_of(scim.get("/Users?startIndex=4&count=3"))
    assert [u["id"] for u in b["Resources"]] == ids[3:6]


# ---- groups ----------------------------------------------------------------------------------

def test_group_push_lookup_then_create(app, scim):
    """Okta group push: GET /Groups?filter=displayName eq "..." finds nothing, then POST /Groups with
    members: [] -> 201; the group is then found by the same filter."""
    flt = qs(filter='displayName eq "Test SCIMv2"', startIndex=1, count=100)
    b = body_of(scim.get("/Groups" + flt))
    assert (b["totalResults"], b["itemsPerPage"], b["Resources"]) == (0, 0, [])
    r = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Test SCIMv2", "members": []})
    assert r.status_code == 201, r.data
    g = body_of(r)
    assert g["schemas"] == [CORE_GROUP]
    assert g["displayName"] == "Test SCIMv2"
    assert g.get("members", []) == []
    assert g["meta"]["resourceType"] == "Group"
    assert r.headers["Location"] == g["meta"]["location"]
    assert r.headers["Location"].endswith(f"/scim/v2/Groups/{g['id']}")
    assert r.headers["ETag"] == g["meta"]["version"]
    b = body_of(scim.get("/Groups" + flt))
    assert b["totalResults"] == 1
    assert b["Resources"][0]["id"] == g["id"]
    b = body_of(scim.get("/Groups" + qs(filter='displayName eq "test scimv2"')))
    assert b["totalResults"] == 1
    with app.app_context():
        row = db.session.get(Group, g["id"])
        assert row.display_name == "Test SCIMv2"
    assert db_members(app, g["id"]) == set()


def test_group_rename_pathless_replace_with_own_id(app, scim):
    """Okta renames a pushed group with PATCH {"op":"replace","value":{"id":<the group's id>,
    "displayName":"..."}} -> 204; the id in the value is the group's own and is accepted."""
    g = create_group(scim, "Old Name")
    gid = g["id"]
    r = scim.patch(f"/Groups/{gid}", patch_op({"op": "replace", "value": {"id": gid, "displayName": "New Name"}}))
    assert r.status_code == 204, r.data
    assert r.data == b""
    assert WEAK_ETAG.match(r.headers["ETag"])
    assert r.headers["ETag"] != g["meta"]["version"]
    got = body_of(scim.get(f"/Groups/{gid}"))
    assert got["displayName"] == "New Name"
    assert got["meta"]["version"] == r.headers["ETag"]
    with app.app_context():
        assert db.session.get(Group, gid).display_name == "New Name"
    assert body_of(scim.get("/Groups" + qs(filter='displayName eq "Old Name"')))["totalResults"] == 0
    assert body_of(scim.get("/Groups" + qs(filter='displayName eq "New Name"')))["totalResults"] == 1


def test_group_membership_delta_remove_by_filter_and_add(app, scim):
    """Okta pushes membership changes as one PATCH: a remove with path members[value eq "id"] and an
    add with path members -> 204; only those members change; users' groups follow."""
    u1, u2, u3 = (create_user(scim, f"m{i}@okta.local")["id"] for i in range(1, 4))
    g = create_group(scim, "Delta", [u1, u2])
    gid = g["id"]
    assert member_values(g) == {u1, u2}
    r = scim.patch(f"/Groups/{gid}", patch_op(
        {"op": "remove", "path": f'members[value eq "{u1}"]'},
        {"op": "add", "path": "members", "value": [{"value": u3, "display": "m3@okta.local"}]},
    ))
    assert r.status_code == 204, r.data
    assert db_members(app, gid) == {u2, u3}
    got = body_of(scim.get(f"/Groups/{gid}"))
    assert member_values(got) == {u2, u3}
    for m in got["members"]:
        assert m["type"] == "User"
        assert m["$ref"].endswith(f"/scim/v2/Users/{m['value']}")
    assert body_of(scim.get(f"/Users/{u1}")).get("groups", []) == []
    groups3 = body_of(scim.get(f"/Users/{u3}"))["groups"]
    assert [(x["value"], x["display"], x["type"]) for x in groups3] == [(gid, "Delta", "direct")]


def test_group_membership_delta_rfc_example(app, scim, sample):
    """RFC 7644 §3.5.2.2 "remove and add a member" (the form Okta's group push follows), ids substituted."""
    babs = create_user(scim, "bjensen@example.com")["id"]
    james = create_user(scim, "jsmith@example.com")["id"]
    g = create_group(scim, "Tour Guides", [babs])
    text = json.dumps(sample("rfc7644_3.5.2.2_remove_and_add_member.json"))
    text = text.replace("2819c223-7f76-453a-919d-413861904646", babs).replace(
        "08e1d05d-121c-4561-8b96-473d93df9210", james).replace("https://example.com/v2", "http://localhost/scim/v2")
    r = scim.patch(f"/Groups/{g['id']}", json.loads(text))
    assert r.status_code == 204, r.data
    assert db_members(app, g["id"]) == {james}


def test_group_full_push_replace_members(app, scim):
    """Okta "push now" sends the whole membership as replace of members -> 204; the members become
    exactly those listed; an empty list empties the group."""
    u1, u2, u3 = (create_user(scim, f"r{i}@okta.local")["id"] for i in range(1, 4))
    g = create_group(scim, "Replace", [u1, u2])
    gid = g["id"]
    r = scim.patch(f"/Groups/{gid}", patch_op(
        {"op": "replace", "path": "members", "value": [{"value": u2}, {"value": u3}]}))
    assert r.status_code == 204, r.data
    assert db_members(app, gid) == {u2, u3}
    assert member_values(body_of(scim.get(f"/Groups/{gid}"))) == {u2, u3}
    r = scim.patch(f"/Groups/{gid}", patch_op({"op": "replace", "path": "members", "value": []}))
    assert r.status_code == 204, r.data
    assert db_members(app, gid) == set()
    assert body_of(scim.get(f"/Groups/{gid}")).get("members", []) == []
    # The users are untouched.
    for uid in (u1, u2, u3):
        assert scim.get(f"/Users/{uid}").status_code == 200


def test_group_patch_with_attributes_returns_200_with_group(scim):
    """A Group PATCH asking for a representation (attributes=...) answers 200 with the group."""
    uid = create_user(scim, "rep@okta.local")["id"]
    g = create_group(scim, "Rep")
    r = scim.patch(f"/Groups/{g['id']}?attributes=members,displayName",
                   patch_op({"op": "add", "path": "members", "value": [{"value": uid}]}))
    assert r.status_code == 200, r.data
    b = body_of(r)
    assert b["id"] == g["id"] and b["displayName"] == "Rep"
    assert member_values(b) == {uid}


def test_group_delete(app, scim):
    """Okta: unlinking a pushed group with "delete the group in the app" sends DELETE /Groups/{id} -> 204;
    the members stay, their groups no longer list it."""
    u1 = create_user(scim, "del1@okta.local")["id"]
    g = create_group(scim, "Doomed", [u1])
    gid = g["id"]
    assert [x["value"] for x in body_of(scim.get(f"/Users/{u1}"))["groups"]] == [gid]
    r = scim.delete(f"/Groups/{gid}")
    assert r.status_code == 204
    assert r.data == b""
    assert_error(scim.get(f"/Groups/{gid}"), 404)
    assert_error(scim.delete(f"/Groups/{gid}"), 404)
    with app.app_context():
        assert db.session.get(Group, gid) is None
        assert db.session.execute(select(func.count()).select_from(GroupMember).where(
            GroupMember.group_id == gid)).scalar_one() == 0
    u = body_of(scim.get(f"/Users/{u1}"))
    assert u.get("groups", []) == []


def test_add_unknown_member_is_400_invalid_value(app, scim):
    """Members must be users or groups of the tenant: an unknown id is 400 invalidValue and nothing changes."""
    uid = create_user(scim, "known@okta.local")["id"]
    g = create_group(scim, "Strict", [uid])
    r = scim.patch(f"/Groups/{g['id']}", patch_op(
        {"op": "add", "path": "members", "value": [{"value": str(uuid.uuid4())}]}))
    assert_error(r, 400, "invalidValue")
    assert db_members(app, g["id"]) == {uid}


# ---- authentication and tenants --------------------------------------------------------------

def test_request_without_token_is_401(client):
    """Okta authenticates with the HTTP header token; without it the answer is 401 with a SCIM error."""
    r = client.get("/scim/v2/Users?startIndex=1&count=2")
    assert_error(r, 401)
    r = client.get("/scim/v2/Users", headers={"Authorization": "Bearer not-a-token"})
    assert_error(r, 401)


def test_tenant_isolation(app, scim, other_scim):
    """Each Okta app's token sees only its tenant: another tenant gets 404 on GET/PUT/PATCH/DELETE by id,
    an empty list by filter, and cannot use the user as a group member."""
    u = create_user(scim, "isolated@okta.local")
    uid = u["id"]
    g = create_group(scim, "Acme Only", [uid])

    assert_error(other_scim.get(f"/Users/{uid}"), 404)
    assert_error(other_scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "value": {"active": False}})), 404)
    assert_error(other_scim.put(f"/Users/{uid}", okta_user("isolated@okta.local")), 404)
    assert_error(other_scim.delete(f"/Users/{uid}"), 404)
    assert_error(other_scim.get(f"/Groups/{g['id']}"), 404)
    assert_error(other_scim.patch(f"/Groups/{g['id']}", patch_op(
        {"op": "replace", "value": {"displayName": "Hijacked"}})), 404)
    assert_error(other_scim.delete(f"/Groups/{g['id']}"), 404)

    b = body_of(other_scim.get("/Users" + qs(filter='userName eq "isolated@okta.local"', startIndex=1, count=100)))
    assert (b["totalResults"], b["Resources"]) == (0, [])
    assert body_of(other_scim.get("/Users"))["totalResults"] == 0
    assert body_of(other_scim.get("/Groups"))["totalResults"] == 0
    assert body_of(other_scim.get("/Groups" + qs(filter='displayName eq "Acme Only"')))["totalResults"] == 0

    theirs = body_of(other_scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Globex"}))
    r = other_scim.patch(f"/Groups/{theirs['id']}", patch_op(
        {"op": "add", "path": "members", "value": [{"value": uid}]}))
    assert_error(r, 400, "invalidValue")
    assert db_members(app, theirs["id"]) == set()

    # The same userName is free in the other tenant.
    r = other_scim.post("/Users", okta_user("isolated@okta.local"))
    assert r.status_code == 201
    assert body_of(r)["id"] != uid

    row = db_user(app, uid)
    assert row is not None and row.active is True
    assert db_members(app, g["id"]) == {uid}
    got = body_of(scim.get(f"/Groups/{g['id']}"))
    assert got["displayName"] == "Acme Only"
    assert body_of(scim.get("/Users"))["totalResults"] == 1


@pytest.mark.parametrize("path", ["/Users", "/Groups"])
def test_list_counts_are_integers_when_nonempty(scim, path):
    """Okta parses totalResults/startIndex/itemsPerPage as integers on every page, not only empty ones."""
    uid = create_user(scim, "ints@okta.local")["id"]
    create_group(scim, "Ints", [uid])
    b = body_of(scim.get(path + "?startIndex=1&count=100"))
    for k in ("totalResults", "startIndex", "itemsPerPage"):
        assert type(b[k]) is int, k
    assert (b["totalResults"], b["startIndex"], b["itemsPerPage"]) == (1, 1, 1)
