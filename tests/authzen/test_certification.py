"""The OpenID AuthZEN 1.0 certification cases, run against a live server holding the scenario's
fixture, expressed through this product's own means: users over SCIM; roles, conditions and
assignments over /v1.

The cases are read in place from the interop folder (AUTHZEN_INTEROP_DIR, or ../shared/authzen-
interop beside the repository); without it this module is skipped. Search cases wait for the
search endpoints (docs/authzen.md) and are reported as not run, never as passed.

    alice: reader, writer (not on archived records), soft_deleter (only a soft delete)
    bob:   reader, admin_writer (when the request says the subject's role is admin)
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
    {"key": "admin_writer", "permissions": ["record:write"], "condition": 'user.claims.role == "admin"'},
    {"key": "soft_deleter", "permissions": ["record:delete"], "condition": "context.action.soft == true"},
]
HOLDERS = {"alice": ["reader", "writer", "soft_deleter"], "bob": ["reader", "admin_writer"]}


def _fixture(scim, api) -> None:
    for role in ROLES:
        assert api.post("/roles", role).status_code == 201
    for name, roles in HOLDERS.items():
        uid = scim_user(scim, name)
        for role in roles:
            assert api.post("/role-assignments", {"user": uid, "role": role}).status_code == 201


def _run(case: dict, http: httpx.Client, origin: str) -> str | None:
    """Why the case failed, or None."""
    expect = case["expect"]
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
    if "required_fields" in expect:
        missing = [f for f in expect["required_fields"] if f not in body]
        unknown = set(body) - set(expect["required_fields"]) - set(expect.get("optional_fields", []))
        if missing or unknown:
            return f"metadata missing {missing}, unknown {sorted(unknown)}"
        if expect.get("policy_decision_point_equals_base_url") and body["policy_decision_point"] != origin:
            return f"policy_decision_point {body['policy_decision_point']!r} is not {origin!r}"
    return None


def test_every_certification_case_the_server_offers_passes(app, scim, api, capsys):
    _fixture(scim, api)
    cases = json.loads(CASES.read_text())["cases"]
    tally: Counter = Counter()
    failures = []
    with serving(app) as origin, httpx.Client(base_url=origin, timeout=10,
                                              headers={"Authorization": f"Bearer {api.key}"}) as http:
        for case in cases:
            level = case["level"]
            if level.startswith("search"):
                tally[(level, "not run: search is not served yet")] += 1
                continue
            problem = _run(case, http, origin)
            tally[(level, "failed" if problem else "passed")] += 1
            if problem:
                failures.append(f"{case['id']} {case['title']}: {problem}")
    with capsys.disabled():
        print("\nAuthZEN 1.0 certification cases, by level:")
        for (level, outcome), n in sorted(tally.items()):
            print(f"  {level:18s} {outcome:40s} {n}")
    assert failures == []
    ran = sum(n for (level, outcome), n in tally.items() if outcome in ("passed", "failed"))
    assert ran == sum(1 for c in cases if not c["level"].startswith("search")) == 36
