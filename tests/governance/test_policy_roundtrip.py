"""A round trip: a policy built through /v1 in one tenant, exported, applied to an empty tenant whose
directory has the same names (different ids), exported again: the same file. And the two tenants
then decide alike over a generated workload of checks."""
from __future__ import annotations

import random

import yaml

from tests.conftest import APIClient, SCIMClient, issue_app_key, make_tenant
from tests.governance._policy import policy

SCHEMA = """\
entity folder {
  relation owner @user
  relation parent @folder
  relation banned @folder
  permission view = owner or parent.view or tenant.viewer
  permission edit = owner or parent.edit or role.maintainer
}
entity document {
  relation parent @folder
  relation reviewer @folder
  permission view = parent.view and not parent.banned
  permission review = reviewer.edit or tenant.auditor
}
"""
TITLES = ("Engineer", "Manager", "Analyst")
ACTIONS = ("view", "edit", "delete", "review", "deploy", "approve")
GROUPS = [f"Team {i}" for i in range(6)]


def directory(scim, rng: random.Random) -> None:
    """20 users, 6 groups (two nested), random memberships; the same for the same seed."""
    ids = {}
    for i in range(20):
        body = {"userName": f"user{i}@example.com", "title": rng.choice(TITLES), "active": rng.random() > 0.1}
        r = scim.post("/Users", body)
        assert r.status_code == 201, r.get_data(as_text=True)
        ids[f"user{i}"] = r.get_json(force=True)["id"]
    for n, name in enumerate(GROUPS):
        members = [{"value": ids[f"user{i}"]} for i in range(20) if rng.random() < 0.3]
        if n >= 4:  # Team 4 and Team 5 hold Team 0 and Team 1
            members.append({"value": ids[f"group{n - 4}"]})
        r = scim.post("/Groups", {"displayName": name, "members": members})
        assert r.status_code == 201, r.get_data(as_text=True)
        ids[f"group{n}"] = r.get_json(force=True)["id"]


def build_policy(api) -> None:
    """Roles, mappings, assignments, settings, a schema, relationships and held attributes, through /v1."""
    def ok(r):
        assert r.status_code in (200, 201), r.get_data(as_text=True)

    ok(api.post("/schema", {"source": SCHEMA}))
    for role in ({"key": "viewer", "name": "Viewer", "permissions": ["document:view"]},
                 {"key": "auditor", "description": "Reads everything", "permissions": ["invoice:view", "report:*"]},
                 {"key": "editor", "permissions": ["document:edit", "folder:edit"], "extends": ["viewer"]},
                 {"key": "manager", "permissions": ["invoice:approve"], "condition": 'user.title == "Manager"'},
                 {"key": "open-only", "permissions": ["invoice:*"], "condition": 'resource.status != "archived"'},
                 {"key": "maintainer", "permissions": ["project:deploy"]},
                 {"key": "owner", "permissions": ["*"], "extends": ["editor", "auditor"]}):
        ok(api.post("/roles", role))
    for group, role, resource in (("Team 0", "viewer", None), ("Team 1", "editor", None), ("Team 2", "auditor", None),
                                  ("Team 3", "maintainer", "project:p1"), ("Team 4", "manager", None),
                                  ("Team 5", "open-only", None), ("Team 2", "maintainer", "folder:f2")):
        ok(api.post("/group-mappings", {"group": group, "role": role, "resource": resource}))
    for user, role, resource in (("user3@example.com", "owner", None), ("user7@example.com", "maintainer",
                                                                         "project:p0"),
                                 ("user9@example.com", "viewer", "document:d4")):
        ok(api.post("/role-assignments", {"user": user, "role": role, "resource": resource}))
    ok(api.patch("/tenant", {"role_mode": "hybrid", "default_role": "viewer"}))
    rels = [{"resource": f"folder:f{i}", "relation": "parent", "subject": f"folder:f{i - 1}"} for i in range(1, 5)]
    rels += [{"resource": f"document:d{i}", "relation": "parent", "subject": f"folder:f{i % 5}"} for i in range(10)]
    rels += [{"resource": "folder:f3", "relation": "banned", "subject": "folder:f3"},
             {"resource": "document:d1", "relation": "reviewer", "subject": "folder:f2"}]
    ok(api.post("/relationships", {"relationships": rels}))
    ok(api.post("/resources", {"resources": [{"type": "invoice", "id": f"i{i}", "attributes": {
        "status": "archived" if i % 3 == 0 else "open", "amount": i * 100}} for i in range(6)]}))


def export(runner, key: str) -> str:
    r = policy(runner, "export", "--tenant", key)
    assert r.exit_code == 0, r.output
    header, _, body = r.output.partition("\n")
    assert header.startswith(f"# scim-authz policy of tenant {key} at revision")
    return body


def decisions(api, checks: list[tuple[str, str, str]]) -> list[bool]:
    r = api.post("/check/bulk", {"checks": [{"user": u, "action": a, "resource": res} for u, a, res in checks]})
    assert r.status_code == 200, r.get_data(as_text=True)
    return [x["allowed"] for x in r.get_json()["results"]]


def test_export_apply_export_is_the_same_file_and_both_tenants_decide_alike(app, client, runner, tenant, api,
                                                                            tmp_path):
    source_scim = SCIMClient(client, tenant[1])
    target_id, target_token = make_tenant(app, "globex")
    target_api = APIClient(client, issue_app_key(app, target_id))
    directory(source_scim, random.Random(7))
    directory(SCIMClient(client, target_token), random.Random(7))
    build_policy(api)

    exported = export(runner, "acme")
    doc = yaml.safe_load(exported)
    assert len(doc["roles"]) == 7 and len(doc["group_mappings"]) == 7 and len(doc["assignments"]) == 3
    assert len(doc["relationships"]) == 16 and len(doc["resources"]) == 6 and doc["default_role"] == "viewer"
    path = str(tmp_path / "acme.yaml")
    (tmp_path / "acme.yaml").write_text(exported)
    assert policy(runner, "validate", path).exit_code == 0
    r = policy(runner, "apply", path, "--tenant", "globex")
    assert r.exit_code == 0, r.output
    assert export(runner, "globex") == exported
    assert policy(runner, "diff", path, "--tenant", "globex").output.strip() == "globex: no changes"

    rng = random.Random(11)
    resources = ([f"document:d{i}" for i in range(10)] + [f"folder:f{i}" for i in range(5)] +
                 [f"project:p{i}" for i in range(3)] + [f"invoice:i{i}" for i in range(6)] + ["report:r1"])
    checks = [(f"user{rng.randrange(20)}@example.com", rng.choice(ACTIONS), rng.choice(resources))
              for _ in range(600)]
    here, there = decisions(api, checks), decisions(target_api, checks)
    assert here == there, [c for c, a, b in zip(checks, here, there, strict=True) if a != b][:10]
    assert 0.1 < sum(here) / len(here) < 0.9  # a workload that both allows and denies
