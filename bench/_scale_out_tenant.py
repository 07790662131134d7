"""scale_out's tenant: check_http's generated policy (`_http_tenant.Tenant`), loaded as check_http
loads it (roles, users with direct roles, SCIM groups, group mappings, through the HTTP APIs) except
that users go in batches of USERS_PER_REQUEST: one request of 1,000 users on PostgreSQL can run
past the request deadline on a busy machine."""
from __future__ import annotations

import time

import httpx
from _http_tenant import Tenant
from _scim import BULK_SCHEMA, GROUP_SCHEMA

USERS_PER_REQUEST = 200


def _ok(r: httpx.Response, status: int, what: str) -> dict:
    if r.status_code != status:
        raise RuntimeError(f"{what}: {r.status_code} {r.text[:300]}")
    return r.json()


def load_tenant(url: str, api_key: str, scim_token: str, tenant: Tenant) -> dict:
    """Load `tenant` into the server at `url`; check a few users' permissions against the model."""
    t0 = time.perf_counter()
    api = httpx.Client(base_url=f"{url}/v1", headers={"Authorization": f"Bearer {api_key}"}, timeout=120)
    scim = httpx.Client(base_url=f"{url}/scim/v2", timeout=120,
                        headers={"Authorization": f"Bearer {scim_token}", "Content-Type": "application/scim+json"})
    try:
        for key, perms in tenant.roles.items():
            _ok(api.post("/roles", json={"key": key, "permissions": perms}), 201, f"POST /v1/roles {key}")
        users = [{"key": u, "userName": u, "displayName": u.split("@")[0], "roles": tenant.direct[u]}
                 for u in tenant.users]
        for i in range(0, len(users), USERS_PER_REQUEST):
            batch = users[i:i + USERS_PER_REQUEST]
            body = _ok(api.post("/users/bulk", json={"users": batch}), 200, "POST /v1/users/bulk")
            if body.get("failed") != 0 or body.get("succeeded") != len(batch):
                raise RuntimeError(f"POST /v1/users/bulk: {str(body)[:300]}")
            for res in body["results"]:
                tenant.ids[res["user"]["userName"]] = res["user"]["id"]
        ops = []
        for j, g in enumerate(tenant.groups):
            members = [{"value": tenant.ids[u]} for u in tenant.members[g]]
            members += [{"value": f"bulkId:g{tenant.groups.index(k)}"} for k in tenant.nested.get(g, [])]
            ops.append({"method": "POST", "path": "/Groups", "bulkId": f"g{j}",
                        "data": {"schemas": [GROUP_SCHEMA], "displayName": g, "members": members}})
        body = _ok(scim.post("/Bulk", json={"schemas": [BULK_SCHEMA], "failOnErrors": 1, "Operations": ops}), 200,
                   "SCIM /Bulk")
        for op in body["Operations"]:
            if str(op.get("status")) != "201":
                raise RuntimeError(f"SCIM /Bulk operation failed: {op}")
            tenant.group_ids[tenant.groups[int(op["bulkId"][1:])]] = op["location"].rstrip("/").rsplit("/", 1)[1]
        n_map = 0
        for g, roles in tenant.mappings.items():
            for role in roles:
                _ok(api.post("/group-mappings", json={"group": tenant.group_ids[g], "role": role}), 201,
                    "POST /v1/group-mappings")
                n_map += 1
        for u in tenant.users[:25]:
            got = _ok(api.get(f"/users/{tenant.ids[u]}/permissions"), 200, f"GET /v1/users/{u}/permissions")
            if set(got["permissions"]) != tenant.effective[u]:
                raise RuntimeError(f"GET /v1/users/{u}/permissions differs from the model: {str(got)[:300]}")
    finally:
        api.close()
        scim.close()
    return {"users": len(tenant.users), "roles": len(tenant.roles), "groups": len(tenant.groups),
            "nested_groups": len(tenant.nested), "group_memberships": sum(len(m) for m in tenant.members.values()),
            "direct_assignments": sum(len(v) for v in tenant.direct.values()), "group_mappings": n_map,
            "users_per_bulk_request": USERS_PER_REQUEST, "load_seconds": round(time.perf_counter() - t0, 1)}
