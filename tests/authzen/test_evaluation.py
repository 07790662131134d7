"""AuthZEN Authorization API 1.0: access evaluation and its metadata, from the specification's own
examples and the certification scenario's readings of it (400 for a missing or mistyped required
member, unknown members ignored, a deny is a 200)."""
from __future__ import annotations

import json

import pytest

from scim_authz.db.models import Decision
from tests.api._api_helpers import count, scim_user
from tests.authzen._authzen_helpers import AuthZEN, ask


def test_the_metadata_names_the_pdp_and_its_endpoints_without_a_credential(client):
    r = client.get("/.well-known/authzen-configuration")
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_json()
    assert body == {"policy_decision_point": "http://localhost",
                    "access_evaluation_endpoint": "http://localhost/access/v1/evaluation",
                    "access_evaluations_endpoint": "http://localhost/access/v1/evaluations",
                    "search_subject_endpoint": "http://localhost/access/v1/search/subject",
                    "search_resource_endpoint": "http://localhost/access/v1/search/resource",
                    "search_action_endpoint": "http://localhost/access/v1/search/action"}
    assert "max-age" in r.headers["Cache-Control"]


def test_allow_and_deny_are_both_200(authzen, ann):
    r = authzen.post("/evaluation", ask(ann))
    assert r.status_code == 200 and r.get_json() == {"decision": True}
    r = authzen.post("/evaluation", ask(ann, "delete"))
    assert r.status_code == 200 and r.get_json() == {"decision": False}
    assert authzen.post("/evaluation", ask("nobody")).get_json() == {"decision": False}


def test_the_subject_is_named_by_id_user_name_or_external_id(authzen, ann):
    for sid in (ann, "ann@example.com", "ANN@example.com", "00u1ann"):
        assert authzen.post("/evaluation", ask(sid)).get_json() == {"decision": True}, sid


def test_properties_and_context_reach_conditions(authzen, api, scim):
    uid = scim_user(scim, "bo@example.com")
    api.post("/roles", {"key": "approver", "permissions": ["invoice:approve"],
                        "condition": 'resource.amount <= 1000 and user.claims.dept == "finance" and context.hour < 18'})
    api.post("/role-assignments", {"user": uid, "role": "approver"})

    def decide(amount, dept, hour):
        body = {"subject": {"type": "user", "id": uid, "properties": {"dept": dept}},
                "action": {"name": "approve"},
                "resource": {"type": "invoice", "id": "7", "properties": {"amount": amount}},
                "context": {"hour": hour}}
        r = authzen.post("/evaluation", body)
        assert r.status_code == 200
        return r.get_json()["decision"]

    assert decide(500, "finance", 9) is True
    assert decide(5000, "finance", 9) is False
    assert decide(500, "sales", 9) is False
    assert decide(500, "finance", 20) is False


@pytest.mark.parametrize("body, field", [
    ({"action": {"name": "edit"}, "resource": {"type": "document", "id": "1"}}, "subject"),
    ({"subject": {"type": "user", "id": "a"}, "resource": {"type": "document", "id": "1"}}, "action"),
    ({"subject": {"type": "user", "id": "a"}, "action": {"name": "edit"}}, "resource"),
    ({"subject": "alice", "action": {"name": "edit"}, "resource": {"type": "document", "id": "1"}}, "subject"),
    ({"subject": {"id": "a"}, "action": {"name": "edit"}, "resource": {"type": "document", "id": "1"}}, "subject"),
    ({"subject": {"type": "user"}, "action": {"name": "edit"}, "resource": {"type": "document", "id": "1"}}, "subject"),
    ({"subject": {"type": "user", "id": "a"}, "action": {"name": 7}, "resource": {"type": "document", "id": "1"}},
     "action"),
    ({"subject": {"type": "user", "id": "a"}, "action": {"name": "edit"}, "resource": {"type": "document"}},
     "resource"),
    ({"subject": {"type": "user", "id": "a", "properties": []}, "action": {"name": "edit"},
      "resource": {"type": "document", "id": "1"}}, "subject"),
    ({**ask("a"), "context": "morning"}, "context"),
])
def test_a_missing_or_mistyped_required_member_is_400(authzen, body, field):
    r = authzen.post("/evaluation", body)
    assert r.status_code == 400
    assert field in r.get_json()["error"]["details"]


@pytest.mark.parametrize("raw, content_type", [
    ("", "application/json"), ("{not json", "application/json"), ("[]", "application/json"),
    (json.dumps(ask("a")), "text/plain"),
])
def test_a_body_that_is_not_a_json_object_is_400(authzen, raw, content_type):
    assert authzen.post("/evaluation", raw=raw, content_type=content_type).status_code == 400


def test_unknown_members_are_ignored(authzen, ann):
    body = {**ask(ann), "extra": 1, "subject": {"type": "user", "id": ann, "email": "x"},
            "action": {"name": "edit", "verb": "PUT"}}
    r = authzen.post("/evaluation", body)
    assert r.status_code == 200 and r.get_json() == {"decision": True}


def test_what_no_permission_can_name_is_a_deny_not_an_error(authzen, ann):
    assert authzen.post("/evaluation", ask(ann, "can-edit")).get_json() == {"decision": False}
    assert authzen.post("/evaluation", ask(ann, resource=("my-doc", "1"))).get_json() == {"decision": False}
    assert authzen.post("/evaluation", ask(ann, resource=("document", "a b"))).get_json() == {"decision": False}


def test_a_bad_or_missing_key_is_401_with_www_authenticate(client):
    r = client.post("/access/v1/evaluation", data=json.dumps(ask("a")), content_type="application/json")
    assert r.status_code == 401 and "Bearer" in r.headers["WWW-Authenticate"]
    r = AuthZEN(client, "app_nope").post("/evaluation", ask("a"))
    assert r.status_code == 401


def test_the_request_id_comes_back(authzen, ann):
    r = authzen.post("/evaluation", ask(ann), headers={"X-Request-ID": "pep-123"})
    assert r.headers["X-Request-ID"] == "pep-123"
    assert authzen.post("/evaluation", ask(ann)).headers.get("X-Request-ID")


def test_the_reason_is_given_only_when_asked(authzen, ann):
    r = authzen.post("/evaluation?explain=true", ask(ann, "delete"))
    ctx = r.get_json()["context"]
    assert r.get_json()["decision"] is False and ctx["reason_admin"]["en"].startswith("denied")
    assert ctx["decision_id"] and isinstance(ctx["revision"], int)


def test_decisions_go_to_the_decision_log(app, authzen, ann, tenant):
    authzen.post("/evaluation", ask(ann))
    authzen.post("/evaluation", ask(ann, "delete"))
    with app.app_context():
        from scim_authz import pdp
        pdp.audit(app).flush()
    assert count(app, Decision, tenant_id=tenant[0], user_id=ann) == 2


def test_action_properties_reach_conditions_as_context_action(authzen, api, scim):
    uid = scim_user(scim, "cy@example.com")
    api.post("/roles", {"key": "soft", "permissions": ["record:delete"], "condition": "context.action.soft == true"})
    api.post("/role-assignments", {"user": uid, "role": "soft"})

    def delete(props, context=None):
        body = {"subject": {"type": "user", "id": uid}, "action": {"name": "delete", "properties": props},
                "resource": {"type": "record", "id": "1"}, **({"context": context} if context else {})}
        return authzen.post("/evaluation", body).get_json()["decision"]

    assert delete({"soft": True}) is True
    assert delete({"soft": False}) is False
    assert delete({"soft": True}, {"action": {"soft": False}}) is False  # the request's own context.action wins
