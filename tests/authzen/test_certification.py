"""The OpenID AuthZEN 1.0 certification cases, run against a live server holding the scenario's
fixture, expressed through this product's own means: users over SCIM (bob's role an attribute the
application syncs); roles, conditions, assignments, a schema and relationships (who owns each
record) over /v1; and each record's status held by the server (/v1/resources), which is what lets a
resource search that carries no properties find the archived record an admin may write.

The cases are read in place from the interop folder (AUTHZEN_INTEROP_DIR, or ../shared/authzen-
interop beside the repository); without it this module is skipped. Every case must pass.

    alice: reader, writer (not on archived records), soft_deleter (only a soft delete)
    bob:   reader, admin_writer (an admin, by the request's say or his synced attributes, on an archived record)
"""
from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest

from tests.api._api_helpers import scim_user
from tests.authzen._authzen_helpers import INTEROP
from tests.integration.live import serving

CASES = INTEROP / "certification" / "certification-cases.json"
pytestmark = pytest.mark.skipif(not CASES.is_file(), reason=f"AuthZEN interop data not found at {INTEROP}")

ROLES = [
    {"key": "reader", "permissions": ["record:read"]},
    {"key": "writer", "permissions": ["record:write"], "condition": 'resource.status != "archived"'},
    {"key": "admin_writer", "permissions": ["record:write"],
     "condition": '(user.claims.role == "admin" or user.role == "admin") and resource.status == "archived"'},
    {"key": "soft_deleter", "permissions": ["record:delete"], "condition": "context.action.soft == true"},
]
HOLDERS = {"alice": ["reader", "writer", "soft_deleter"], "bob": ["reader", "admin_writer"]}
SCHEMA = "entity record {\n  relation owner @user\n}\n"
OWNERS = {"record-1": "alice", "record-2": "bob"}
STATUS = {"record-1": "active", "record-2": "archived"}  # held by the server, read as resource.status


def _fixture(scim, api) -> None:
    for role in ROLES:
        assert api.post("/roles", role).status_code == 201
    ids = {}
    for name, roles in HOLDERS.items():
        ids[name] = uid = scim_user(scim, name)
        for role in roles:
            assert api.post("/role-assignments", {"user": uid, "role": role}).status_code == 201
    assert api.put("/users/bob", {"attributes": {"role": "admin"}}).status_code in (200, 201)
    assert api.post("/schema", {"source": SCHEMA}).status_code == 201
    rels = [{"resource": f"record:{rec}", "relation": "owner", "subject": f"user:{ids[who]}"}
            for rec, who in OWNERS.items()]
    assert api.post("/relationships", {"relationships": rels}).status_code in (200, 201)
    for rec, status in STATUS.items():
        assert api.put(f"/resources/record/{rec}", {"attributes": {"status": status}}).status_code == 201


def _run(case: dict, http: httpx.Client, origin: str, state: dict) -> str | None:
    """Why the case failed, or None (`state`: what one case hands the next, a page token)."""
    expect = case["expect"]
    if "<next_token" in json.dumps(case.get("request")):
        if not state.get("next_token"):
            return None  # run only after a page that had a next one
        case = {**case, "request": {**case["request"], "page": {"token": state["next_token"]}}}
    if case["method"] == "GET":
        r = http.get(case["endpoint"])
    elif "raw_body" in case:
        r = http.post(case["endpoint"], content=case["raw_body"].encode(),
                      headers={"Content-Type": case.get("content_type", "application/json")})
    else:
        r = http.post(case["endpoint"], json=case["request"], headers=case.get("headers") or {})
    if r.status_code != expect["status"]:
        return f"status {r.status_code}, expected {expect['status']}: {r.text[:200]}"
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else None
    if "decision" in expect and (body or {}).get("decision") is not expect["decision"]:
        return f"decision {body!r}, expected {expect['decision']}"
    if "evaluations" in expect and [e.get("decision") for e in body.get("evaluations", [])] != expect["evaluations"]:
        return f"evaluations {body!r}, expected {expect['evaluations']}"
    if "evaluations_len" in expect and len(body.get("evaluations", [])) != expect["evaluations_len"]:
        return f"{len(body.get('evaluations', []))} evaluations, expected {expect['evaluations_len']}"
    if "echo_header" in expect:
        name = expect["echo_header"]
        if r.headers.get(name) != case["headers"][name]:
            return f"{name} came back as {r.headers.get(name)!r}"
    if expect.get("repeat_same"):
        again = [http.post(case["endpoint"], json=case["request"]).json() for _ in range(expect["repeat_same"])]
        if any(a != body for a in again):
            return f"repeated answers differ: {again!r}"
    if "results_include" in expect or "results_exact" in expect or "results_include_names" in expect:
        results = body.get("results")
        if not isinstance(results, list):
            return f"no results array: {body!r}"
        names = [r.get("name") for r in results] if "results_include_names" in expect else \
            [r.get("id") for r in results]
        if "result_type" in expect and any(r.get("type") != expect["result_type"] for r in results):
            return f"results of another type: {results!r}"
        if "results_exact" in expect and results != expect["results_exact"]:
            return f"results {results!r}, expected exactly {expect['results_exact']!r}"
        missing = set(expect.get("results_include") or expect.get("results_include_names") or ()) - set(names)
        if missing:
            return f"results {names!r} lack {sorted(missing)}"
    if expect.get("results_is_array") and not isinstance(body.get("results"), list):
        return f"results is not an array: {body!r}"
    if "page_if_present" in expect and "page" in body:
        if not isinstance(body["page"], dict) or not isinstance(body["page"].get("next_token"), str):
            return f"page {body['page']!r} has no string next_token"
        state["next_token"] = body["page"]["next_token"]
    if expect.get("page_required") and not isinstance(body.get("page"), dict):
        return f"no page object: {body!r}"
    if "required_fields" in expect:
        missing = [f for f in expect["required_fields"] if f not in body]
        unknown = set(body) - set(expect["required_fields"]) - set(expect.get("optional_fields", []))
        if missing or unknown:
            return f"metadata missing {missing}, unknown {sorted(unknown)}"
        if expect.get("policy_decision_point_equals_base_url") and body["policy_decision_point"] != origin:
            return f"policy_decision_point {body['policy_decision_point']!r} is not {origin!r}"
    return None


def test_every_certification_case_passes(app, scim, api, capsys):
    _fixture(scim, api)
    cases = json.loads(CASES.read_text())["cases"]
    tally: Counter = Counter()
    failures: dict[str, str] = {}
    state: dict = {}
    with serving(app) as origin, httpx.Client(base_url=origin, timeout=10,
                                              headers={"Authorization": f"Bearer {api.key}"}) as http:
        for case in cases:
            problem = _run(case, http, origin, state)
            tally[(case["level"], "failed" if problem else "passed")] += 1
            if problem:
                failures[case["id"]] = f"{case['title']}: {problem}"
    with capsys.disabled():
        print("\nAuthZEN 1.0 certification cases, by level:")
        for (level, outcome), n in sorted(tally.items()):
            print(f"  {level:18s} {outcome:8s} {n}")
        for cid, why in failures.items():
            print(f"  {cid}: {why}")
    assert failures == {}
    assert sum(tally.values()) == len(cases) == 57
