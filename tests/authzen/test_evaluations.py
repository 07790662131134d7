"""AuthZEN 1.0 Access Evaluations: top-level entities are defaults an item's own replace whole;
`options.evaluations_semantic` execute_all (the default), deny_on_first_deny and
permit_on_first_permit, the short-circuiting two answering the shorter array; a bad item is a
deny in a 200, a bad payload a 400; no evaluations array is one evaluation."""
from __future__ import annotations

import pytest

from tests.authzen._authzen_helpers import ask


def test_the_specification_example_with_defaults(authzen, ann):
    body = {"subject": {"type": "user", "id": ann}, "action": {"name": "edit"},
            "evaluations": [{"resource": {"type": "document", "id": "1"}},
                            {"resource": {"type": "document", "id": "2"}, "action": {"name": "delete"}},
                            {"subject": {"type": "user", "id": "nobody"}, "resource": {"type": "document", "id": "3"}}]}
    r = authzen.post("/evaluations", body)
    assert r.status_code == 200
    assert r.get_json() == {"evaluations": [{"decision": True}, {"decision": False}, {"decision": False}]}


def test_an_item_entity_replaces_the_default_whole(authzen, ann):
    # The default subject's properties are not merged into the item's subject.
    body = {"subject": {"type": "user", "id": "nobody", "properties": {"x": 1}},
            "action": {"name": "edit"}, "resource": {"type": "document", "id": "1"},
            "evaluations": [{"subject": {"type": "user", "id": ann}}, {}]}
    assert authzen.post("/evaluations", body).get_json()["evaluations"] == [{"decision": True}, {"decision": False}]


THREE = [{"action": {"name": "view"}}, {"action": {"name": "delete"}}, {"action": {"name": "edit"}}]


@pytest.mark.parametrize("semantic, expected", [
    (None, [True, False, True]),
    ("execute_all", [True, False, True]),
    ("deny_on_first_deny", [True, False]),
    ("permit_on_first_permit", [True]),
])
def test_evaluations_semantic(authzen, ann, semantic, expected):
    body = {"subject": {"type": "user", "id": ann}, "resource": {"type": "document", "id": "1"},
            "evaluations": THREE}
    if semantic:
        body["options"] = {"evaluations_semantic": semantic}
    r = authzen.post("/evaluations", body)
    assert [e["decision"] for e in r.get_json()["evaluations"]] == expected


def test_permit_on_first_permit_runs_to_the_first_permit(authzen, ann):
    body = {"subject": {"type": "user", "id": ann}, "resource": {"type": "document", "id": "1"},
            "options": {"evaluations_semantic": "permit_on_first_permit"},
            "evaluations": [{"action": {"name": "delete"}}, {"action": {"name": "share"}},
                            {"action": {"name": "edit"}}, {"action": {"name": "view"}}]}
    assert [e["decision"] for e in authzen.post("/evaluations", body).get_json()["evaluations"]] == \
        [False, False, True]


def test_no_or_an_empty_evaluations_array_is_one_evaluation(authzen, ann):
    assert authzen.post("/evaluations", ask(ann)).get_json() == {"decision": True}
    assert authzen.post("/evaluations", {**ask(ann, "delete"), "evaluations": []}).get_json() == {"decision": False}
    assert authzen.post("/evaluations", {"subject": {"type": "user", "id": ann}}).status_code == 400


def test_a_bad_item_is_a_deny_with_its_reason_and_the_batch_goes_on(authzen, ann):
    body = {"subject": {"type": "user", "id": ann}, "action": {"name": "edit"},
            "evaluations": [{"resource": {"type": "document", "id": "1"}}, {"resource": {"type": "document"}},
                            {}, "nonsense", {"resource": {"type": "document", "id": "4"}}]}
    r = authzen.post("/evaluations", body)
    assert r.status_code == 200
    out = r.get_json()["evaluations"]
    assert [e["decision"] for e in out] == [True, False, False, False, True]
    assert out[1]["context"]["error"]["status"] == 400 and "resource" in out[1]["context"]["error"]["message"]
    assert "context" not in out[0]


def test_deny_on_first_deny_stops_at_a_bad_item(authzen, ann):
    body = {"subject": {"type": "user", "id": ann}, "action": {"name": "edit"},
            "options": {"evaluations_semantic": "deny_on_first_deny"},
            "evaluations": [{"resource": {"type": "document", "id": "1"}}, {"resource": {"id": "2"}},
                            {"resource": {"type": "document", "id": "3"}}]}
    assert [e["decision"] for e in authzen.post("/evaluations", body).get_json()["evaluations"]] == [True, False]


@pytest.mark.parametrize("body", [
    {"evaluations": "all"},
    {"evaluations": [{}], "options": {"evaluations_semantic": "majority"}},
    {"evaluations": [{}], "options": []},
    {"subject": "ann", "evaluations": [{}]},
])
def test_a_bad_payload_is_400(authzen, body):
    assert authzen.post("/evaluations", body).status_code == 400


def test_unknown_options_are_ignored(authzen, ann):
    body = {**ask(ann), "options": {"colour": "blue"}, "evaluations": [{}]}
    assert authzen.post("/evaluations", body).get_json() == {"evaluations": [{"decision": True}]}
