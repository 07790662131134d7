"""A Reader over snapshots held in memory: for tests, benchmarks and embedding the engine without a
database (scim_authz/authz/sql_store.py is the one over SQL)."""
from __future__ import annotations

from collections.abc import Iterable

from scim_authz.authz.store import Snapshot


class SnapshotReader:
    """A Reader over snapshots held in memory (tests, benchmarks, embedding without a database)."""

    def __init__(self, snapshots: Iterable[Snapshot]):
        self.snapshots = {s.tenant.id: s for s in snapshots}

    def tenant_ids(self) -> list[int]:
        return sorted(self.snapshots)

    def revision(self, tenant_id: int) -> int:
        return self.snapshots[tenant_id].tenant.revision

    def snapshot(self, tenant_id: int) -> Snapshot:
        return self.snapshots[tenant_id]

    def changes_since(self, tenant_id: int, revision: int, limit: int) -> list:
        return []

    def user_attributes(self, tenant_id: int, user_id: str) -> dict:
        return dict(self.snapshots[tenant_id].user_attributes.get(user_id, {}))

    def schema(self, tenant_id: int, version: int | None):
        s = self.snapshots[tenant_id]
        return (s.schema_version, s.schema) if s.schema is not None and version in (None, s.schema_version) else None

    def resource_attributes(self, tenant_id: int, rtype: str, rid: str) -> dict | None:
        for t, i, attrs in self.snapshots[tenant_id].resources:
            if (t, i) == (rtype, rid):
                return dict(attrs)
        return None
