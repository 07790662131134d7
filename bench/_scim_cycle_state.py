"""scim_cycle's final check: every user and group read back from the server (GET /Users and GET
/Groups, paged with startIndex/count) and compared field by field with the state the client's own
model expects after both cycles. One difference per fact that does not match: a resource missing
or unexpected, an attribute with another value, a member missing or unexpected."""
from __future__ import annotations

import time

from _scim_cycle_client import ENTERPRISE, Cycle

PAGE = 100


def read_all(cycle: Cycle, resource: str) -> tuple[list[dict], list[str]]:
    """Every resource of an endpoint, page after page; the resources and the errors met."""
    out, errors, start = [], [], 1
    with cycle.server.client(timeout=60) as c:
        while True:
            r = c.get(f"/{resource}", params={"startIndex": start, "count": PAGE})
            if r.status_code != 200:
                errors.append(f"GET /{resource}?startIndex={start}&count={PAGE} -> {r.status_code}: {r.text[:300]}")
                break
            body = r.json()
            page = body.get("Resources") or []
            out += page
            start += len(page)
            if not page or start > int(body.get("totalResults", 0)):
                break
    return out, errors


def _user_facts(u: dict, name_of_user: dict[str, str]) -> dict:
    ext = u.get(ENTERPRISE) or {}
    manager = (ext.get("manager") or {}).get("value")
    return {"active": u.get("active"), "externalId": u.get("externalId"), "displayName": u.get("displayName"),
            "title": u.get("title"), "familyName": (u.get("name") or {}).get("familyName"),
            "employeeNumber": ext.get("employeeNumber"), "department": ext.get("department"),
            "manager": name_of_user.get(manager, f"<unknown id {manager}>") if manager else None}


def compare(cycle: Cycle) -> dict:
    """Read the server's final state back and compare it with the plan's expected state."""
    t0 = time.perf_counter()
    users, user_errors = read_all(cycle, "Users")
    groups, group_errors = read_all(cycle, "Groups")
    readback_s = time.perf_counter() - t0
    expected = cycle.plan.expected
    name_of_user = {i: n for n, i in cycle.user_ids.items()}
    key_of_group = {i: k for k, i in cycle.group_ids.items()}
    diffs: list[str] = [f"read back: {e}" for e in user_errors + group_errors]

    by_name: dict[str, dict] = {}
    for u in users:
        name = str(u.get("userName", "")).lower()
        if name in by_name:
            diffs.append(f"user {name} read back twice")
        by_name[name] = u
    for name, want in expected["users"].items():
        u = by_name.pop(name.lower(), None)
        if u is None:
            diffs.append(f"user {name}: missing")
            continue
        if u.get("id") != cycle.user_ids.get(name):
            diffs.append(f"user {name}: id {u.get('id')} read back, {cycle.user_ids.get(name)} at create")
        got = _user_facts(u, name_of_user)
        diffs += [f"user {name}: {k} is {got[k]!r}, expected {v!r}" for k, v in want.items() if got[k] != v]
    diffs += [f"user {n}: unexpected" for n in by_name]

    by_id = {g.get("id"): g for g in groups}
    for key, want in expected["groups"].items():
        g = by_id.pop(cycle.group_ids.get(key), None)
        if g is None:
            diffs.append(f"group {key}: missing")
            continue
        for attr in ("displayName", "externalId"):
            if g.get(attr) != want[attr]:
                diffs.append(f"group {key}: {attr} is {g.get(attr)!r}, expected {want[attr]!r}")
        got = set()
        for m in g.get("members") or []:
            v = m.get("value")
            got.add(("User", name_of_user[v]) if v in name_of_user else
                    ("Group", key_of_group[v]) if v in key_of_group else ("?", v))
        diffs += [f"group {key}: member {k} {n} missing" for k, n in sorted(want["members"] - got)]
        diffs += [f"group {key}: member {k} {n} unexpected" for k, n in sorted(got - want["members"], key=str)]
    diffs += [f"group {g.get('displayName')!r} ({i}): unexpected" for i, g in by_id.items()]
    return {"differences": len(diffs), "samples": diffs[:10], "users_read": len(users), "groups_read": len(groups),
            "readback_s": readback_s}
