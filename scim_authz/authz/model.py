"""Plain data the engine works on: roles, grants with provenance, users, decisions."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

# How a tenant's roles are decided, the one definition every layer uses, with what each means.
ROLE_MODES = {
    "idp": "Only roles mapped from the identity provider's groups count.",
    "app": "Only roles the application assigns count.",
    "hybrid": "Roles from both count, each keeping where it came from.",
}


class AuthzError(Exception):
    """Root of the engine's errors."""


class DepthExceeded(AuthzError):
    """Evaluation went deeper than the bound; the check denies."""


class UnknownSchemaVersion(AuthzError):
    """A check named a schema version the tenant does not have."""


class StaleRevision(AuthzError):
    """A check asked for a revision newer than the store has."""


@dataclass(frozen=True, slots=True)
class RoleDef:
    """A role as the engine sees it: its own and inherited permissions, and its condition."""

    id: int
    key: str
    name: str
    permissions: frozenset[str]  # "resource_type:action", inherited ones included
    extends: tuple[str, ...] = ()
    condition: Any = None  # conditions.Condition or None
    own_permissions: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Grant:
    """One effective role of a user, with where it comes from."""

    role: str  # role key
    scope: tuple[str, str] | None  # (resource_type, resource_id) or None for tenant-wide
    source: str  # "app" (assigned through the API) or "idp" (mapped from a group)
    via: str  # app: who assigned it; idp: the group's id
    via_name: str = ""  # idp: the group's displayName
    since: str = ""  # app: when (ISO 8601)


@dataclass(slots=True)
class UserInfo:
    """What the engine keeps of a user."""

    id: str
    user_name: str
    external_id: str | None
    active: bool
    display_name: str | None = None
    groups: set[str] = field(default_factory=set)  # direct group ids


@dataclass(slots=True)
class GroupInfo:
    """What the engine keeps of a group."""

    id: str
    name: str
    external_id: str | None = None
    parents: set[str] = field(default_factory=set)  # groups this group is a direct member of
    users: set[str] = field(default_factory=set)  # direct user members
    subgroups: set[str] = field(default_factory=set)  # direct group members


class Decision(NamedTuple):
    """The answer to a check, with the reason an IT admin can read (a tuple: made on every check,
    and a tuple is the cheapest immutable record Python builds)."""

    allowed: bool
    reason: str
    revision: int
    path: tuple[str, ...] = ()
    user_id: str | None = None  # who was decided for, when the user exists


def parse_object(ref: str) -> tuple[str, str]:
    """'document:12' -> ('document', '12'); ValueError when there is no type."""
    rtype, sep, rid = ref.partition(":")
    if not sep or not rtype or not rid:
        raise ValueError(f"{ref!r} is not of the form type:id")
    return rtype, rid


def parse_subject(ref: str) -> tuple[str, str, str]:
    """'group:eng#member' -> ('group', 'eng', 'member'); 'user:42' -> ('user', '42', '')."""
    obj, _, relation = ref.partition("#")
    rtype, rid = parse_object(obj)
    return rtype, rid, relation
