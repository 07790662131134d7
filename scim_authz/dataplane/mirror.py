"""A decision point's copy of what its tenants' decisions read, kept by the syncer (sync.py) from the
control plane's snapshots and changes, and read by the engine as it reads the database elsewhere
(the Reader of authz/store_rows.py): the engine catches up from `changes_since` exactly as an
instance of the control plane does, and each change's rows are the ones the control plane sent
with it. What the engine has applied is let go (`trim`); users' attributes that conditions read
and the tenant's application key digests are kept whole.
"""
from __future__ import annotations

import threading
import time

from scim_authz.authz import changes as ch
from scim_authz.authz.model import GroupInfo, UserInfo
from scim_authz.authz.store_rows import AssignmentRow, MappingRow, RoleRow, Snapshot, TenantRow
from scim_authz.dataplane import wire


class TenantCopy:
    """One tenant's part of the mirror."""

    def __init__(self, tenant: TenantRow, attrs: dict, names: list[str], credentials: dict, schema):
        self.id, self.key = tenant.id, tenant.key
        self.tenant = tenant
        self.revision = tenant.revision  # the newest revision received
        self.newest = tenant.revision  # the newest the control plane has said it has
        self.changes: list[tuple[int, str, str]] = []  # received, not yet applied by the engine
        self.data: dict[str, dict] = {}  # kind -> {ref: what it reads}, for those changes
        self.attrs = attrs  # user id -> the attributes conditions read
        self.names = names
        self.credentials = credentials  # credential id -> [sha256 hex, label]
        self.digests = {v[0]: (int(k), v[1]) for k, v in credentials.items() if v}
        self.schema = schema  # (version, CompiledSchema) or None
        self.synced_at = time.time()  # when the control plane last answered for it


class ControlPlaneAway(ConnectionError):
    """The control plane does not answer: what is held cannot be confirmed newest."""


class Mirror:
    """Every tenant a decision point serves, as a Reader for the engine.

    While the control plane does not answer (`connected` false, as the syncer finds it), the
    newest revision cannot be confirmed: the engine is told so as it is when a database is out of
    reach (`revision` raises, `newest` is None), and answers from what it holds, flagged stale."""

    def __init__(self, wait_seconds: float = 2.0):
        self.wait_seconds = wait_seconds  # how long a check asking for a revision not received waits
        self.tenants: dict[int, TenantCopy] = {}
        self.by_key: dict[str, TenantCopy] = {}
        self.changed = threading.Condition()  # notified whenever a revision is received
        self.connected = False  # the control plane answered the syncer's last request
        # Application key digest -> the tenant holding it, over every tenant: a check finds its
        # caller in one look-up however many tenants a key of every tenant brings. Replaced whole
        # (by the syncer) whenever a tenant arrives or its keys change; read without a lock.
        self.key_holders: dict[str, TenantCopy] = {}

    def holder(self, digest: str) -> tuple[TenantCopy, tuple[int, str]] | None:
        """The tenant holding the application key with this digest, and (credential id, label)."""
        copy = self.key_holders.get(digest)
        found = copy.digests.get(digest) if copy is not None else None  # (revoked since the index was made)
        return (copy, found) if found is not None else None

    def _index_keys(self) -> None:
        holders: dict[str, TenantCopy] = {}
        for copy in list(self.tenants.values()):
            for digest in copy.digests:
                holders.setdefault(digest, copy)
        self.key_holders = holders

    # ---- kept by the syncer ---------------------------------------------------------------------

    def install(self, snap: Snapshot, attrs: dict, names: list[str], credentials: dict) -> TenantCopy:
        """A tenant's snapshot: what follows it is received as changes."""
        schema = (snap.schema_version, snap.schema) if snap.schema is not None else None
        copy = TenantCopy(snap.tenant, attrs, names, credentials, schema)
        with self.changed:
            self.tenants[copy.id] = copy
            self.by_key[copy.key] = copy
            self._index_keys()
            self.changed.notify_all()
        return copy

    def receive(self, tid: int, body: dict) -> None:
        """A changes answer (wire format): its rows, then its changes, in that order (the engine
        catching up reads the rows of every change it is given)."""
        copy = self.tenants[tid]
        if int(body["revision"]) <= copy.revision:
            return  # held already (a journal replayed over what a snapshot had)
        data = body.get("data") or {}
        rows: dict[str, dict] = {}
        if "users" in data:
            rows[ch.USER] = {u: None if v is None else wire.user_row(v) for u, v in data["users"].items()}
            for uid, v in data["users"].items():
                if v is None:
                    copy.attrs.pop(uid, None)
            copy.attrs.update(data.get("user_attributes") or {})
        if "memberships" in data:
            rows[ch.MEMBER] = dict(data["memberships"])
        if "members" in data:
            rows[ch.MEMBERS] = {g: [tuple(m) for m in v] for g, v in data["members"].items()}
        if "groups" in data:
            rows[ch.GROUP] = {g: None if v is None else wire.group_row(v) for g, v in data["groups"].items()}
        if "roles" in data:
            rows[ch.ROLE] = {k: None if v is None else wire.role_row(v) for k, v in data["roles"].items()}
        if "assignments" in data:
            rows[ch.ASSIGNMENT] = {u: [wire.assignment_row(a) for a in v] for u, v in data["assignments"].items()}
        if "mappings" in data:
            rows[ch.MAPPING] = {g: [wire.mapping_row(m) for m in v] for g, v in data["mappings"].items()}
        if "relationships" in data:
            rows[ch.RELATIONSHIP] = dict(data["relationships"])
        if "resources" in data:
            rows[ch.RESOURCE] = dict(data["resources"])
        if "tenant" in data and data["tenant"] is not None:
            copy.tenant = wire.tenant_row(data["tenant"])
        if "schema" in data:
            copy.schema = wire.schema_of(data["schema"])
        if "credentials" in data:
            for cid, v in data["credentials"].items():
                if v is None:
                    copy.credentials.pop(cid, None)
                else:
                    copy.credentials[cid] = v
            copy.digests = {v[0]: (int(k), v[1]) for k, v in copy.credentials.items() if v}
            self._index_keys()
        with self.changed:
            for kind, found in rows.items():
                copy.data.setdefault(kind, {}).update(found)
            copy.changes += [tuple(c) for c in body.get("changes") or ()]
            copy.revision = max(copy.revision, int(body["revision"]))
            copy.newest = max(copy.newest, int(body.get("newest") or 0), copy.revision)
            copy.synced_at = time.time()
            self.changed.notify_all()

    def trim(self, tid: int, applied: int) -> None:
        """Let go of the changes (and their rows) the engine has applied, up to revision `applied`."""
        copy = self.tenants[tid]
        with self.changed:
            copy.changes = [c for c in copy.changes if c[0] > applied]
            if not copy.changes:
                copy.data = {}

    def wait_for(self, tid: int, revision: int, timeout: float | None = None) -> bool:
        """Wait until revision `revision` of the tenant is received, at most `timeout` seconds
        (`wait_seconds`); the engine calls it before it refuses a check's `at_least`."""
        deadline = time.monotonic() + (self.wait_seconds if timeout is None else timeout)
        with self.changed:
            while True:
                copy = self.tenants.get(tid)
                if copy is not None and copy.revision >= revision:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)

    # ---- the engine's Reader --------------------------------------------------------------------

    def newest(self, tenant_id: int) -> int | None:  # (the engine's `feed`)
        copy = self.tenants.get(tenant_id)
        return None if copy is None or not self.connected else copy.revision

    def tenant_ids(self) -> list[int]:
        return sorted(self.tenants)

    def revision(self, tenant_id: int) -> int:
        if not self.connected:
            raise ControlPlaneAway("the control plane does not answer")
        return self.tenants[tenant_id].revision

    def snapshot(self, tenant_id: int) -> Snapshot:
        raise LookupError(f"tenant {tenant_id}: a decision point builds its stores from the snapshots it "
                          "receives, never on demand")

    def changes_since(self, tenant_id: int, revision: int, limit: int) -> list[tuple[int, str, str]]:
        with self.changed:
            return [c for c in self.tenants[tenant_id].changes if c[0] > revision][:limit]

    def _row(self, tenant_id: int, kind: str, ref: str):
        return self.tenants[tenant_id].data.get(kind, {}).get(ref)

    def _any(self, kind: str, ref):
        for copy in list(self.tenants.values()):  # (group ids are unique across tenants)
            found = copy.data.get(kind)
            if found is not None and ref in found:
                return found[ref]
        return None

    def tenant(self, tenant_id: int) -> TenantRow | None:
        copy = self.tenants.get(tenant_id)
        return None if copy is None else copy.tenant

    def user(self, tenant_id: int, user_id: str) -> UserInfo | None:
        return self._row(tenant_id, ch.USER, user_id)

    def users(self, tenant_id: int, user_ids: list[str]) -> dict[str, UserInfo]:
        found = self.tenants[tenant_id].data.get(ch.USER, {})
        return {u: found[u] for u in user_ids if found.get(u) is not None}

    def user_attributes(self, tenant_id: int, user_id: str) -> dict:
        return dict(self.tenants[tenant_id].attrs.get(user_id) or {})

    def group(self, tenant_id: int, group_id: str) -> GroupInfo | None:
        return self._row(tenant_id, ch.GROUP, group_id)

    def membership(self, group_id: str, member_id: str) -> str | None:
        return self._any(ch.MEMBER, ch.member_ref(group_id, member_id))

    def memberships(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        out = {}
        for g, m in pairs:
            t = self.membership(g, m)
            if t is not None:
                out[(g, m)] = t
        return out

    def group_members(self, group_id: str) -> list[tuple[str, str]]:
        return list(self._any(ch.MEMBERS, group_id) or ())

    def role(self, tenant_id: int, key: str) -> RoleRow | None:
        return self._row(tenant_id, ch.ROLE, key)

    def assignments_of(self, tenant_id: int, user_id: str) -> list[AssignmentRow]:
        return list(self._row(tenant_id, ch.ASSIGNMENT, user_id) or ())

    def mappings_of(self, tenant_id: int, group_id: str) -> list[MappingRow]:
        return list(self._row(tenant_id, ch.MAPPING, group_id) or ())

    def schema(self, tenant_id: int, version: int | None):
        found = self.tenants[tenant_id].schema
        return found if found is not None and version in (None, found[0]) else None

    def relationship_exists(self, tenant_id: int, key: tuple) -> bool:
        return bool(self._row(tenant_id, ch.RELATIONSHIP, ch.relationship_ref(key)))

    def resource_attributes(self, tenant_id: int, rtype: str, rid: str) -> dict | None:
        return self._row(tenant_id, ch.RESOURCE, ch.object_ref(rtype, rid))

    def resources_held(self, tenant_id: int, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        found = self.tenants[tenant_id].data.get(ch.RESOURCE, {})
        return {k: found[ch.object_ref(*k)] for k in keys if found.get(ch.object_ref(*k)) is not None}
