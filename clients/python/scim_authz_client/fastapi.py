"""FastAPI integration: `require(...)` makes a dependency that checks the request with an AsyncClient.

    authz = AsyncClient("https://authz.example.com", api_key="sk_...")

    @app.get("/documents/{doc_id}")
    async def edit(doc_id: str, decision=Depends(require(authz, "edit",
                   resource=lambda request: f"document:{request.path_params['doc_id']}"))): ...

The end user is whatever the loader returns (by default the request's bearer token, passed through as
{"jwt": token} for the server to verify). No user is HTTPException(401), a denial HTTPException(403)
with the /v1 error fields as `detail`; when allowed the dependency returns the CheckResult (also on
`request.state.authz_decision`). Needs the `fastapi` extra: `pip install "scim-authz-client[fastapi]"`.
"""
from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import HTTPException, Request

from scim_authz_client.async_client import AsyncClient
from scim_authz_client.errors import AuthenticationError, InvalidRequest, ServerError, ServerUnavailable
from scim_authz_client.results import CheckResult

log = logging.getLogger("scim_authz_client")


def bearer_token(request: Request) -> dict | None:
    """The default user loader: `Authorization: Bearer <jwt>` as {"jwt": token} (the handoff), else None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return {"jwt": token} if scheme.lower() == "bearer" and token else None


def require(client: AsyncClient | Callable[[Request], AsyncClient], action: str,
            resource: str | Mapping | Callable[[Request], Any], *,
            user: Callable[[Request], Any] = bearer_token,
            context: Mapping | Callable[[Request], Any] | None = None,
            failed_closed_status: int = 403) -> Callable[[Request], Any]:
    """A dependency allowing the request only if its end user may `action` on `resource`.

    `client`: an AsyncClient, or a function of the request returning one (say, one made in the
    app's lifespan: `lambda r: r.app.state.authz`). `resource` and `context` are values or functions
    of the request (path parameters are `request.path_params`); `user` names the end user (an id,
    a userName or {"jwt": token}, None for nobody). Each may be a coroutine function.
    `failed_closed_status`: 403 (default) or 503 when the check could not be decided.
    """
    if failed_closed_status not in (403, 503):
        raise ValueError("failed_closed_status must be 403 or 503")

    async def check_access(request: Request) -> CheckResult:
        who = await _value(user, request)
        if who is None or who == "":
            raise _error(401, "unauthenticated", "this request names no user")
        what = await _value(resource, request)
        ctx = await _value(context, request)
        authz = client if isinstance(client, AsyncClient) else client(request)
        try:
            decision = await authz.check(who, action, what, context=dict(ctx) if ctx else None)
        except AuthenticationError as err:
            if err.code != "invalid_user_token":
                raise  # the app's own API key was refused: a misconfiguration, not the end user's doing
            raise _error(401, "invalid_user_token", err.message) from err
        except InvalidRequest as err:  # what the request names cannot be asked about (an id with a space...): deny
            log.warning("scim-authz refused to check %s: %s", action, err)
            raise _error(403, "forbidden", f"the check could not be asked: {err.message}") from err
        except (ServerUnavailable, ServerError) as err:  # a client built with fail_closed=False
            log.warning("scim-authz check of %s on %s could not be made: %s", action, what, err)
            raise _failed_closed(failed_closed_status) from err
        if decision.failed_closed:  # the client logged why
            raise _failed_closed(failed_closed_status)
        if not decision.allowed:
            name = f"{what.get('type')}:{what.get('id')}" if isinstance(what, Mapping) else what
            raise _error(403, "forbidden", f"not allowed to {action} {name}", decision_id=decision.decision_id)
        request.state.authz_decision = decision
        return decision

    return check_access


async def _value(source: Any, request: Request) -> Any:
    if not callable(source):
        return source
    value = source(request)
    return await value if inspect.isawaitable(value) else value


def _error(status: int, code: str, message: str, **extra: Any) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status, detail={"status": status, "code": code, "message": message, **extra},
                         headers=headers)


def _failed_closed(status: int) -> HTTPException:
    return _error(status, "forbidden" if status == 403 else "unavailable",
                  "the authorization decision could not be made", decision_id=None)
