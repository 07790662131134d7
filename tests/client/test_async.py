"""AsyncClient: the same steps as Client over httpx.AsyncClient (each test runs its own event loop)."""
from __future__ import annotations

import asyncio

import pytest
from scim_authz_client import AsyncClient, AuthenticationError, DecisionCache, ServerUnavailable

SCHEMA = """
entity document {
  relation owner @user
  permission view = owner
}
"""


def test_checks_writes_and_reads(origin, api, roles):
    assert api.post("/schema", {"source": SCHEMA}).status_code == 201

    async def scenario():
        async with AsyncClient(origin, api.key, cache=DecisionCache()) as c:
            made = await c.sync_user("u1", userName="ann@example.com")
            await c.sync_users([{"key": "u2", "userName": "bob@example.com"}])
            assert made.created and c.revision is not None
            assert not (await c.check("ann@example.com", "edit", "document:1")).allowed
            a = await c.assign_role("ann@example.com", "editor")
            assert c.revision == a.revision
            assert (await c.check("ann@example.com", "edit", "document:1")).allowed  # read-your-writes
            assert [r.allowed for r in await c.check_many([("ann@example.com", "view", "document:1"),
                                                           ("bob@example.com", "view", "document:1")])] == [True, False]
            assert (await c.permissions("ann@example.com")).permissions == ["document:edit", "document:view"]
            await c.write_relationships([("document:b1", "owner", "user:" + (await c.sync_user("u2")).user["id"])])
            assert await c.lookup_resources("bob@example.com", "view", "document", limit=1) == ["b1"]
            assert len(await c.lookup_subjects("view", "document:b1")) == 2  # bob, and ann by her role
            assert (await c.delete_relationships([("document:b1", "owner", "user:nobody")])).count == 0
            assert await c.unassign_role(a) == c.revision
            assert not (await c.check("ann@example.com", "edit", "document:1")).allowed
            assert await c.put_resource("document", "d9", {"status": "draft"}) == c.revision
            assert (await c.put_resources([{"type": "document", "id": "d9", "attributes": {}}])).count == 1
            assert await c.delete_resource("document", "d9") == c.revision

    asyncio.run(scenario())


def test_errors_and_failing_closed(origin, closed_port):
    async def scenario():
        async with AsyncClient(origin, "sk_not_a_key") as bad:
            with pytest.raises(AuthenticationError):
                await bad.check("ann", "view", "document:1")
        async with AsyncClient(closed_port, "sk_x") as gone:
            d = await gone.check("ann", "view", "document:1")
            assert not d.allowed and d.failed_closed and d.explanation.startswith("failed closed")
        async with AsyncClient(closed_port, "sk_x", fail_closed=False, retries=0) as gone:
            with pytest.raises(ServerUnavailable):
                await gone.check("ann", "view", "document:1")

    asyncio.run(scenario())
