"""POST /v1/check and /v1/check/bulk: who, what, on what; explanations; malformed bodies."""
from __future__ import annotations

import pytest

from scim_authz.db.models import Decision
from tests.api._api_helpers import allowed, check, count, error, scim_user


@pytest.fixture
def ann(scim, api):
    uid = scim_user(scim, "ann@example.com")
    api.post("/roles", {"key": "editor", "permissions": ["document:edit", "document:view"]})
    api.post("/role-assignments", {"user": uid, "role": "editor"})
    return uid


def test_user_as_id_user_name_or_object(api, ann):
    for user in (ann, "ann@example.com", "ANN@example.com", {"id": ann}, {"userName": "ann@example.com"}):
        body = check(api, user, "edit", "document:1")
        assert body["allowed"] is True, user
    assert check(api, ann, "delete", "document:1")["allowed"] is False


def test_every_response_has_a_decision_id_and_revision(api, ann):
    rev = api.get("/tenant").get_json()["tenant"]["revision"]
    a = check(api, ann, "edit", "document:1")
    b = check(api, ann, "delete", "document:1")
    c = check(api, "nobody", "edit", "document:1")
    for body in (a, b, c):
        assert set(body) == {"allowed", "decision_id", "revision"}
        assert isinstance(body["decision_id"], str) and body["decision_id"]
        assert body["revision"] == rev
    assert len({a["decision_id"], b["decision_id"], c["decision_id"]}) == 3


def test_explain_by_query_or_body(api, ann):
    r = api.post("/check?explain=true", {"user": ann, "action": "edit", "resource": "document:1"})
    body = r.get_json()
    assert body["allowed"] is True
    assert body["explanation"].startswith("allowed: role editor assigned by key sk_")
    assert body["path"] == []
    body = check(api, ann, "delete", "document:1", explain=True)
    assert body["explanation"] == ("denied: no role of ann@example.com grants document:delete, "
                                   "and the schema has no rule document.delete")
    assert body["path"] == []
    assert "explanation" not in check(api, ann, "edit", "document:1")


def test_unknown_user_is_denied_with_a_reason(api, ann):
    body = api.post("/check?explain=1", {"user": "ghost@example.com", "action": "edit",
                                         "resource": "document:1"}).get_json()
    assert body["allowed"] is False
    assert body["explanation"] == "denied: no user 'ghost@example.com' in this tenant"


def test_resource_as_object_with_a_conditional_role(api, scim):
    uid = scim_user(scim, "ann")
    other = scim_user(scim, "bob")
    api.post("/roles", {"key": "owner", "permissions": ["document:delete"], "condition": "resource.owner == user.id"})
    api.post("/role-assignments", {"user": uid, "role": "owner"})
    api.post("/role-assignments", {"user": other, "role": "owner"})
    mine = {"type": "document", "id": "12", "attributes": {"owner": uid}}
    d = check(api, uid, "delete", mine, explain=True)
    assert d["allowed"] is True
    assert d["explanation"].endswith("its condition holding")
    assert check(api, other, "delete", mine)["allowed"] is False
    assert check(api, uid, "delete", {"type": "document", "id": 12, "attributes": {"owner": other}})["allowed"] is False
    # no attributes: resource.owner is null, never equal to an id
    assert check(api, uid, "delete", "document:12")["allowed"] is False


def test_condition_on_context(api, scim):
    uid = scim_user(scim, "ann")
    api.post("/roles", {"key": "office", "permissions": ["door:open"], "condition": 'context.network == "office"'})
    api.post("/role-assignments", {"user": uid, "role": "office"})
    assert check(api, uid, "open", "door:1", context={"network": "office"})["allowed"] is True
    assert check(api, uid, "open", "door:1", context={"network": "home"})["allowed"] is False


def test_a_condition_that_cannot_be_evaluated_denies_and_says_why(api, scim):
    uid = scim_user(scim, "ann")
    api.post("/roles", {"key": "big", "permissions": ["doc:read"], "condition": "resource.size > 10"})
    api.post("/role-assignments", {"user": uid, "role": "big"})
    d = check(api, uid, "read", {"type": "doc", "id": "1", "attributes": {"size": "large"}}, explain=True)
    assert d["allowed"] is False
    assert "the condition of role big could not be evaluated" in d["explanation"]
    assert check(api, uid, "read", {"type": "doc", "id": "1", "attributes": {"size": 11}})["allowed"] is True


def test_wildcard_permissions(api, scim):
    uid = scim_user(scim, "root")
    api.post("/roles", {"key": "docs", "permissions": ["document:*"]})
    api.post("/role-assignments", {"user": uid, "role": "docs"})
    assert allowed(api, uid, "anything", "document:1")
    assert not allowed(api, uid, "view", "folder:1")
    api.post("/roles", {"key": "all", "permissions": ["*"]})
    api.post("/role-assignments", {"user": uid, "role": "all"})
    assert allowed(api, uid, "view", "folder:1")


@pytest.mark.parametrize("body, field", [
    ({"user": "ann", "resource": "document:1"}, "action"),
    ({"action": "edit", "resource": "document:1"}, "user"),
    ({"user": "ann", "action": "edit"}, "resource"),
    ({"user": "ann", "action": "edit", "resource": "nocolon"}, "resource"),
    ({"user": "ann", "action": "edit", "resource": "document:"}, "resource"),
    ({"user": "ann", "action": "edit", "resource": {"type": "document"}}, "resource"),
    ({"user": "ann", "action": "edit", "resource": {"type": "doc-ument", "id": "1"}}, "resource"),
    ({"user": "ann", "action": "edit", "resource": {"type": "document", "id": "1", "attributes": [1]}}, "resource"),
    ({"user": "ann", "action": "edit", "resource": "document:1", "colour": "blue"}, "colour"),
    ({"user": "ann", "action": "ed it", "resource": "document:1"}, "action"),
    ({"user": "", "action": "edit", "resource": "document:1"}, "user"),
    ({"user": {"name": "ann"}, "action": "edit", "resource": "document:1"}, "user"),
    ({"user": "ann", "action": "edit", "resource": "document:1", "consistency": {"at_least": -1}}, "consistency"),
    ({"user": "ann", "action": "edit", "resource": "document:1", "consistency": {"later": 1}}, "consistency"),
    ({"user": "ann", "action": "edit", "resource": "document:1", "context": "x"}, "context"),
])
def test_malformed_bodies_are_400_with_details(app, api, tenant, body, field):
    err = error(api.post("/check", body), 400, "invalid_request")
    assert field in err["details"], err
    api.get("/decisions")  # flushes this instance's decision log
    assert count(app, Decision, tenant_id=tenant[0]) == 0


def test_unknown_field_detail_text(api):
    err = error(api.post("/check", {"user": "a", "action": "edit", "resource": "document:1", "colour": 1}), 400)
    assert err["details"] == {"colour": ["Unknown field."]}
    err = error(api.post("/check", {"user": "a", "resource": "document:1"}), 400)
    assert err["details"] == {"action": ["Missing data for required field."]}


@pytest.mark.parametrize("raw", ["", "   ", "{", "[]", '"x"', "null"])
def test_body_that_is_not_a_json_object_is_400(api, raw):
    error(api.post("/check", raw=raw, headers={"Content-Type": "application/json"}), 400, "invalid_request")


def test_an_at_least_revision_not_yet_reached_denies(api, ann):
    rev = api.get("/tenant").get_json()["tenant"]["revision"]
    d = check(api, ann, "edit", "document:1", explain=True, consistency={"at_least": rev + 100})
    assert d["allowed"] is False
    assert f"revision {rev + 100} is not known yet" in d["explanation"]


# ---- bulk ------------------------------------------------------------------------------------

def test_bulk_gives_one_result_per_item_in_order(app, api, ann, tenant):
    items = [{"user": ann, "action": "edit", "resource": "document:1"},
             {"user": ann, "action": "delete", "resource": "document:1"},
             {"user": "ghost", "action": "edit", "resource": "document:1"},
             {"user": "ann@example.com", "action": "view", "resource": {"type": "document", "id": "2"},
              "explain": True}]
    r = api.post("/check/bulk", {"checks": items})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert [x["allowed"] for x in body["results"]] == [True, False, False, True]
    assert "explanation" not in body["results"][0] and "explanation" in body["results"][3]
    assert len({x["decision_id"] for x in body["results"]}) == 4
    assert body["revision"] == max(x["revision"] for x in body["results"])
    assert len(api.get("/decisions").get_json()["decisions"]) == 4
    r = api.post("/check/bulk?explain=true", {"checks": items[:2]})
    assert [x["explanation"][:7] for x in r.get_json()["results"]] == ["allowed", "denied:"]


def test_a_bulk_requests_decisions_are_logged_when_it_answers(app, api, ann, tenant):
    """1,200 checks: written in the request (several statements of rows), not left in a queue."""
    from scim_authz import pdp

    items = [{"user": ann, "action": "edit", "resource": f"document:{n}"} for n in range(1200)]
    r = api.post("/check/bulk", {"checks": items})
    assert r.status_code == 200
    with app.app_context():
        assert len(pdp.audit(app).queue) == 0
    ids = {x["decision_id"] for x in r.get_json()["results"]}
    with app.app_context():
        from scim_authz.db.extensions import db
        logged = db.session.execute(db.select(Decision.id, Decision.resource_id).where(
            Decision.tenant_id == tenant[0])).all()
    assert {i for i, _ in logged} == ids
    assert sorted(int(rid) for _, rid in logged) == list(range(1200))


def test_a_bulk_request_whose_log_write_fails_hands_its_decisions_to_the_writer(app, api, ann, tenant, monkeypatch):
    from scim_authz import pdp

    with app.app_context():
        writer = pdp.audit(app)
    real = writer._insert_rows
    calls = []

    def fail_once(conn, rows, *more):
        calls.append(len(rows))
        if len(calls) == 1:
            raise RuntimeError("database is locked")
        return real(conn, rows, *more)

    monkeypatch.setattr(writer, "_insert_rows", fail_once)
    items = [{"user": ann, "action": "edit", "resource": f"document:{n}"} for n in range(3)]
    assert api.post("/check/bulk", {"checks": items}).status_code == 200
    assert len(api.get("/decisions").get_json()["decisions"]) == 3  # (reading the log flushes the queue)
    assert count(app, Decision, tenant_id=tenant[0]) == 3


def test_bulk_limit_is_enforced(app, api, ann):
    app.config["AUTHZ_BULK_MAX_CHECKS"] = 3
    item = {"user": ann, "action": "edit", "resource": "document:1"}
    assert api.post("/check/bulk", {"checks": [item] * 3}).status_code == 200
    err = error(api.post("/check/bulk", {"checks": [item] * 4}), 400, "invalid_request")
    assert err["details"] == {"checks": ["4 given"]}
    assert "at most 3" in err["message"]


def test_bulk_malformed_item_is_400_naming_its_index(app, api, ann, tenant):
    item = {"user": ann, "action": "edit", "resource": "document:1"}
    err = error(api.post("/check/bulk", {"checks": [item, {"user": ann, "action": "edit", "resource": "x"}]}), 400)
    assert list(err["details"]["checks"]) == ["1"]
    assert "resource" in err["details"]["checks"]["1"]
    error(api.post("/check/bulk", {"checks": []}), 400)
    error(api.post("/check/bulk", {}), 400)
    api.get("/decisions")
    assert count(app, Decision, tenant_id=tenant[0]) == 0


def test_a_stale_at_least_denial_reports_the_revision_it_was_decided_at(api, ann):
    """The revision in an answer is a consistency token; 0 would send a client back before every write."""
    rev = api.get("/tenant").get_json()["tenant"]["revision"]
    body = check(api, ann, "edit", "document:1", consistency={"at_least": rev + 100})
    assert body["allowed"] is False
    assert body["revision"] == rev


def test_a_bulk_request_that_cannot_open_a_log_connection_queues_its_decisions(app, api, ann, tenant, monkeypatch):
    import threading

    from scim_authz import pdp

    with app.app_context():
        writer = pdp.audit(app)
    monkeypatch.setattr(writer, "_local", threading.local())  # no connection in this thread yet

    def unavailable():
        raise OSError("database unavailable")

    monkeypatch.setattr(writer, "_open", unavailable)
    items = [{"user": ann, "action": "edit", "resource": f"document:{n}"} for n in range(2)]
    assert api.post("/check/bulk", {"checks": items}).status_code == 200
    monkeypatch.undo()
    assert len(api.get("/decisions").get_json()["decisions"]) == 2


def test_a_denial_by_a_false_condition_names_the_role_its_group_and_the_condition(api, scim):
    from tests.api._api_helpers import scim_group
    bo = scim_user(scim, "bo@example.com")
    api.post("/roles", {"key": "approver", "permissions": ["invoice:approve"], "condition": "resource.amount <= 1000"})
    api.post("/group-mappings", {"group": scim_group(scim, "Finance", [bo]), "role": "approver"})
    big = {"type": "invoice", "id": "1", "attributes": {"amount": 5000}}
    d = check(api, bo, "approve", big, explain=True)
    assert d["allowed"] is False
    assert d["explanation"] == "denied: role approver via group Finance (IdP) requires resource.amount <= 1000"
    small = {"type": "invoice", "id": "2", "attributes": {"amount": 50}}
    assert check(api, bo, "approve", small, explain=True)["explanation"] == \
        "allowed: role approver via group Finance (IdP), its condition holding"
