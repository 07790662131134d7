"""Client: the blocking client, one httpx.Client (one connection pool) per instance.

The steps of each method are in protocol.py; this module only carries them over HTTP, retrying
what may be retried (retry.py).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from scim_authz_client.authzen import Evaluation
from scim_authz_client.cache import DecisionCache, cache_key, scope_of
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
USER_AGENT = "scim-authz-client/0.1.0"


def base_url_of(base_url: str) -> str:
    """The server's origin (or the path it is mounted under): /v1 is added per call."""
    url = base_url.rstrip("/")
    return url[:-3] if url.endswith("/v1") else url


def headers_for(api_key: str) -> dict:
    return {"Authorization": f"Bearer {api_key}", "Accept": "application/json", "User-Agent": USER_AGENT}


def read_body(response: httpx.Response) -> tuple[Any, str]:
    """The JSON body (None if there is none or it is not JSON) and the text, for error messages."""
    text = response.text
    try:
        return (response.json() if text else None), text
    except ValueError:
        return None, text


class Client:
    """A client of one scim-authz server for one tenant's API key. Thread-safe; reuse one per process.

    `fail_closed`: a check the server cannot answer (unreachable, timed out, 5xx after retries) is a
    denial with the reason in `explanation`, logged; with False it raises ServerUnavailable/ServerError.
    `cache`: a DecisionCache, or None to ask the server every time.
    """

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 5.0, retries: int = 2,
                 fail_closed: bool = True, cache: DecisionCache | None = None,
                 transport: httpx.BaseTransport | None = None):
        if cache is not None:
            cache.bind(scope_of(base_url_of(base_url), api_key))
        self._core = Core(fail_closed=fail_closed, cache=cache)
        self._retry = RetryPolicy(retries)
        self._http = httpx.Client(base_url=base_url_of(base_url), headers=headers_for(api_key),
                                  timeout=timeout, transport=transport)

    @property
    def revision(self) -> int | None:
        """The newest revision this client's writes made; later checks and lookups wait for it."""
        return self._core.revision

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- transport ---------------------------------------------------------------------------

    def _send(self, call: Call) -> Any:
        attempt = 0
        while True:
            try:
                response = self._http.request(call.method, call.path, json=call.json, params=call.params)
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
            time.sleep(self._retry.delay(attempt))
            attempt += 1

    def _run(self, steps: Steps) -> Any:
        """Drive a protocol generator: send each call it yields, give it the answer or the error."""
        try:
            call = next(steps)
            while True:
                try:
                    answer = self._send(call)
                except ScimAuthzError as err:  # the steps fail closed on some, and re-raise the rest
                    call = steps.throw(err)
                else:
                    call = steps.send(answer)
        except StopIteration as done:
            return done.value

    # ---- checks ------------------------------------------------------------------------------

    def check(self, user: Any, action: str, resource: Any, *, context: dict | None = None,
              at_least: int | None = None, explain: bool = False) -> CheckResult:
        """May `user` do `action` on `resource` ("type:id" or {"type", "id", "attributes"})?"""
        cache = self._core.cache
        key = None
        if cache is not None and not explain:
            key = cache_key(user, action, resource, context,
                            at_least if at_least is not None else self._core.revision)
            hit = cache.get(key)
            if hit is not None:
                return hit
        return self._run(self._core.check(user, action, resource, context, at_least, explain, key))

    def check_many(self, items: Iterable[Any]) -> list[CheckResult]:
        """Many checks in one request, answered in order. Items are (user, action, resource[, context])
        tuples or {user, action, resource, context?, at_least?} mappings."""
        return self._run(self._core.check_many(items))

    def permissions(self, user: str) -> Permissions:
        """The user's effective roles with provenance, and the permissions they give."""
        return self._run(self._core.permissions(user))

    def lookup_resources(self, user: Any, action: str, resource_type: str, *, limit: int | None = None,
                         context: dict | None = None) -> list[str]:
        """Every id of `resource_type` the user may `action`, sorted; `limit` is the page size, and
        every page is fetched."""
        return self._run(self._core.lookup_resources(user, action, resource_type, context, limit))

    def lookup_subjects(self, action: str, resource: Any, *, limit: int | None = None,
                        context: dict | None = None) -> list[str]:
        """The ids of every active user who may `action` on `resource`; `limit` is the page size."""
        return self._run(self._core.lookup_subjects(action, resource, context, limit))

    # ---- AuthZEN 1.0 --------------------------------------------------------------------------

    def evaluate(self, subject: Any, action: Any, resource: Any, *, context: dict | None = None) -> Evaluation:
        """AuthZEN Access Evaluation (scim_authz_client/authzen.py: shorthands for the entities)."""
        return self._run(self._core.evaluate(subject, action, resource, context))

    def evaluations(self, items: Iterable[Mapping], *, subject: Any = None, action: Any = None,
                          resource: Any = None, context: dict | None = None,
                          semantic: str | None = None) -> list[Evaluation]:
        """AuthZEN Access Evaluations: `items` are mappings of the entities each replaces whole."""
        defaults = {"subject": subject, "action": action, "resource": resource, "context": context}
        return self._run(self._core.evaluations(items, defaults, semantic))

    # ---- writes ------------------------------------------------------------------------------

    def sync_user(self, key: str, **attributes: Any) -> SyncResult:
        """Create or update a user at the handoff point (userName, email, roles, attributes, ...)."""
        return self._run(self._core.sync_user(key, attributes))

    def sync_users(self, users: Iterable[Mapping]) -> BulkSyncResult:
        """Sync many users (each a mapping with `key`); each succeeds or fails alone."""
        return self._run(self._core.sync_users(users))

    def assign_role(self, user: str, role: str, resource: str | None = None) -> Assignment:
        """Assign an app-managed role, tenant-wide or on one "type:id"; idempotent on the server."""
        return self._run(self._core.assign_role(user, role, resource))

    def unassign_role(self, assignment_id: int | Assignment) -> int | None:
        """Remove an assignment; the revision after it."""
        return self._run(self._core.unassign_role(assignment_id))

    def put_resource(self, resource_type: str, resource_id: str, attributes: Mapping) -> int | None:
        """Hold a resource's attributes on the server (conditions read them as resource.*); the revision."""
        return self._run(self._core.put_resource(resource_type, resource_id, attributes))

    def put_resources(self, items: Iterable[Mapping]) -> WriteResult:
        """Hold many resources' attributes ({type, id, attributes} each), all or nothing."""
        return self._run(self._core.put_resources(items))

    def delete_resource(self, resource_type: str, resource_id: str) -> int | None:
        """Forget a resource's held attributes; the revision after it."""
        return self._run(self._core.delete_resource(resource_type, resource_id))

    def write_relationships(self, tuples: Iterable[Any]) -> WriteResult:
        """Write relationship tuples, all or nothing: {resource, relation, subject} or 3-tuples."""
        return self._run(self._core.write_relationships(tuples))

    def delete_relationships(self, tuples: Iterable[Any]) -> WriteResult:
        """Delete relationship tuples, all or nothing."""
        return self._run(self._core.delete_relationships(tuples))
