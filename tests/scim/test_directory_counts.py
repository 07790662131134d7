"""A tenant's user and group counts (tenants.user_count, group_count): exact after every way users
and groups come and go, so that an unfiltered listing's totalResults (RFC 7644 §3.4.2) is read from
them instead of counting every row."""
from __future__ import annotations

from sqlalchemy import func, select

from scim_authz.db.extensions import db
from scim_authz.db.models import Group, Tenant, User
from scim_authz.db.txn import intent
from scim_authz.directory import counts
from scim_authz.directory import service as directory
from tests.conftest import APIClient, issue_app_key, patch_op
from tests.webhooks.conftest import OKTA_SECRET, Okta, okta_event, set_secrets

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def kept_and_real(app, tenant_id: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((user_count, group_count) kept on the tenant's row, (users, groups) counted)."""
    with app.app_context():
        t = db.session.get(Tenant, tenant_id)
        kept = (t.user_count, t.group_count)
        real = tuple(db.session.execute(select(func.count()).select_from(m).where(m.tenant_id == tenant_id))
                     .scalar_one() for m in (User, Group))
        db.session.remove()
    return kept, real


def assert_exact(app, scim, tenant_id: int, users: int, groups: int) -> None:
    assert kept_and_real(app, tenant_id) == ((users, groups), (users, groups))
    for path, n in (("/Users", users), ("/Groups", groups)):
        body = scim.get(f"{path}?startIndex=1&count=1").get_json(force=True)  # a full page: the kept count
        assert body["totalResults"] == n and body["itemsPerPage"] == min(1, n)


def test_scim_creates_and_deletes_are_counted(app, scim, tenant):
    assert_exact(app, scim, tenant[0], 0, 0)
    ids = [scim.post("/Users", {"userName": f"user{i}"}).get_json(force=True)["id"] for i in range(4)]
    g = scim.post("/Groups", {"displayName": "Eng", "members": [{"value": ids[0]}]}).get_json(force=True)
    scim.post("/Groups", {"displayName": "Ops"})
    assert_exact(app, scim, tenant[0], 4, 2)
    assert scim.delete(f"/Users/{ids[0]}").status_code == 204
    assert scim.delete(f"/Groups/{g['id']}").status_code == 204
    assert_exact(app, scim, tenant[0], 3, 1)
    # A filter is counted, not read from the tenant's row.
    body = scim.get('/Users?filter=userName sw "user"&count=1').get_json(force=True)
    assert body["totalResults"] == 3
    assert scim.get('/Users?filter=userName eq "user1"').get_json(force=True)["totalResults"] == 1


def test_refused_writes_count_nothing(app, scim, tenant):
    scim.post("/Users", {"userName": "taken"})
    assert scim.post("/Users", {"userName": "TAKEN"}).status_code == 409
    assert scim.post("/Groups", {"displayName": "G", "members": [{"value": "nobody"}]}).status_code == 400
    assert scim.delete("/Users/nobody").status_code == 404
    assert_exact(app, scim, tenant[0], 1, 0)


def test_a_bulk_counts_what_it_committed_and_not_what_it_undid(app, scim, tenant):
    scim.post("/Users", {"userName": "taken"})
    r = scim.post("/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "fresh"}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "taken"}},
        {"method": "POST", "path": "/Groups", "bulkId": "g",
         "data": {"displayName": "G", "members": [{"value": "bulkId:a"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "h",
         "data": {"displayName": "H", "members": [{"value": "no-such-user"}]}},  # made, then undone
        {"method": "DELETE", "path": "/Users/bulkId:a"},
    ]})
    assert [o["status"] for o in r.get_json(force=True)["Operations"]] == ["201", "409", "201", "400", "204"]
    assert_exact(app, scim, tenant[0], 1, 1)


def test_v1_sync_and_bulk_sync_are_counted(app, client, scim, tenant):
    api = APIClient(client, issue_app_key(app, tenant[0]))
    assert api.put("/users/ann", {"userName": "ann"}).status_code == 201
    assert api.put("/users/ann", {"displayName": "Ann"}).status_code == 200  # an update: no new user
    r = api.post("/users/bulk", {"users": [
        {"key": "bob", "userName": "bob"},
        {"key": "carol", "userName": "carol", "roles": ["ghost"]},  # made, then undone by its savepoint
        {"key": "dave", "userName": "dave"},
    ]})
    assert [x["status"] for x in r.get_json()["results"]] == [201, 400, 201]
    assert_exact(app, scim, tenant[0], 3, 0)


def test_webhook_creates_and_deletes_are_counted(app, client, scim, tenant):
    set_secrets(app, tenant[0], okta=OKTA_SECRET)
    okta = Okta(client)
    assert okta.deliver(okta_event("user.lifecycle.create")).get_json()["results"][0]["result"] == "applied"
    assert_exact(app, scim, tenant[0], 1, 0)
    assert okta.deliver(okta_event("user.lifecycle.delete.initiated")).get_json()["results"][0]["result"] == \
        "applied"
    assert_exact(app, scim, tenant[0], 0, 0)


def test_each_tenant_has_its_own_counts(app, scim, other_scim, tenant):
    scim.post("/Users", {"userName": "a"})
    scim.post("/Users", {"userName": "b"})
    other_scim.post("/Users", {"userName": "a"})
    other_scim.post("/Groups", {"displayName": "G"})
    assert scim.get("/Users?count=1").get_json(force=True)["totalResults"] == 2
    assert other_scim.get("/Users?count=1").get_json(force=True)["totalResults"] == 1
    assert scim.get("/Groups?count=0").get_json(force=True)["totalResults"] == 0
    assert other_scim.get("/Groups?count=0").get_json(force=True)["totalResults"] == 1
    body = other_scim.post("/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                        "count": 1}).get_json(force=True)
    assert body["totalResults"] == 2


def test_membership_writes_leave_the_counts_alone(app, scim, tenant):
    ids = [scim.post("/Users", {"userName": f"u{i}"}).get_json(force=True)["id"] for i in range(3)]
    g = scim.post("/Groups", {"displayName": "G"}).get_json(force=True)
    scim.patch(f"/Groups/{g['id']}", patch_op({"op": "add", "path": "members", "value": [{"value": i} for i in ids]}))
    scim.patch(f"/Groups/{g['id']}", patch_op({"op": "remove", "path": "members"}))
    scim.put(f"/Groups/{g['id']}", {"displayName": "G2", "members": [{"value": ids[0]}]})
    assert_exact(app, scim, tenant[0], 3, 1)


def test_recount_sets_the_counts_from_the_rows(app, scim, tenant):
    """What a loader that writes rows past the directory service calls before it commits."""
    scim.post("/Users", {"userName": "a"})
    with app.app_context(), intent(True):
        directory.create_user(tenant[0], {"userName": "b"})  # counted: +1 noted, not yet written
        db.session.execute(User.__table__.insert(), [
            {"id": f"raw-{i}", "tenant_id": tenant[0], "user_name": f"raw{i}", "user_name_ci": f"raw{i}",
             "active": True, "doc": {"userName": f"raw{i}"}, "app_attributes": {}, "version": 1,
             "created": directory.utcnow(), "last_modified": directory.utcnow()} for i in range(5)])
        assert counts.recount(tenant[0]) == (7, 0)
        db.session.commit()
        db.session.remove()
    assert_exact(app, scim, tenant[0], 7, 0)  # b's noted +1 was not added on top


def test_adjust_counts_in_a_failed_savepoint_is_forgotten(app, scim, tenant):
    from scim_authz.pdp.changes import adjust_counts, savepoint
    with app.app_context(), intent(True):
        directory.create_user(tenant[0], {"userName": "kept"})
        try:
            with savepoint():
                directory.create_user(tenant[0], {"userName": "undone"})
                adjust_counts(tenant[0], groups=5)
                raise RuntimeError("undo")
        except RuntimeError:
            pass
        db.session.commit()
        db.session.remove()
    assert_exact(app, scim, tenant[0], 1, 0)
