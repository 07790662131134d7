"""User sync, role assignments and relationships through the client, and read-your-writes: every
write's revision is remembered and later reads ask the server to have seen it."""
from __future__ import annotations

import pytest
from scim_authz_client import Assignment, BulkSyncResult, NotFound, SyncResult, WriteResult

from tests.api._api_helpers import revision

SCHEMA = """
entity document {
  relation owner @user
  relation viewer @user
  permission view = owner or viewer
}
"""


def test_sync_user_creates_then_updates(app, authz, tenant):
    made = authz.sync_user("ext-1", userName="ann@example.com", display_name="Ann", email="ann@example.com")
    assert isinstance(made, SyncResult) and made.created
    assert made.user["userName"] == "ann@example.com" and made.user["externalId"] == "ext-1"
    assert made.user["displayName"] == "Ann"  # display_name is sent as displayName
    assert made.revision == revision(app, tenant[0]) == authz.revision
    again = authz.sync_user("ext-1", displayName="Ann B.", attributes={"dept": "R&D"})
    assert not again.created and again.user["id"] == made.user["id"]
    assert again.user["displayName"] == "Ann B." and again.user["attributes"] == {"dept": "R&D"}
    assert authz.revision == again.revision > made.revision


def test_sync_users_reports_each_item(authz, roles):
    out = authz.sync_users([
        {"key": "e1", "userName": "a@example.com", "roles": ["editor"]},
        {"key": "e2", "user_name": "b@example.com"},
        {"key": "e3", "userName": "c@example.com", "roles": ["no-such-role"]},
    ])
    assert isinstance(out, BulkSyncResult)
    assert (out.succeeded, out.failed) == (2, 1)
    assert [(i.index, i.key, i.status, i.ok) for i in out.results] == [
        (0, "e1", 201, True), (1, "e2", 201, True), (2, "e3", out.results[2].status, False)]
    assert out.results[2].status in (400, 404) and out.results[2].error["message"]
    assert authz.revision == out.revision
    assert authz.check("a@example.com", "edit", "document:1").allowed


def test_assign_then_unassign(authz, roles, wire):
    authz.sync_user("u1", userName="ann@example.com")
    assert not authz.check("ann@example.com", "edit", "document:1").allowed
    a = authz.assign_role("ann@example.com", "editor")
    assert isinstance(a, Assignment) and a.role == "editor" and a.resource is None and a.user_name == "ann@example.com"
    assert authz.revision == a.revision
    # read-your-writes: the next check asks for at least the assignment's revision, and sees it
    assert authz.check("ann@example.com", "edit", "document:1").allowed
    assert wire.bodies("/v1/check")[-1]["consistency"] == {"at_least": a.revision}
    scoped = authz.assign_role("ann@example.com", "viewer", "document:9")
    assert scoped.resource == "document:9" and scoped.id != a.id
    after = authz.unassign_role(a.id)
    assert after == authz.revision > scoped.revision
    assert not authz.check("ann@example.com", "edit", "document:1").allowed
    assert authz.check("ann@example.com", "view", "document:9").allowed
    authz.unassign_role(scoped)  # an Assignment will do
    with pytest.raises(NotFound) as e:
        authz.unassign_role(a.id)
    assert e.value.status == 404 and e.value.code == "not_found"


def test_an_explicit_at_least_wins(authz, roles, wire):
    authz.sync_user("u1", userName="ann@example.com")
    authz.check("ann@example.com", "edit", "document:1", at_least=1)
    assert wire.bodies("/v1/check")[-1]["consistency"] == {"at_least": 1}
    authz.permissions("ann@example.com")
    assert wire.requests[-1].url.params["at_least"] == str(authz.revision)


def test_a_fresh_client_sends_no_consistency(origin, api, wire, roles):
    from scim_authz_client import Client
    with Client(origin, api.key, transport=wire) as fresh:
        assert fresh.revision is None
        fresh.check("nobody", "view", "document:1")
    assert wire.bodies("/v1/check") == [{"user": "nobody", "action": "view", "resource": "document:1"}]


def test_relationships_write_and_delete(app, api, tenant, authz):
    assert api.post("/schema", {"source": SCHEMA}).status_code == 201
    ann = authz.sync_user("u1", userName="ann@example.com").user["id"]
    out = authz.write_relationships([("document:1", "owner", f"user:{ann}"),
                                     {"resource": "document:2", "relation": "viewer", "subject": f"user:{ann}"}])
    assert out == WriteResult(count=2, revision=revision(app, tenant[0]))
    assert authz.revision == out.revision
    assert authz.check(ann, "view", "document:2").allowed
    assert authz.write_relationships([("document:1", "owner", f"user:{ann}")]).count == 0  # already there
    gone = authz.delete_relationships([("document:2", "viewer", f"user:{ann}")])
    assert gone.count == 1 and authz.revision == gone.revision > out.revision
    assert not authz.check(ann, "view", "document:2").allowed
    assert authz.lookup_resources(ann, "view", "document") == ["1"]


def test_a_bad_relationship_is_an_invalid_request_with_details(authz, api):
    from scim_authz_client import InvalidRequest
    assert api.post("/schema", {"source": SCHEMA}).status_code == 201
    with pytest.raises(InvalidRequest) as e:
        authz.write_relationships([("document:1", "editor", "user:u1")])
    assert e.value.status == 400 and e.value.code == "invalid_request"
    assert "nothing was written" in e.value.message
    assert list(e.value.details["relationships"]) == ["0"]
    assert authz.revision is None  # nothing was written, nothing remembered


def test_held_resource_attributes_reach_conditions(app, authz, api, tenant):
    assert api.post("/roles", {"key": "approver", "permissions": ["invoice:approve"],
                               "condition": "resource.amount <= 1000"}).status_code == 201
    authz.sync_user("u1", userName="ann@example.com")
    authz.assign_role("ann@example.com", "approver")
    rev = authz.put_resource("invoice", "inv/7", {"amount": 400})
    assert rev == authz.revision == revision(app, tenant[0])
    assert api.get("/resources/invoice/inv/7").get_json()["resource"]["attributes"] == {"amount": 400}
    assert authz.check("ann@example.com", "approve", "invoice:inv/7").allowed
    many = authz.put_resources([{"type": "invoice", "id": "inv/7", "attributes": {"amount": 4000}},
                                {"type": "invoice", "id": 8, "attributes": {"amount": 1}}])
    assert isinstance(many, WriteResult) and many.count == 2 and many.revision == authz.revision
    assert not authz.check("ann@example.com", "approve", "invoice:inv/7").allowed
    assert authz.lookup_resources("ann@example.com", "approve", "invoice") == ["8"]
    assert authz.delete_resource("invoice", "8") == authz.revision
    assert authz.lookup_resources("ann@example.com", "approve", "invoice") == []
