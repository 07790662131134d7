"""The plain rows a tenant's policy is loaded from (a Snapshot, read in one transaction) and the
Reader interface the engine reads storage through (sql_store.SQLReader over SQL, snapshot_reader.
SnapshotReader in memory)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from scim_authz.authz.model import GroupInfo, UserInfo


@dataclass(frozen=True, slots=True)
class RoleRow:
    id: int
    key: str
    name: str
    permissions: tuple[str, ...]
    extends: tuple[str, ...]
    condition: str | None


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    id: int
    user_id: str
    role_key: str
    resource_type: str
    resource_id: str
    assigned_by: str
    created: str


@dataclass(frozen=True, slots=True)
class MappingRow:
    id: int
    group_id: str
    role_key: str
    resource_type: str
    resource_id: str
    created_by: str


@dataclass(frozen=True, slots=True)
class TenantRow:
    id: int
    key: str
    role_mode: str
    settings: dict
    revision: int
    disabled: bool = False  # a disabled tenant's checks are all denied


@dataclass
class Snapshot:
    """Everything of one tenant, as read in one transaction at `tenant.revision`."""

    tenant: TenantRow
    users: list[UserInfo] = field(default_factory=list)
    groups: list[GroupInfo] = field(default_factory=list)
    memberships: list[tuple[str, str, str]] = field(default_factory=list)  # (group_id, member_id, member_type)
    # More user memberships, grouped: (group_id, [user ids]) (how SQLReader reads them, in bulk).
    user_members: list[tuple[str, list[str]]] = field(default_factory=list)
    roles: list[RoleRow] = field(default_factory=list)
    assignments: list[AssignmentRow] = field(default_factory=list)
    mappings: list[MappingRow] = field(default_factory=list)
    schema: Any = None  # CompiledSchema of the newest version, or None
    schema_version: int = 0
    relationships: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)
    user_attributes: dict[str, dict] = field(default_factory=dict)  # only SnapshotReader reads these
    resources: list[tuple[str, str, dict]] = field(default_factory=list)  # (type, id, held attributes)


class Reader(Protocol):
    """What the engine needs from storage (sql_store.SQLReader implements it; tests may fake it)."""

    def tenant_ids(self) -> list[int]: ...
    def revision(self, tenant_id: int) -> int: ...
    def snapshot(self, tenant_id: int) -> Snapshot: ...
    def changes_since(self, tenant_id: int, revision: int, limit: int) -> list[tuple[int, str, str]]: ...
    def tenant(self, tenant_id: int) -> TenantRow | None: ...
    def user(self, tenant_id: int, user_id: str) -> UserInfo | None: ...
    def user_attributes(self, tenant_id: int, user_id: str) -> dict: ...
    def group(self, tenant_id: int, group_id: str) -> GroupInfo | None: ...
    def membership(self, group_id: str, member_id: str) -> str | None: ...
    def group_members(self, group_id: str) -> list[tuple[str, str]]: ...
    def role(self, tenant_id: int, key: str) -> RoleRow | None: ...
    def assignments_of(self, tenant_id: int, user_id: str) -> list[AssignmentRow]: ...
    def mappings_of(self, tenant_id: int, group_id: str) -> list[MappingRow]: ...
    def schema(self, tenant_id: int, version: int | None) -> tuple[int, Any] | None: ...
    def relationship_exists(self, tenant_id: int, key: tuple) -> bool: ...
    def resource_attributes(self, tenant_id: int, rtype: str, rid: str) -> dict | None: ...
