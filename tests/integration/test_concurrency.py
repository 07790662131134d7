"""Concurrent writers over real HTTP: no lost update, every state its own ETag."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import make_tenant
from tests.integration.live import serving


def test_concurrent_member_patches_lose_no_version(live_app):
    _, token = make_tenant(live_app, "race")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    with serving(live_app) as origin, httpx.Client(base_url=f"{origin}/scim/v2", headers=headers, timeout=60) as c:
        users = [c.post("/Users", json={"userName": f"u{i}"}).json()["id"] for i in range(40)]
        gid = c.post("/Groups", json={"displayName": "Race"}).json()["id"]

        def add(uid):
            with httpx.Client(base_url=f"{origin}/scim/v2", headers=headers, timeout=60) as own:
                r = own.patch(f"/Groups/{gid}", json={
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]})
                return r.status_code, r.headers.get("ETag")

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(add, users))
        assert {s for s, _ in results} == {204}
        tags = [t for _, t in results]
        assert len(set(tags)) == len(users), "two states of the group were given the same ETag"
        final = c.get(f"/Groups/{gid}").json()
        assert final["meta"]["version"] == f'W/"{len(users) + 1}"'
        assert len(final["members"]) == len(users)
