"""What Client and AsyncClient share, with no IO: the requests each method makes, how answers are
read, the newest revision this client wrote, the decision cache and failing closed.

Each method is a generator that yields the Calls it needs and receives their JSON bodies (or has
the call's error thrown in), and returns the typed result; the two clients only carry the calls
over HTTP, one blocking and one with asyncio. So paging, caching and fail-closed are written once.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from scim_authz_client import authzen
from scim_authz_client.cache import DecisionCache, cache_key
from scim_authz_client.errors import ScimAuthzError, ServerError, ServerUnavailable, error_for
from scim_authz_client.results import (
    Assignment,
    BulkSyncResult,
    CheckResult,
    Permissions,
    SyncResult,
    WriteResult,
    revision_of,
)

log = logging.getLogger("scim_authz_client")
REVISION_HEADER = "X-Authz-Revision"
# Failures that mean "the server could not answer", after which a check fails closed. An error the
# server chose to give (a bad key, a bad request) is raised whatever fail_closed says.
UNREACHABLE = (ServerUnavailable, ServerError)
# syncUser's attributes in Python spelling, for callers who prefer it; the server's own names pass as they are.
_SYNC_NAMES = {"user_name": "userName", "external_id": "externalId", "display_name": "displayName"}

Steps = Generator["Call", Any, Any]


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request. `idempotent`: safe to resend after it may have reached the server.
    `write`: the revision in its answer is one this client made, so later reads wait for it."""

    method: str
    path: str
    json: Any = None
    params: dict | None = None
    idempotent: bool = False
    write: bool = False


def _path(part: Any) -> str:
    return quote(str(part), safe="@:")


def _sync_body(attributes: Mapping) -> dict:
    return {_SYNC_NAMES.get(k, k): v for k, v in attributes.items()}


def _relationship(t: Any) -> dict:
    """A relationship as the API takes it: a {resource, relation, subject} mapping or a 3-tuple."""
    if isinstance(t, Mapping):
        return {"resource": t["resource"], "relation": t["relation"], "subject": t["subject"]}
    resource, relation, subject = t
    return {"resource": resource, "relation": relation, "subject": subject}


class Core:
    """The client's state (the newest revision it wrote, its cache) and the steps of each method."""

    def __init__(self, *, fail_closed: bool, cache: DecisionCache | None):
        self.fail_closed = fail_closed
        self.cache = cache
        self.revision: int | None = None
        self._lock = threading.Lock()

    # ---- answers -----------------------------------------------------------------------------

    def note_revision(self, revision: int | None) -> None:
        """Remember a revision a write made, if it is newer than any known."""
        if revision is None:
            return
        with self._lock:
            if self.revision is None or revision > self.revision:
                self.revision = revision

    def receive(self, call: Call, status: int, header_revision: str | None, body: Any, text: str) -> Any:
        """The body of an answer, noting the revision a write made; a typed error for a failure."""
        if header_revision and header_revision.isdigit():
            self.note_revision(int(header_revision))
        if status >= 400:
            raise error_for(status, body, text)
        if call.write:
            self.note_revision(revision_of(body))
        return body

    def at_least(self, explicit: int | None) -> int | None:
        """The revision a read must see: the caller's, else the newest this client wrote."""
        return explicit if explicit is not None else self.revision

    def _fail(self, what: str, err: ScimAuthzError) -> str:
        """Log why a decision could not be had, and say it in a reason; re-raise unless failing closed."""
        if not self.fail_closed:
            raise err
        reason = f"failed closed: {err}"
        log.warning("scim-authz %s denied without a decision: %s", what, err)
        return reason

    # ---- checks ------------------------------------------------------------------------------

    def check(self, user: Any, action: str, resource: Any, context: dict | None, at_least: int | None,
              explain: bool, key: tuple | None) -> Steps:
        """POST /v1/check; a cache miss (key is None without a cache or when explaining)."""
        body: dict = {"user": user, "action": action, "resource": resource}
        if context:
            body["context"] = context
        rev = self.at_least(at_least)
        if rev is not None:
            body["consistency"] = {"at_least": rev}
        if explain:
            body["explain"] = True
        try:
            answer = yield Call("POST", "/v1/check", body, idempotent=True)
        except UNREACHABLE as err:
            return CheckResult.denied(self._fail(f"check of {action} on {resource}", err))
        result = CheckResult.from_json(answer)
        if key is not None and not result.stale:
            self.cache.put(key, result)
        return result

    def _bulk_item(self, item: Any) -> tuple[dict, tuple | None]:
        if isinstance(item, Mapping):
            check = {k: item[k] for k in ("user", "action", "resource")}
            if item.get("context"):
                check["context"] = item["context"]
            at_least = item.get("at_least", (item.get("consistency") or {}).get("at_least"))
        else:
            user, action, resource, *rest = item
            check, at_least = {"user": user, "action": action, "resource": resource}, None
            if rest and rest[0]:
                check["context"] = rest[0]
        if at_least is not None:
            check["consistency"] = {"at_least": at_least}
        key = None
        if self.cache is not None:
            key = cache_key(check["user"], check["action"], check["resource"], check.get("context"),
                            self.at_least(at_least))
        return check, key

    def check_many(self, items: Iterable[Any]) -> Steps:
        """POST /v1/check/bulk for the checks the cache cannot answer; results in order."""
        prepared = [self._bulk_item(i) for i in items]
        results: list[CheckResult | None] = [None] * len(prepared)
        misses = []
        for n, (_, key) in enumerate(prepared):
            hit = self.cache.get(key) if key is not None else None
            if hit is None:
                misses.append(n)
            else:
                results[n] = hit
        if misses:
            body: dict = {"checks": [prepared[n][0] for n in misses]}
            if self.revision is not None:
                body["consistency"] = {"at_least": self.revision}
            try:
                answer = yield Call("POST", "/v1/check/bulk", body, idempotent=True)
            except UNREACHABLE as err:
                denied = CheckResult.denied(self._fail(f"bulk check of {len(misses)}", err))
                for n in misses:
                    results[n] = denied
                return results
            for n, raw in zip(misses, answer["results"], strict=True):
                results[n] = result = CheckResult.from_json(raw)
                key = prepared[n][1]
                if key is not None and not result.stale:
                    self.cache.put(key, result)
        return results

    def permissions(self, user: str) -> Steps:
        rev = self.revision
        answer = yield Call("GET", f"/v1/users/{_path(user)}/permissions",
                            params={"at_least": rev} if rev is not None else None, idempotent=True)
        return Permissions.from_json(answer)

    def _pages(self, path: str, body: dict, items: str, limit: int | None) -> Steps:
        """Every page of a lookup, following next_cursor until the server says there is no more."""
        if limit is not None:
            body["limit"] = limit
        if self.revision is not None:
            body["consistency"] = {"at_least": self.revision}
        found: list = []
        while True:
            answer = yield Call("POST", path, body, idempotent=True)
            found.extend(answer[items])
            cursor = answer.get("next_cursor")
            if not cursor:
                return found
            body = {**body, "cursor": cursor}

    def lookup_resources(self, user: Any, action: str, resource_type: str, context: dict | None,
                         limit: int | None) -> Steps:
        body: dict = {"user": user, "action": action, "resource_type": resource_type}
        if context:
            body["context"] = context
        return (yield from self._pages("/v1/lookup/resources", body, "resources", limit))

    def lookup_subjects(self, action: str, resource: Any, context: dict | None, limit: int | None) -> Steps:
        body: dict = {"action": action, "resource": resource}
        if context:
            body["context"] = context
        users = yield from self._pages("/v1/lookup/subjects", body, "users", limit)
        return [u["id"] for u in users]

    # ---- AuthZEN 1.0 --------------------------------------------------------------------------

    def evaluate(self, subject: Any, action: Any, resource: Any, context: Mapping | None) -> Steps:
        """POST /access/v1/evaluation; a denial of its own when the server cannot answer (fail closed)."""
        try:
            answer = yield Call("POST", "/access/v1/evaluation", authzen.request(subject, action, resource, context),
                                idempotent=True)
        except UNREACHABLE as err:
            return authzen.Evaluation.denied(self._fail(f"evaluation of {action}", err))
        return authzen.Evaluation.from_json(answer)

    def evaluations(self, items: Iterable[Mapping], defaults: Mapping, semantic: str | None) -> Steps:
        """POST /access/v1/evaluations: one Evaluation per item answered (fewer when short-circuited)."""
        items = list(items)
        try:
            answer = yield Call("POST", "/access/v1/evaluations", authzen.batch(items, defaults, semantic),
                                idempotent=True)
        except UNREACHABLE as err:
            denied = authzen.Evaluation.denied(self._fail(f"{len(items)} evaluations", err))
            return [denied] * (1 if semantic in ("deny_on_first_deny", "permit_on_first_permit") else len(items))
        if "evaluations" not in answer:  # (an empty batch is answered as one evaluation)
            return [authzen.Evaluation.from_json(answer)]
        return [authzen.Evaluation.from_json(e) for e in answer["evaluations"]]

    # ---- writes ------------------------------------------------------------------------------

    def sync_user(self, key: str, attributes: Mapping) -> Steps:
        answer = yield Call("PUT", f"/v1/users/{_path(key)}", _sync_body(attributes), write=True)
        return SyncResult.from_json(answer)

    def sync_users(self, users: Iterable[Mapping]) -> Steps:
        body = {"users": [_sync_body(u) for u in users]}
        return BulkSyncResult.from_json((yield Call("POST", "/v1/users/bulk", body, write=True)))

    def assign_role(self, user: str, role: str, resource: str | None) -> Steps:
        body = {"user": user, "role": role, **({"resource": resource} if resource is not None else {})}
        return Assignment.from_json((yield Call("POST", "/v1/role-assignments", body, write=True)))

    def unassign_role(self, assignment_id: int | Assignment) -> Steps:
        aid = assignment_id.id if isinstance(assignment_id, Assignment) else int(assignment_id)
        answer = yield Call("DELETE", f"/v1/role-assignments/{aid}", write=True)
        return revision_of(answer)

    def put_resource(self, rtype: str, rid: str, attributes: Mapping) -> Steps:
        path = f"/v1/resources/{_path(rtype)}/{quote(str(rid), safe='@:/')}"
        return revision_of((yield Call("PUT", path, {"attributes": dict(attributes)}, write=True)))

    def put_resources(self, items: Iterable[Mapping]) -> Steps:
        body = {"resources": [{"type": i["type"], "id": str(i["id"]), "attributes": dict(i["attributes"])}
                              for i in items]}
        answer = yield Call("POST", "/v1/resources", body, write=True)
        return WriteResult(count=answer.get("created", 0) + answer.get("replaced", 0), revision=revision_of(answer))

    def delete_resource(self, rtype: str, rid: str) -> Steps:
        path = f"/v1/resources/{_path(rtype)}/{quote(str(rid), safe='@:/')}"
        return revision_of((yield Call("DELETE", path, write=True)))

    def write_relationships(self, tuples: Iterable[Any]) -> Steps:
        body = {"relationships": [_relationship(t) for t in tuples]}
        return WriteResult.written((yield Call("POST", "/v1/relationships", body, write=True)))

    def delete_relationships(self, tuples: Iterable[Any]) -> Steps:
        body = {"relationships": [_relationship(t) for t in tuples]}
        return WriteResult.deleted((yield Call("POST", "/v1/relationships/delete", body, write=True)))
