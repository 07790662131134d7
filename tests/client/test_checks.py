"""Checks, bulk checks, permissions and lookups through the client, against a live server."""
from __future__ import annotations

import pytest
from scim_authz_client import CheckResult, Permissions

from tests.api._api_helpers import scim_user

SCHEMA = """
entity folder {
  relation owner @user
  permission view = owner
}
entity document {
  relation owner @user
  relation parent @folder
  permission view = owner or parent.view
}
"""


@pytest.fixture
def people(scim, api, roles):
    """ann has editor tenant-wide, bob has viewer on document:7 only, cy has nothing."""
    ids = {name: scim_user(scim, f"{name}@example.com") for name in ("ann", "bob", "cy")}
    for user, role, resource in (("ann@example.com", "editor", None), ("bob@example.com", "viewer", "document:7")):
        r = api.post("/role-assignments", {"user": user, "role": role, **({"resource": resource} if resource else {})})
        assert r.status_code == 201, r.get_json()
    return ids


def test_check_allows_and_denies(authz, people):
    yes = authz.check("ann@example.com", "edit", "document:1")
    assert isinstance(yes, CheckResult)
    assert yes.allowed is True and yes.decision_id and isinstance(yes.revision, int)
    assert yes.stale is False and yes.failed_closed is False and yes.explanation is None
    assert authz.check(people["ann"], "view", {"type": "document", "id": "2"}).allowed  # by id, resource as object
    assert not authz.check("cy@example.com", "view", "document:1").allowed
    assert authz.check("bob@example.com", "view", "document:7").allowed
    assert not authz.check("bob@example.com", "view", "document:8").allowed
    assert not authz.check("bob@example.com", "edit", "document:7").allowed


def test_check_explains_when_asked(authz, people):
    d = authz.check("ann@example.com", "edit", "document:1", explain=True)
    assert d.allowed and d.explanation.startswith("allowed: role editor")
    assert authz.check("cy@example.com", "edit", "document:1", explain=True).explanation.startswith("denied")


def test_check_many_answers_in_order(authz, people, wire):
    results = authz.check_many([
        ("ann@example.com", "edit", "document:1"),
        {"user": "cy@example.com", "action": "view", "resource": "document:1"},
        ("bob@example.com", "view", "document:7", {"ip": "10.0.0.1"}),
        {"user": "bob@example.com", "action": "edit", "resource": "document:7", "at_least": 0},
    ])
    assert [r.allowed for r in results] == [True, False, True, False]
    assert all(r.decision_id for r in results) and len({r.decision_id for r in results}) == 4
    sent = wire.bodies("/v1/check/bulk")
    assert len(sent) == 1 and len(sent[0]["checks"]) == 4
    assert sent[0]["checks"][2]["context"] == {"ip": "10.0.0.1"}
    assert sent[0]["checks"][3]["consistency"] == {"at_least": 0}
    assert authz.check_many([]) == []
    assert len(wire.requests) == 1  # nothing to ask, nothing sent


def test_permissions_with_provenance(authz, people):
    p = authz.permissions("ann@example.com")
    assert isinstance(p, Permissions)
    assert p.user_id == people["ann"] and p.user_name == "ann@example.com" and p.active
    assert p.permissions == ["document:edit", "document:view"]
    [grant] = p.roles
    assert grant.role == "editor" and grant.source == "app" and grant.resource is None
    assert grant.assigned_by.startswith("key sk_") and grant.assigned_at
    scoped = authz.permissions("bob@example.com").roles
    assert [(g.role, g.resource) for g in scoped] == [("viewer", "document:7")]


@pytest.fixture
def tree(authz, api, people):
    """Folder f1 owned by dee (who has no role) holds five documents; cy owns document:c1."""
    assert api.post("/schema", {"source": SCHEMA}).status_code == 201
    dee = authz.sync_user("dee", userName="dee@example.com").user["id"]
    rels = [(f"document:d{i}", "parent", "folder:f1") for i in range(5)]
    rels += [("folder:f1", "owner", f"user:{dee}"), ("document:c1", "owner", f"user:{people['cy']}")]
    authz.write_relationships(rels)
    return {**people, "dee": dee}


def test_lookup_resources_follows_every_page(authz, tree, wire):
    everything = authz.lookup_resources(tree["dee"], "view", "folder")
    assert everything == ["f1"]
    docs = authz.lookup_resources("cy@example.com", "view", "document", limit=2)
    assert docs == ["c1"]
    wire.requests.clear()
    docs = authz.lookup_resources("dee@example.com", "view", "document", limit=2)
    assert docs == ["d0", "d1", "d2", "d3", "d4"]
    pages = wire.bodies("/v1/lookup/resources")
    assert len(pages) == 3 and "cursor" not in pages[0] and pages[1]["cursor"] and pages[2]["cursor"]
    assert all(p["limit"] == 2 for p in pages)


def test_lookup_subjects(authz, tree):
    # ann's editor role is tenant-wide: she may view every document, the others only through relationships
    assert authz.lookup_subjects("view", "document:d3", limit=1) == sorted([tree["ann"], tree["dee"]])
    assert authz.lookup_subjects("view", "document:c1") == sorted([tree["ann"], tree["cy"]])
    assert authz.lookup_subjects("view", "document:7") == sorted([tree["ann"], tree["bob"]])
