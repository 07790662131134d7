"""check_http's tenant: a realistic policy generated from a seed, loaded through the HTTP APIs
(/v1 and SCIM), and what every check against it must answer; the checks that verify a server."""
from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

import httpx
from _scim import BULK_SCHEMA, GROUP_SCHEMA

TYPES = ["doc", "folder", "project", "report", "invoice", "ticket", "dashboard", "dataset", "repo", "contract"]
ACTIONS = ["view", "edit", "delete", "share", "comment", "approve", "export", "archive", "create", "admin"]

class Tenant:
    """The generated policy, and what every check against it must answer."""

    def __init__(self, rng: random.Random, n_users: int, n_roles: int, perms_per_role: int, n_groups: int):
        self.perms = [f"{t}:{a}" for t in TYPES for a in ACTIONS]
        self.roles = {f"role-{i:02d}": sorted(rng.sample(self.perms, perms_per_role)) for i in range(n_roles)}
        role_keys = list(self.roles)
        self.users = [f"user{i:04d}@bench.example" for i in range(n_users)]
        # 30% of users get one or two direct (app-managed) roles.
        self.direct = {u: (rng.sample(role_keys, rng.choice((1, 1, 2))) if rng.random() < 0.3 else [])
                       for u in self.users}
        # Leaf groups hold users (each user in 1 or 2 of them, 5% in none); the last two groups
        # each nest four leaf groups (members reach their mappings transitively).
        n_leaf = max(1, n_groups - 2)
        self.groups = [f"bench-group-{j:02d}" for j in range(n_groups)]
        self.members: dict[str, list[str]] = {g: [] for g in self.groups}
        for u in self.users:
            if rng.random() < 0.05:
                continue
            for g in rng.sample(self.groups[:n_leaf], rng.choice((1, 2))):
                self.members[g].append(u)
        self.nested = {g: rng.sample(self.groups[:n_leaf], min(4, n_leaf)) for g in self.groups[n_leaf:]}
        self.mappings = {g: rng.sample(role_keys, 1 if g in self.nested else rng.choice((1, 2)))
                         for g in self.groups}
        self.ids: dict[str, str] = {}          # userName -> id (from the server)
        self.group_ids: dict[str, str] = {}
        self.effective = {u: self._effective(u) for u in self.users}

    def _effective(self, u: str) -> set[str]:
        groups = {g for g, m in self.members.items() if u in m}
        groups |= {parent for parent, kids in self.nested.items() if groups & set(kids)}
        roles = set(self.direct[u]) | {r for g in groups for r in self.mappings[g]}
        return {p for r in roles for p in self.roles[r]}

    def check_bodies(self, rng: random.Random, n: int) -> list[tuple[dict, bool]]:
        """n checks, half allowed and half denied; 30% name the user by id, 2% an unknown user."""
        want = {True: n // 2, False: n - n // 2}
        out = []
        while want[True] or want[False]:
            if rng.random() < 0.02 and want[False]:
                body = {"user": f"nobody{rng.randrange(10**6)}@bench.example", "action": rng.choice(ACTIONS),
                        "resource": f"{rng.choice(TYPES)}:{rng.randrange(1, 100_000)}"}
                out.append((body, False))
                want[False] -= 1
                continue
            u = rng.choice(self.users)
            t, a = rng.choice(TYPES), rng.choice(ACTIONS)
            allowed = f"{t}:{a}" in self.effective[u]
            if not want[allowed]:
                continue
            want[allowed] -= 1
            ref = self.ids[u] if rng.random() < 0.3 else u
            out.append(({"user": ref, "action": a, "resource": f"{t}:{rng.randrange(1, 100_000)}"}, allowed))
        rng.shuffle(out)
        return out


def load_tenant(url: str, api_key: str, scim_token: str, tenant: Tenant, users_per_request: int = 0) -> dict:
    """Roles, users (with direct roles), SCIM groups and group mappings, through the HTTP APIs; the
    users in one /v1/users/bulk request, or in requests of `users_per_request`."""
    t0 = time.perf_counter()
    api = httpx.Client(base_url=f"{url}/v1", headers={"Authorization": f"Bearer {api_key}"}, timeout=120)
    scim = httpx.Client(base_url=f"{url}/scim/v2", timeout=120,
                        headers={"Authorization": f"Bearer {scim_token}", "Content-Type": "application/scim+json"})
    try:
        for key, perms in tenant.roles.items():
            r = api.post("/roles", json={"key": key, "permissions": perms})
            if r.status_code != 201:
                raise RuntimeError(f"POST /v1/roles {key}: {r.status_code} {r.text[:300]}")
        users = [{"key": u, "userName": u, "displayName": u.split("@")[0], "roles": tenant.direct[u]}
                 for u in tenant.users]
        step = users_per_request or len(users)
        for i in range(0, len(users), step):
            batch = users[i:i + step]
            r = api.post("/users/bulk", json={"users": batch})
            body = r.json() if r.status_code == 200 else {}
            if r.status_code != 200 or body.get("failed") != 0 or body.get("succeeded") != len(batch):
                raise RuntimeError(f"POST /v1/users/bulk: {r.status_code} {r.text[:300]}")
            for res in body["results"]:
                tenant.ids[res["user"]["userName"]] = res["user"]["id"]
        ops = []
        for j, g in enumerate(tenant.groups):
            members = [{"value": tenant.ids[u]} for u in tenant.members[g]]
            members += [{"value": f"bulkId:g{tenant.groups.index(k)}"} for k in tenant.nested.get(g, [])]
            ops.append({"method": "POST", "path": "/Groups", "bulkId": f"g{j}",
                        "data": {"schemas": [GROUP_SCHEMA], "displayName": g, "members": members}})
        r = scim.post("/Bulk", json={"schemas": [BULK_SCHEMA], "failOnErrors": 1, "Operations": ops})
        if r.status_code != 200:
            raise RuntimeError(f"SCIM /Bulk: {r.status_code} {r.text[:300]}")
        for op in r.json()["Operations"]:
            if str(op.get("status")) != "201":
                raise RuntimeError(f"SCIM /Bulk operation failed: {op}")
            tenant.group_ids[tenant.groups[int(op["bulkId"][1:])]] = op["location"].rstrip("/").rsplit("/", 1)[1]
        n_map = 0
        for g, roles in tenant.mappings.items():
            for role in roles:
                r = api.post("/group-mappings", json={"group": tenant.group_ids[g], "role": role})
                if r.status_code != 201:
                    raise RuntimeError(f"POST /v1/group-mappings: {r.status_code} {r.text[:300]}")
                n_map += 1
        # The server's own view of a few users must be the model's.
        for u in tenant.users[:25]:
            r = api.get(f"/users/{tenant.ids[u]}/permissions")
            if r.status_code != 200 or set(r.json()["permissions"]) != tenant.effective[u]:
                raise RuntimeError(f"GET /v1/users/{u}/permissions differs from the model: {r.text[:300]}")
    finally:
        api.close()
        scim.close()
    return {"users": len(tenant.users), "roles": len(tenant.roles),
            "permissions_per_role": len(next(iter(tenant.roles.values()))),
            "permission_universe": len(tenant.perms), "groups": len(tenant.groups),
            "nested_groups": len(tenant.nested),
            "group_memberships": sum(len(m) for m in tenant.members.values()),
            "users_with_direct_roles": sum(1 for v in tenant.direct.values() if v),
            "direct_assignments": sum(len(v) for v in tenant.direct.values()), "group_mappings": n_map,
            "users_without_any_permission": sum(1 for v in tenant.effective.values() if not v),
            "load_seconds": round(time.perf_counter() - t0, 1)}


def verify_ours(url: str, api_key: str, known: list[tuple[dict, bool]]) -> dict:
    """Known allowed and denied checks, the answer's shape, and that a bad key is refused."""
    wrong = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as c:
        for body, want in known:
            r = c.post("/v1/check", json=body)
            j = r.json() if r.status_code == 200 else {}
            if r.status_code != 200 or j.get("allowed") is not want or not isinstance(j.get("decision_id"), str) \
                    or not isinstance(j.get("revision"), int):
                wrong.append({"body": body, "want": want, "got": f"{r.status_code} {r.text[:200]}"})
        bad = c.post("/v1/check", json=known[0][0], headers={"Authorization": "Bearer not-a-key"}).status_code
    n_allowed = sum(1 for _, w in known if w)
    return {"ok": not wrong and bad == 401, "checks": len(known), "allowed": n_allowed,
            "denied": len(known) - n_allowed, "wrong": wrong[:5], "bad_key_status": bad}


def verify_bare(url: str, body: dict) -> dict:
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.post("/v1/check", json=body)
        bad = c.post("/v1/check", content=b"not json", headers={"Content-Type": "application/json"}).status_code
    want = {"allowed": True, "decision_id": "x", "revision": 1}
    ok = r.status_code == 200 and r.json() == want and bad == 400
    return {"ok": ok, "answer": f"{r.status_code} {r.text[:100]}", "non_json_status": bad}


def verify_bulk(url: str, api_key: str, batch: list[tuple[dict, bool]]) -> dict:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60) as c:
        r = c.post("/v1/check/bulk", json={"checks": [b for b, _ in batch]})
    if r.status_code != 200:
        return {"ok": False, "error": f"{r.status_code} {r.text[:300]}"}
    results = r.json().get("results", [])
    wrong = sum(1 for (b, w), got in zip(batch, results, strict=False) if got.get("allowed") is not w)
    wrong += abs(len(results) - len(batch))
    return {"ok": wrong == 0, "checks": len(batch), "allowed": sum(1 for _, w in batch if w), "wrong": wrong}


def count_decisions(db_path: Path) -> int:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]


