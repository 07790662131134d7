"""What a SCIM write does to the tenant's revision: every write that changed something answers with
the revision it made (X-Authz-Revision), a transaction advances it once whatever it wrote (a /Bulk of
many operations is one revision), and a write that failed leaves it and the change log as they were."""
from __future__ import annotations

from sqlalchemy import func, select

from scim_authz.db.extensions import db
from scim_authz.db.models import Change
from tests.api._api_helpers import revision
from tests.conftest import patch_op

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def _changes(app, tenant_id: int) -> list[tuple[int, str]]:
    with app.app_context():
        rows = db.session.execute(select(Change.revision, Change.kind).where(Change.tenant_id == tenant_id)
                                  .order_by(Change.id)).all()
        db.session.remove()
        return [tuple(r) for r in rows]


def test_a_write_answers_with_the_revision_it_made(app, scim, tenant):
    r = scim.post("/Users", {"userName": "ann"})
    assert r.status_code == 201
    assert int(r.headers["X-Authz-Revision"]) == revision(app, tenant[0])
    uid = r.get_json(force=True)["id"]
    r = scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "value": {"active": False}}))
    assert int(r.headers["X-Authz-Revision"]) == revision(app, tenant[0])
    assert "X-Authz-Revision" not in scim.get(f"/Users/{uid}").headers  # a read makes none


def test_a_bulk_is_one_revision_with_every_change_logged_under_it(app, scim, tenant):
    before = revision(app, tenant[0])
    ops = [{"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": {"userName": f"user{i}"}}
           for i in range(20)]
    ops.append({"method": "POST", "path": "/Groups", "bulkId": "g",
                "data": {"displayName": "Eng", "members": [{"value": "bulkId:u0"}, {"value": "bulkId:u1"}]}})
    r = scim.post("/Bulk", {"schemas": [BULK], "Operations": ops})
    assert r.status_code == 200
    assert all(o["status"] == "201" for o in r.get_json(force=True)["Operations"])
    after = revision(app, tenant[0])
    assert after == before + 1 == int(r.headers["X-Authz-Revision"])
    logged = [c for c in _changes(app, tenant[0]) if c[0] == after]
    assert [k for _, k in logged].count("user") == 20 and ("group" in {k for _, k in logged})


def test_a_failed_operation_in_a_bulk_leaves_no_change_behind(app, scim, tenant):
    scim.post("/Users", {"userName": "taken"})
    before, logged_before = revision(app, tenant[0]), len(_changes(app, tenant[0]))
    r = scim.post("/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "fresh"}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "taken"}},
    ]})
    assert [o["status"] for o in r.get_json(force=True)["Operations"]] == ["201", "409"]
    after = _changes(app, tenant[0])
    assert revision(app, tenant[0]) == before + 1
    assert len(after) == logged_before + 1  # the fresh user only: the failed operation logged nothing


def test_a_failed_write_changes_no_revision(app, scim, tenant):
    scim.post("/Users", {"userName": "ann"})
    before, logged = revision(app, tenant[0]), _changes(app, tenant[0])
    r = scim.post("/Users", {"userName": "ann"})
    assert r.status_code == 409 and "X-Authz-Revision" not in r.headers
    assert revision(app, tenant[0]) == before and _changes(app, tenant[0]) == logged
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Change)).scalar_one() == len(logged)
