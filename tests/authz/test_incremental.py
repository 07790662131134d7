"""An instance that follows the change log must answer exactly as one that loads everything afresh."""
from __future__ import annotations

import itertools

from scim_authz.authz.engine import Engine
from scim_authz.authz.sql_store import SQLReader
from scim_authz.db.extensions import db
from tests.conftest import patch_op

SCHEMA = """
entity folder {
  relation owner @user
  relation parent @folder
  relation viewer @user @group#member
  permission view = owner or viewer or parent.view or tenant.auditor
}
entity document {
  relation parent @folder
  relation banned @user
  permission view = parent.view and not banned
  permission edit = parent.owner or role.editor
}
"""
ACTIONS = [("document", "view"), ("document", "edit"), ("folder", "view"), ("document", "read"),
           ("document", "archive")]
OBJECTS = {"document": ["d1", "d2"], "folder": ["f1", "f2"]}


def answers(engine: Engine, tid: int, users: list[str]) -> dict:
    out = {}
    for u, (rtype, action) in itertools.product(users, ACTIONS):
        for rid in OBJECTS[rtype]:
            out[(u, action, rtype, rid)] = engine.check(tid, u, action, rtype, rid).allowed
    for u in users:
        for rtype, action in ACTIONS:
            out[("lookup", u, action, rtype)] = tuple(engine.lookup_resources(tid, u, action, rtype)[1])
    return out


def test_following_the_log_equals_a_fresh_load(app, scim, api, tenant):
    tid = tenant[0]
    with app.app_context():
        follower = Engine(SQLReader(db.engine))
        follower.load_all()

    ids = {}
    steps = [
        lambda: ids.update(a=scim.post("/Users", {"userName": "a"}).get_json(force=True)["id"]),
        lambda: ids.update(b=scim.post("/Users", {"userName": "b"}).get_json(force=True)["id"]),
        lambda: api.post("/schema", {"source": SCHEMA}),
        lambda: ids.update(g=scim.post("/Groups", {"displayName": "Eng", "members": [{"value": ids["a"]}]})
                           .get_json(force=True)["id"]),
        lambda: api.post("/relationships", {"relationships": [
            {"resource": "document:d1", "relation": "parent", "subject": "folder:f1"},
            {"resource": "folder:f1", "relation": "parent", "subject": "folder:f2"},
            {"resource": "folder:f2", "relation": "viewer", "subject": f"group:{ids['g']}#member"},
            {"resource": "document:d2", "relation": "parent", "subject": "folder:f2"},
            {"resource": "folder:f2", "relation": "owner", "subject": f"user:{ids['b']}"}]}),
        lambda: api.post("/roles", {"key": "reader", "permissions": ["document:read"]}),
        lambda: api.post("/roles", {"key": "auditor", "permissions": []}),
        lambda: api.post("/group-mappings", {"group": ids["g"], "role": "reader"}),
        lambda: api.post("/role-assignments", {"user": ids["b"], "role": "auditor"}),
        # resources' held attributes, which conditions read as resource.*
        lambda: api.post("/roles", {"key": "archiver", "permissions": ["document:archive"],
                                    "condition": 'resource.status == "open"'}),
        lambda: api.post("/role-assignments", {"user": ids["b"], "role": "archiver"}),
        lambda: api.put("/resources/document/d1", {"attributes": {"status": "open"}}),
        lambda: api.post("/resources", {"resources": [
            {"type": "document", "id": "d2", "attributes": {"status": "open"}},
            {"type": "document", "id": "d1", "attributes": {"status": "closed"}}]}),
        lambda: api.delete("/resources/document/d2"),
        lambda: api.post("/roles", {"key": "editor", "permissions": []}),
        lambda: api.post("/role-assignments", {"user": ids["a"], "role": "editor", "resource": "document:d2"}),
        lambda: api.post("/relationships", {"relationships": [
            {"resource": "document:d1", "relation": "banned", "subject": f"user:{ids['a']}"}]}),
        lambda: scim.patch(f"/Groups/{ids['g']}", patch_op({"op": "add", "path": "members",
                                                            "value": [{"value": ids["b"]}]})),
        lambda: api.patch("/roles/reader", {"permissions": ["document:read", "document:view"]}),
        lambda: api.patch("/tenant", {"role_mode": "app"}),
        lambda: api.patch("/tenant", {"role_mode": "hybrid"}),
        lambda: scim.patch(f"/Users/{ids['b']}", patch_op({"op": "replace", "path": "active", "value": False})),
        lambda: api.post("/relationships/delete", {"relationships": [
            {"resource": "folder:f1", "relation": "parent", "subject": "folder:f2"}]}),
        lambda: scim.patch(f"/Groups/{ids['g']}", patch_op({"op": "remove", "path": "members"})),
        lambda: scim.delete(f"/Groups/{ids['g']}"),
        lambda: api.delete("/roles/reader"),
        lambda: scim.delete(f"/Users/{ids['a']}"),
    ]
    for n, step in enumerate(steps):
        r = step()
        if r is not None:
            assert r.status_code < 300, (n, r.get_json(force=True))
        users = [u for u in (ids.get("a"), ids.get("b")) if u]
        with app.app_context():
            fresh = Engine(SQLReader(db.engine))
            fresh.load_all()
            assert answers(follower, tid, users) == answers(fresh, tid, users), f"after step {n}"
            assert follower.stores[tid].revision == fresh.stores[tid].revision


def test_a_pruned_log_makes_a_lagging_instance_reload(app, scim, api, tenant, runner):
    tid = tenant[0]
    with app.app_context():
        follower = Engine(SQLReader(db.engine))
        follower.load_all()
    uid = scim.post("/Users", {"userName": "late"}).get_json(force=True)["id"]
    api.post("/roles", {"key": "viewer", "permissions": ["doc:view"]})
    api.post("/role-assignments", {"user": uid, "role": "viewer"})
    assert runner.invoke(args=["prune-changes", "--keep", "1"]).exit_code == 0
    with app.app_context():
        assert follower.check(tid, uid, "view", "doc", "1").allowed
