"""The FastAPI dependency: a small app whose routes depend on a decision from the live server."""
# No `from __future__ import annotations`: FastAPI reads the routes' Annotated dependencies, which
# name local variables, from the live annotations.
import asyncio
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from scim_authz_client import AsyncClient, CheckResult
from scim_authz_client.fastapi import require

from tests.api._api_helpers import scim_user


@pytest.fixture
def people(scim, api, roles):
    """ann has editor tenant-wide, bob has viewer on document:7 only."""
    for name in ("ann", "bob"):
        scim_user(scim, f"{name}@example.com")
    for user, role, resource in (("ann@example.com", "editor", None), ("bob@example.com", "viewer", "document:7")):
        r = api.post("/role-assignments", {"user": user, "role": role, **({"resource": resource} if resource else {})})
        assert r.status_code == 201, r.get_json()


def by_header(request: Request) -> str | None:
    """A user loader naming the end user by an X-User header (the app's own session, say)."""
    return request.headers.get("x-user")


def docs_api(client, lifespan=None, **options) -> tuple[FastAPI, list]:
    """An app with protected routes; `ran` records each route that ran. `client` is an AsyncClient
    or a function of the request returning one."""
    ran: list = []
    can_edit = require(client, "edit", resource=lambda r: f"document:{r.path_params['doc_id']}", **options)

    async def report_of(request: Request) -> dict:  # resources may come from a coroutine too
        return {"type": "document", "id": request.path_params["doc_id"]}

    app = FastAPI(lifespan=lifespan)

    @app.post("/documents/{doc_id}")
    async def edit(doc_id: str, request: Request, decision: Annotated[CheckResult, Depends(can_edit)]):
        ran.append(("edit", doc_id))
        assert decision.allowed and request.state.authz_decision is decision
        return {"doc": doc_id, "decision_id": decision.decision_id}

    @app.get("/documents/{doc_id}", dependencies=[Depends(require(client, "view", resource=report_of, **options))])
    def view(doc_id: str):
        ran.append(("view", doc_id))
        return {"doc": doc_id}

    return app, ran


def test_allowed_denied_and_no_user(origin, api, people, async_wire):
    """The AsyncClient made in the app's lifespan, on the app's own event loop."""

    @asynccontextmanager
    async def lifespan(app):
        async with AsyncClient(origin, api.key, transport=async_wire) as client:
            app.state.authz = client
            yield

    app, ran = docs_api(lambda r: r.app.state.authz, lifespan, user=by_header)
    with TestClient(app) as web:
        r = web.post("/documents/42", headers={"X-User": "ann@example.com"})
        assert r.status_code == 200, r.json()
        assert r.json()["doc"] == "42" and r.json()["decision_id"] and ran == [("edit", "42")]
        assert async_wire.bodies("/v1/check")[-1] == {"user": "ann@example.com", "action": "edit",
                                                      "resource": "document:42"}

        r = web.post("/documents/7", headers={"X-User": "bob@example.com"})
        assert r.status_code == 403
        detail = r.json()["detail"]
        assert detail.pop("decision_id")
        assert detail == {"status": 403, "code": "forbidden", "message": "not allowed to edit document:7"}
        assert ran == [("edit", "42")]  # the route did not run

        assert web.get("/documents/7", headers={"X-User": "bob@example.com"}).json() == {"doc": "7"}
        assert async_wire.bodies("/v1/check")[-1]["resource"] == {"type": "document", "id": "7"}
        assert web.get("/documents/8", headers={"X-User": "bob@example.com"}).status_code == 403

        r = web.post("/documents/42")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["detail"]["code"] == "unauthenticated"
        assert ran == [("edit", "42"), ("view", "7")]
        # one check per protected request (none without a user), and nothing else
        assert len(async_wire.requests) == len(async_wire.bodies("/v1/check")) == 4


def test_default_loader_hands_the_bearer_jwt_over(origin, api, roles, idp, async_wire):
    """An AsyncClient passed as it is, the app driven over httpx's ASGI transport in one event loop."""
    async def scenario():
        async with AsyncClient(origin, api.key, transport=async_wire) as client:
            synced = await client.sync_user("idp|ann", userName="ann@example.com", roles=["editor"])
            assert synced.created
            app, ran = docs_api(client)
            ann = idp("idp|ann", "ann@example.com")
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as web:
                r = await web.post("/documents/42", headers={"Authorization": f"Bearer {ann}"})
                assert r.status_code == 200, r.json()
                assert async_wire.bodies("/v1/check")[-1]["user"] == {"jwt": ann}
                zed = idp("idp|zed", "zed@example.com")  # valid, created on first sight, no role here
                assert (await web.post("/documents/42", headers={"Authorization": f"Bearer {zed}"})).status_code == 403
                r = await web.post("/documents/42", headers={"Authorization": f"Bearer {ann}x"})
                assert r.status_code == 401 and r.json()["detail"]["code"] == "invalid_user_token"
                assert (await web.post("/documents/42")).status_code == 401
            assert ran == [("edit", "42")]
            assert len(async_wire.bodies("/v1/check")) == 3

    asyncio.run(scenario())


def test_fails_closed_as_403_or_503(closed_port):
    async def scenario():
        async with AsyncClient(closed_port, "sk_x", retries=0) as client:
            for status, code in ((403, "forbidden"), (503, "unavailable")):
                app, ran = docs_api(client, user=by_header, failed_closed_status=status)
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as web:
                    r = await web.post("/documents/1", headers={"X-User": "ann"})
                    assert r.status_code == status and r.json()["detail"]["code"] == code and ran == []

    asyncio.run(scenario())
    with pytest.raises(ValueError):
        require(None, "edit", "document:1", failed_closed_status=500)
