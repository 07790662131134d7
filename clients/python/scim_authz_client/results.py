"""Typed answers of the /v1 API, built from its JSON bodies (docs/api.md in the server's repository).

Frozen, because a DecisionCache hands the same CheckResult to every caller that hits it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One decision. `failed_closed` marks a denial the client made itself because the server could
    not answer; `explanation` then says why (and no decision was logged on the server)."""

    allowed: bool
    decision_id: str | None
    revision: int | None
    stale: bool = False
    explanation: str | None = None
    path: list[str] | None = None
    failed_closed: bool = False

    @classmethod
    def from_json(cls, body: dict) -> CheckResult:
        return cls(allowed=body["allowed"] is True, decision_id=body.get("decision_id"),
                   revision=body.get("revision"), stale=body.get("stale") is True,
                   explanation=body.get("explanation"), path=body.get("path"))

    @classmethod
    def denied(cls, reason: str) -> CheckResult:
        """The answer when the server cannot be asked: no, and why."""
        return cls(allowed=False, decision_id=None, revision=None, explanation=reason, failed_closed=True)


@dataclass(frozen=True, slots=True)
class RoleGrant:
    """One effective role of a user: where it comes from (`idp` through `group`, or `app` from
    `assigned_by` at `assigned_at`), its scope, and the permissions it gives."""

    role: str
    name: str | None
    resource: str | None
    source: str
    permissions: list[str]
    condition: str | None = None
    explanation: str | None = None
    group: dict | None = None
    assigned_by: str | None = None
    assigned_at: str | None = None

    @classmethod
    def from_json(cls, body: dict) -> RoleGrant:
        return cls(role=body["role"], name=body.get("name"), resource=body.get("resource"),
                   source=body.get("source", ""), permissions=list(body.get("permissions") or []),
                   condition=body.get("condition"), explanation=body.get("explanation"),
                   group=body.get("group"), assigned_by=body.get("assigned_by"),
                   assigned_at=body.get("assigned_at"))


@dataclass(frozen=True, slots=True)
class Permissions:
    """A user's effective roles with provenance, and the tenant-wide permissions they give
    (`conditional_permissions` hold only when their role's condition does)."""

    user_id: str
    user_name: str | None
    active: bool
    revision: int | None
    role_mode: str | None
    roles: list[RoleGrant]
    permissions: list[str]
    conditional_permissions: list[str] = field(default_factory=list)
    stale: bool = False

    @classmethod
    def from_json(cls, body: dict) -> Permissions:
        user = body.get("user") or {}
        return cls(user_id=user.get("id", ""), user_name=user.get("userName"), active=user.get("active") is not False,
                   revision=body.get("revision"), role_mode=body.get("role_mode"),
                   roles=[RoleGrant.from_json(r) for r in body.get("roles") or []],
                   permissions=list(body.get("permissions") or []),
                   conditional_permissions=list(body.get("conditional_permissions") or []),
                   stale=body.get("stale") is True)


@dataclass(frozen=True, slots=True)
class SyncResult:
    """syncUser's answer: the user as stored, whether it was created, and the write's revision."""

    user: dict
    created: bool
    revision: int | None

    @classmethod
    def from_json(cls, body: dict) -> SyncResult:
        return cls(user=body.get("user") or {}, created=body.get("created") is True, revision=body.get("revision"))


@dataclass(frozen=True, slots=True)
class BulkSyncItem:
    """One user of a bulk sync: it succeeded (`user`) or failed alone (`error`: status, code, message)."""

    index: int
    key: str | None
    status: int
    user: dict | None = None
    error: dict | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class BulkSyncResult:
    """A bulk sync: one item per user, in order; each succeeds or fails alone."""

    results: list[BulkSyncItem]
    succeeded: int
    failed: int
    revision: int | None

    @classmethod
    def from_json(cls, body: dict) -> BulkSyncResult:
        items = [BulkSyncItem(index=r.get("index", n), key=r.get("key"), status=r.get("status", 0),
                              user=r.get("user"), error=r.get("error"))
                 for n, r in enumerate(body.get("results") or [])]
        return cls(results=items, succeeded=body.get("succeeded", 0), failed=body.get("failed", 0),
                   revision=body.get("revision"))


@dataclass(frozen=True, slots=True)
class Assignment:
    """An app-managed role assignment; `id` is what unassign_role takes."""

    id: int
    user: str
    role: str
    resource: str | None
    revision: int | None
    user_name: str | None = None
    assigned_by: str | None = None
    created: str | None = None

    @classmethod
    def from_json(cls, body: dict) -> Assignment:
        a = body["assignment"]
        return cls(id=a["id"], user=a["user"], role=a["role"], resource=a.get("resource"),
                   revision=body.get("revision"), user_name=a.get("userName"),
                   assigned_by=a.get("assigned_by"), created=a.get("created"))


@dataclass(frozen=True, slots=True)
class WriteResult:
    """A relationship batch: how many tuples it changed (duplicates and absent ones are not
    counted) and the tenant's revision after it."""

    count: int
    revision: int | None

    @classmethod
    def written(cls, body: dict) -> WriteResult:
        return cls(count=body.get("written", 0), revision=body.get("revision"))

    @classmethod
    def deleted(cls, body: dict) -> WriteResult:
        return cls(count=body.get("deleted", 0), revision=body.get("revision"))


def revision_of(body: Any) -> int | None:
    """The revision a write's JSON body reports, if any."""
    rev = body.get("revision") if isinstance(body, dict) else None
    return rev if type(rev) is int else None
