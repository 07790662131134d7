"""/v1/resources: the attributes the server holds for an application's objects; conditions read
them as resource.*, a request's own properties win key by key, lookups and searches see them, and
every write is one transaction with its revision."""
from __future__ import annotations

from scim_authz.db.models import Change, ResourceAttributes
from tests.api._api_helpers import allowed, check, count, error, revision, rows, scim_user
from tests.authzen._authzen_helpers import AuthZEN


def _approver(api, scim) -> str:
    """A user holding approver: invoice:approve while resource.amount <= 1000."""
    uid = scim_user(scim, "ann")
    assert api.post("/roles", {"key": "approver", "permissions": ["invoice:approve"],
                               "condition": "resource.amount <= 1000"}).status_code == 201
    assert api.post("/role-assignments", {"user": uid, "role": "approver"}).status_code == 201
    return uid


def test_put_get_replace_delete(app, api, tenant):
    r = api.put("/resources/invoice/inv-1", {"attributes": {"amount": 500, "currency": "EUR"}})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["created"] is True and body["revision"] == revision(app, tenant[0])
    assert body["resource"]["attributes"] == {"amount": 500, "currency": "EUR"}
    again = api.put("/resources/invoice/inv-1", {"attributes": {"amount": 700}})
    assert again.status_code == 200 and again.get_json()["created"] is False
    got = api.get("/resources/invoice/inv-1").get_json()["resource"]
    assert (got["type"], got["id"], got["attributes"]) == ("invoice", "inv-1", {"amount": 700})  # replaced whole
    assert [x.attributes for x in rows(app, ResourceAttributes, tenant_id=tenant[0])] == [{"amount": 700}]
    gone = api.delete("/resources/invoice/inv-1")
    assert gone.get_json()["deleted"] is True
    assert count(app, ResourceAttributes, tenant_id=tenant[0]) == 0
    error(api.get("/resources/invoice/inv-1"), 404, "not_found")
    assert api.delete("/resources/invoice/inv-1").get_json()["deleted"] is False


def test_an_id_may_hold_slashes_and_colons(api):
    assert api.put("/resources/route//todos/{id}:x", {"attributes": {"m": 1}}).status_code == 201
    assert api.get("/resources/route//todos/{id}:x").get_json()["resource"]["id"] == "/todos/{id}:x"


def test_conditions_read_held_attributes_and_the_request_wins(api, scim):
    uid = _approver(api, scim)
    assert not allowed(api, uid, "approve", "invoice:small")  # nothing held, nothing given: no amount
    api.put("/resources/invoice/small", {"attributes": {"amount": 200}})
    api.put("/resources/invoice/big", {"attributes": {"amount": 5000}})
    assert allowed(api, uid, "approve", "invoice:small")
    denied = check(api, uid, "approve", "invoice:big", explain=True)
    assert not denied["allowed"] and "requires resource.amount <= 1000" in denied["explanation"]
    # the request's properties take precedence, key by key
    assert allowed(api, uid, "approve", {"type": "invoice", "id": "big", "attributes": {"amount": 10}})
    assert not allowed(api, uid, "approve", {"type": "invoice", "id": "small", "attributes": {"amount": 9999}})


def test_lookups_and_authzen_search_consider_held_resources(client, api, scim):
    uid = _approver(api, scim)
    r = api.post("/resources", {"resources": [{"type": "invoice", "id": f"i{n}", "attributes": {"amount": n * 400}}
                                              for n in range(1, 6)]})
    assert r.status_code == 200 and r.get_json()["created"] == 5, r.get_json()
    found = api.post("/lookup/resources", {"user": uid, "action": "approve", "resource_type": "invoice"}).get_json()
    assert found["resources"] == ["i1", "i2"]  # 400 and 800; 1200, 1600, 2000 are over the limit
    az = AuthZEN(client, api.key)
    body = {"subject": {"type": "user", "id": "ann"}, "action": {"name": "approve"}, "resource": {"type": "invoice"}}
    assert az.post("/search/resource", body).get_json()["results"] == [
        {"type": "invoice", "id": "i1"}, {"type": "invoice", "id": "i2"}]
    subjects = az.post("/search/subject", {"subject": {"type": "user"}, "action": {"name": "approve"},
                                           "resource": {"type": "invoice", "id": "i2"}}).get_json()["results"]
    assert subjects == [{"type": "user", "id": "ann"}]
    assert az.post("/search/subject", {"subject": {"type": "user"}, "action": {"name": "approve"},
                                       "resource": {"type": "invoice", "id": "i3"}}).get_json()["results"] == []


def test_a_bulk_write_is_all_or_nothing(app, api, tenant):
    api.put("/resources/invoice/keep", {"attributes": {"amount": 1}})
    before = revision(app, tenant[0]), count(app, Change, tenant_id=tenant[0])
    bad = api.post("/resources", {"resources": [{"type": "invoice", "id": "new", "attributes": {}},
                                                {"type": "invoice", "id": "keep", "attributes": {"x": "y" * 20_000}}]})
    err = error(bad, 400)
    assert "1" in err["details"]["resources"]
    assert (revision(app, tenant[0]), count(app, Change, tenant_id=tenant[0])) == before
    assert [x.resource_id for x in rows(app, ResourceAttributes, tenant_id=tenant[0])] == ["keep"]
    ok = api.post("/resources", {"resources": [{"type": "invoice", "id": "new", "attributes": {"a": 1}},
                                               {"type": "invoice", "id": "keep", "attributes": {"amount": 2}},
                                               {"type": "invoice", "id": "new", "attributes": {"a": 3}}]})
    assert ok.get_json() | {"revision": 0} == {"created": 1, "replaced": 1, "revision": 0}
    held = {x.resource_id: x.attributes for x in rows(app, ResourceAttributes, tenant_id=tenant[0])}
    assert held == {"keep": {"amount": 2}, "new": {"a": 3}}  # the last of one resource wins


def test_bad_input_is_a_400_naming_the_field(api):
    error(api.put("/resources/invoice/1", {"attributes": [1, 2]}), 400)
    error(api.put("/resources/invoice/1", {}), 400)
    error(api.put("/resources/invoice/1", {"attributes": {}, "extra": 1}), 400)
    error(api.put("/resources/9invoice/1", {"attributes": {}}), 400)
    error(api.put("/resources/invoice/a%20b", {"attributes": {}}), 400)
    error(api.get("/resources?type=invoice&cursor=***"), 400)


def test_listing_by_type_in_pages(api):
    for n in range(5):
        api.put(f"/resources/invoice/i{n}", {"attributes": {"n": n}})
    api.put("/resources/order/o1", {"attributes": {}})
    seen, cursor = [], None
    for _ in range(10):
        page = api.get("/resources?type=invoice&limit=2" + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen += [r["id"] for r in page["resources"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["i0", "i1", "i2", "i3", "i4"]
    every = api.get("/resources?limit=4").get_json()
    nxt = api.get(f"/resources?limit=4&cursor={every['next_cursor']}").get_json()
    assert [(r["type"], r["id"]) for r in every["resources"] + nxt["resources"]] == [
        ("invoice", f"i{n}") for n in range(5)] + [("order", "o1")]
    assert nxt["next_cursor"] is None


def test_another_tenant_sees_none_of_them(api, other_api, scim):
    uid = _approver(api, scim)
    api.put("/resources/invoice/x", {"attributes": {"amount": 5}})
    error(other_api.get("/resources/invoice/x"), 404)
    assert other_api.get("/resources?type=invoice").get_json()["resources"] == []
    assert other_api.delete("/resources/invoice/x").get_json()["deleted"] is False
    assert allowed(api, uid, "approve", "invoice:x")
