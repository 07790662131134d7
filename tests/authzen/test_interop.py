"""The OpenID AuthZEN interop scenarios that ask for decisions (Todo, draft 02 shape: 40 evaluations
and 3 batches; API gateway: 25), run against a live server whose policy is written the way a tenant
would write it: the five users provisioned over SCIM (userName their email, externalId the `sub`
the scenario names them by), a group per IdP role, and roles mapped to those groups over /v1, with a
condition for ownership and resource-scoped mappings for the gateway's routes.

Read in place from the interop folder (see _authzen_helpers.INTEROP); skipped without it.
"""
from __future__ import annotations

import json

import httpx
import pytest

from tests.api._api_helpers import scim_group
from tests.authzen._authzen_helpers import INTEROP
from tests.integration.live import serving

TODO = INTEROP / "todo" / "decisions-authorization-api-1_0-02.json"
GATEWAY = INTEROP / "api-gateway" / "decisions.json"
USERS = INTEROP / "todo" / "pip-users.json"
pytestmark = pytest.mark.skipif(not (TODO.is_file() and GATEWAY.is_file() and USERS.is_file()),
                                reason=f"AuthZEN interop data not found at {INTEROP}")

# role -> (permissions, condition), and the IdP groups it is mapped to (tenant-wide, or on one resource)
TODO_ROLES = {
    "todo_reader": (["user:can_read_user", "todo:can_read_todos"], None),
    "todo_creator": (["todo:can_create_todo"], None),
    "todo_owner": (["todo:can_update_todo", "todo:can_delete_todo"], "resource.ownerID == user.userName"),
    "todo_updater": (["todo:can_update_todo"], None),
    "todo_deleter": (["todo:can_delete_todo"], None),
}
TODO_MAPPINGS = [("todo_reader", g, None) for g in ("viewer", "editor", "admin", "evil_genius")] + [
    ("todo_creator", "admin", None), ("todo_creator", "editor", None), ("todo_owner", "editor", None),
    ("todo_updater", "evil_genius", None), ("todo_deleter", "admin", None)]
GATEWAY_ROLES = {"gw_get": (["route:GET"], None), "gw_post": (["route:POST"], None),
                 "gw_put": (["route:PUT"], None), "gw_delete": (["route:DELETE"], None)}
GATEWAY_MAPPINGS = [("gw_get", g, None) for g in ("viewer", "editor", "admin", "evil_genius")] + [
    ("gw_post", "admin", "route:/todos"), ("gw_post", "editor", "route:/todos"),
    ("gw_put", "editor", "route:/todos/{todoId}"), ("gw_put", "evil_genius", "route:/todos/{todoId}"),
    ("gw_delete", "admin", "route:/todos/{todoId}"), ("gw_delete", "editor", "route:/todos/{todoId}")]


def _directory(scim) -> None:
    """The scenario's users as an IdP would push them, and a group per role."""
    people = json.loads(USERS.read_text())
    members: dict[str, list[str]] = {}
    for sub, p in people.items():
        r = scim.post("/Users", {"userName": p["email"], "externalId": sub, "displayName": p["name"]})
        assert r.status_code == 201, r.get_data(as_text=True)
        for role in p["roles"]:
            members.setdefault(role, []).append(r.get_json()["id"])
    for role, ids in members.items():
        scim_group(scim, role, ids)


def _policy(api, roles: dict, mappings: list) -> None:
    for key, (permissions, condition) in roles.items():
        body = {"key": key, "permissions": permissions, **({"condition": condition} if condition else {})}
        assert api.post("/roles", body).status_code == 201
    for role, group, resource in mappings:
        body = {"group": group, "role": role, **({"resource": resource} if resource else {})}
        r = api.post("/group-mappings", body)
        assert r.status_code == 201, r.get_data(as_text=True)


def _run(app, api, cases: list[dict], batches: list[dict]) -> tuple[int, list[str]]:
    """Decisions right, and what went wrong."""
    failures, right = [], 0
    with serving(app) as origin, httpx.Client(base_url=origin, timeout=10,
                                              headers={"Authorization": f"Bearer {api.key}"}) as http:
        for case in cases:
            r = http.post("/access/v1/evaluation", json=case["request"])
            if r.status_code == 200 and r.json() == {"decision": case["expected"]}:
                right += 1
            else:
                failures.append(f"{json.dumps(case['request'])}: {r.status_code} {r.text[:200]}")
        for batch in batches:
            r = http.post("/access/v1/evaluations", json=batch["request"])
            got = r.json().get("evaluations") if r.status_code == 200 else None
            if got == batch["expected"]:
                right += len(got)
            else:
                failures.append(f"{json.dumps(batch['request'])[:300]}: {r.status_code} {r.text[:200]}")
    return right, failures


def test_the_todo_scenario(app, scim, api, capsys):
    _directory(scim)
    _policy(api, TODO_ROLES, TODO_MAPPINGS)
    data = json.loads(TODO.read_text())
    right, failures = _run(app, api, data["evaluation"], data["evaluations"])
    with capsys.disabled():
        print(f"\nAuthZEN interop, Todo (draft 02): {right} of 46 decisions right")
    assert failures == [] and right == 46


def test_the_api_gateway_scenario(app, scim, api, capsys):
    _directory(scim)
    _policy(api, GATEWAY_ROLES, GATEWAY_MAPPINGS)
    right, failures = _run(app, api, json.loads(GATEWAY.read_text())["evaluation"], [])
    with capsys.disabled():
        print(f"\nAuthZEN interop, API gateway: {right} of 25 decisions right")
    assert failures == [] and right == 25
