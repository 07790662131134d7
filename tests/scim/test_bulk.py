"""Bulk: RFC 7644 §3.7 — bulkId references, failOnErrors, announced limits."""
from __future__ import annotations

from scim_authz.db.extensions import db
from scim_authz.db.models import Group, GroupMember, User

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def test_bulk_creates_with_bulk_id_references(app, scim):
    """RFC 7644 §3.7.2: a group created in the same request refers to users by bulkId."""
    body = {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "g1",
         "data": {"displayName": "Tour Guides", "members": [{"type": "User", "value": "bulkId:u1"},
                                                            {"type": "User", "value": "bulkId:u2"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "alice"}},
        {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"userName": "bob"}},
    ]}
    r = scim.post("/Bulk", body)
    assert r.status_code == 200
    ops = r.get_json(force=True)["Operations"]
    assert [o["status"] for o in ops] == ["201", "201", "201"]
    assert [o["bulkId"] for o in ops] == ["g1", "u1", "u2"]
    with app.app_context():
        gid = ops[0]["location"].rsplit("/", 1)[1]
        members = {m.member_id for m in db.session.query(GroupMember).filter_by(group_id=gid)}
        users = {u.id for u in db.session.query(User)}
        assert members == users and len(users) == 2


def test_bulk_errors_are_per_operation_and_leave_nothing_behind(app, scim):
    body = {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "alice"}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "ALICE"}},
        {"method": "PATCH", "path": "/Users/nope", "data": {"Operations": [{"op": "remove", "path": "title"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"userName": "carol"}},
    ]}
    ops = scim.post("/Bulk", body).get_json(force=True)["Operations"]
    assert [o["status"] for o in ops] == ["201", "409", "404", "201"]
    assert ops[1]["response"]["scimType"] == "uniqueness"
    with app.app_context():
        assert sorted(u.user_name for u in db.session.query(User)) == ["alice", "carol"]


def test_fail_on_errors_stops(app, scim):
    body = {"schemas": [BULK], "failOnErrors": 1, "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": ""}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "bob"}},
    ]}
    ops = scim.post("/Bulk", body).get_json(force=True)["Operations"]
    assert len(ops) == 1 and ops[0]["status"] == "400"
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_unresolvable_bulk_id_is_an_error(app, scim):
    body = {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G",
                                                                      "members": [{"value": "bulkId:ghost"}]}}]}
    ops = scim.post("/Bulk", body).get_json(force=True)["Operations"]
    assert ops[0]["status"] == "409"
    with app.app_context():
        assert db.session.query(Group).count() == 0


def test_limits_are_413(app, scim):
    app.config["SCIM_BULK_MAX_OPERATIONS"] = 2
    ops = [{"method": "POST", "path": "/Users", "bulkId": str(i), "data": {"userName": f"u{i}"}} for i in range(3)]
    r = scim.post("/Bulk", {"schemas": [BULK], "Operations": ops})
    assert r.status_code == 413 and r.get_json(force=True)["status"] == "413"
    app.config["SCIM_BULK_MAX_OPERATIONS"] = 1000
    app.config["SCIM_BULK_MAX_PAYLOAD"] = 100
    r = scim.post("/Bulk", {"schemas": [BULK], "Operations": ops})
    assert r.status_code == 413
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_bulk_delete_and_put(scim):
    uid = scim.post("/Users", {"userName": "x"}).get_json(force=True)["id"]
    ops = scim.post("/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "PUT", "path": f"/Users/{uid}", "data": {"userName": "x", "title": "T"}},
        {"method": "DELETE", "path": f"/Users/{uid}"}]}).get_json(force=True)["Operations"]
    assert [o["status"] for o in ops] == ["200", "204"]
    assert scim.get(f"/Users/{uid}").status_code == 404
