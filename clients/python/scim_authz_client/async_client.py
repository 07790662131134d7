"""AsyncClient: the same methods as Client, awaited, over one httpx.AsyncClient per instance.

It runs the very steps Client runs (protocol.py); only sending and sleeping differ.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from scim_authz_client.authzen import Evaluation
from scim_authz_client.cache import DecisionCache, cache_key, scope_of
from scim_authz_client.client import base_url_of, headers_for, read_body
from scim_authz_client.errors import ScimAuthzError
from scim_authz_client.protocol import REVISION_HEADER, Call, Core, Steps
from scim_authz_client.results import (
    Assignment,
    BulkSyncResult,
    CheckResult,
    Permissions,
    SyncResult,
    WriteResult,
)
from scim_authz_client.retry import RetryPolicy, unavailable

log = logging.getLogger("scim_authz_client")


class AsyncClient:
    """The asyncio twin of Client: same arguments, same methods (coroutines), same errors.
    Use one per event loop; close it with `await client.aclose()` or `async with`."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 5.0, retries: int = 2,
                 fail_closed: bool = True, cache: DecisionCache | None = None,
                 transport: httpx.AsyncBaseTransport | None = None):
        if cache is not None:
            cache.bind(scope_of(base_url_of(base_url), api_key))
        self._core = Core(fail_closed=fail_closed, cache=cache)
        self._retry = RetryPolicy(retries)
        self._http = httpx.AsyncClient(base_url=base_url_of(base_url), headers=headers_for(api_key),
                                       timeout=timeout, transport=transport)

    @property
    def revision(self) -> int | None:
        """The newest revision this client's writes made; later checks and lookups wait for it."""
        return self._core.revision

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    # ---- transport ---------------------------------------------------------------------------

    async def _send(self, call: Call) -> Any:
        attempt = 0
        while True:
            try:
                response = await self._http.request(call.method, call.path, json=call.json, params=call.params)
            except httpx.TransportError as exc:
                if not self._retry.may_retry_error(attempt, call.idempotent, exc):
                    raise unavailable(call.method, call.path, exc, call.idempotent) from exc
                log.info("scim-authz %s %s failed (%s); retrying", call.method, call.path, exc)
            else:
                if not self._retry.may_retry_status(attempt, call.idempotent, response.status_code):
                    body, text = read_body(response)
                    return self._core.receive(call, response.status_code, response.headers.get(REVISION_HEADER),
                                              body, text)
                log.info("scim-authz %s %s answered %s; retrying", call.method, call.path, response.status_code)
            await asyncio.sleep(self._retry.delay(attempt))
            attempt += 1

    async def _run(self, steps: Steps) -> Any:
        try:
            call = next(steps)
            while True:
                try:
                    answer = await self._send(call)
                except ScimAuthzError as err:  # the steps fail closed on some, and re-raise the rest
                    call = steps.throw(err)
                else:
                    call = steps.send(answer)
        except StopIteration as done:
            return done.value

    # ---- checks ------------------------------------------------------------------------------

    async def check(self, user: Any, action: str, resource: Any, *, context: dict | None = None,
                    at_least: int | None = None, explain: bool = False) -> CheckResult:
        """May `user` do `action` on `resource`? See Client.check."""
        cache = self._core.cache
        key = None
        if cache is not None and not explain:
            key = cache_key(user, action, resource, context,
                            at_least if at_least is not None else self._core.revision)
            hit = cache.get(key)
            if hit is not None:
                return hit
        return await self._run(self._core.check(user, action, resource, context, at_least, explain, key))

    async def check_many(self, items: Iterable[Any]) -> list[CheckResult]:
        return await self._run(self._core.check_many(items))

    async def permissions(self, user: str) -> Permissions:
        return await self._run(self._core.permissions(user))

    async def lookup_resources(self, user: Any, action: str, resource_type: str, *, limit: int | None = None,
                               context: dict | None = None) -> list[str]:
        return await self._run(self._core.lookup_resources(user, action, resource_type, context, limit))

    async def lookup_subjects(self, action: str, resource: Any, *, limit: int | None = None,
                              context: dict | None = None) -> list[str]:
        return await self._run(self._core.lookup_subjects(action, resource, context, limit))

    # ---- AuthZEN 1.0 --------------------------------------------------------------------------

    async def evaluate(self, subject: Any, action: Any, resource: Any, *, context: dict | None = None) -> Evaluation:
        """AuthZEN Access Evaluation (scim_authz_client/authzen.py: shorthands for the entities)."""
        return await self._run(self._core.evaluate(subject, action, resource, context))

    async def evaluations(self, items: Iterable[Mapping], *, subject: Any = None, action: Any = None,
                          resource: Any = None, context: dict | None = None,
                          semantic: str | None = None) -> list[Evaluation]:
        """AuthZEN Access Evaluations: `items` are mappings of the entities each replaces whole."""
        defaults = {"subject": subject, "action": action, "resource": resource, "context": context}
        return await self._run(self._core.evaluations(items, defaults, semantic))

    # ---- writes ------------------------------------------------------------------------------

    async def sync_user(self, key: str, **attributes: Any) -> SyncResult:
        return await self._run(self._core.sync_user(key, attributes))

    async def sync_users(self, users: Iterable[Mapping]) -> BulkSyncResult:
        return await self._run(self._core.sync_users(users))

    async def assign_role(self, user: str, role: str, resource: str | None = None) -> Assignment:
        return await self._run(self._core.assign_role(user, role, resource))

    async def unassign_role(self, assignment_id: int | Assignment) -> int | None:
        return await self._run(self._core.unassign_role(assignment_id))

    async def put_resource(self, resource_type: str, resource_id: str, attributes: Mapping) -> int | None:
        return await self._run(self._core.put_resource(resource_type, resource_id, attributes))

    async def put_resources(self, items: Iterable[Mapping]) -> WriteResult:
        return await self._run(self._core.put_resources(items))

    async def delete_resource(self, resource_type: str, resource_id: str) -> int | None:
        return await self._run(self._core.delete_resource(resource_type, resource_id))

    async def write_relationships(self, tuples: Iterable[Any]) -> WriteResult:
        return await self._run(self._core.write_relationships(tuples))

    async def delete_relationships(self, tuples: Iterable[Any]) -> WriteResult:
        return await self._run(self._core.delete_relationships(tuples))
