"""Who held which role at a past moment, replayed from `access_history` (the rows the database's
triggers write for every change to users, groups, memberships, roles, assignments, mappings and
role modes): the tenant's directory and policy as they stood are rebuilt as an engine snapshot,
and the engine's own grant computation, nested groups and role mode included, says who held what.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from scim_authz.authz.model import GroupInfo, UserInfo
from scim_authz.authz.store import AssignmentRow, MappingRow, RoleRow, Snapshot, TenantRow, TenantStore
from scim_authz.db.extensions import db
from scim_authz.db.models import AccessHistory, Tenant


class _State:
    """The tenant's directory and policy, as far as the history has been replayed."""

    def __init__(self):
        self.role_mode = "hybrid"
        self.users: dict[str, list] = {}  # id -> [userName, externalId, active]
        self.groups: dict[str, list] = {}  # id -> [displayName, externalId]
        self.members: dict[tuple[str, str], tuple[str, datetime]] = {}  # (group, member) -> (type, added)
        self.roles: dict[int, str] = {}  # id -> key
        self.assignments: dict[int, tuple] = {}  # id -> (user, role id, type, id, by, at)
        self.mappings: dict[int, tuple] = {}  # id -> (group, role id, type, id, by, at)

    def apply(self, h: AccessHistory) -> None:
        kind = h.kind
        if kind == "user.put":
            self.users[h.user_id] = [h.name, h.external_id, bool(h.active)]
        elif kind == "user.delete":
            self.users.pop(h.user_id, None)
            self._forget_member(h.user_id)
            self.assignments = {k: a for k, a in self.assignments.items() if a[0] != h.user_id}
        elif kind == "group.put":
            self.groups[h.group_id] = [h.name, h.external_id]
        elif kind == "group.delete":
            self.groups.pop(h.group_id, None)
            self._forget_member(h.group_id)
            self.members = {k: v for k, v in self.members.items() if k[0] != h.group_id}
            self.mappings = {k: m for k, m in self.mappings.items() if m[0] != h.group_id}
        elif kind == "member.add":
            self.members[(h.group_id, h.member_id)] = (h.member_type, h.at)
        elif kind == "member.remove":
            self.members.pop((h.group_id, h.member_id), None)
        elif kind == "role.put":
            self.roles[h.ref_id] = h.name
        elif kind == "role.delete":
            self.roles.pop(h.ref_id, None)
            self.assignments = {k: a for k, a in self.assignments.items() if a[1] != h.ref_id}
            self.mappings = {k: m for k, m in self.mappings.items() if m[1] != h.ref_id}
        elif kind == "assignment.add":
            self.assignments[h.ref_id] = (h.user_id, h.role_id, h.resource_type or "", h.resource_id or "", h.by, h.at)
        elif kind == "assignment.delete":
            self.assignments.pop(h.ref_id, None)
        elif kind == "mapping.add":
            self.mappings[h.ref_id] = (h.group_id, h.role_id, h.resource_type or "", h.resource_id or "", h.by, h.at)
        elif kind == "mapping.delete":
            self.mappings.pop(h.ref_id, None)
        elif kind == "tenant.mode":
            self.role_mode = h.role_mode

    def _forget_member(self, member_id: str) -> None:
        self.members = {k: v for k, v in self.members.items() if k[1] != member_id}


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds") + "Z"


def store_at(tenant_id: int, when: datetime) -> tuple[TenantStore, dict, dict]:
    """The tenant as it stood at `when` (UTC, naive): an engine store, when each membership was
    added, and when each mapping was made ({(group, member): at}, {(group, role key, type, id): at})."""
    state = _State()
    rows = db.session.execute(select(AccessHistory).where(
        AccessHistory.tenant_id == tenant_id, AccessHistory.at <= when)
        .order_by(AccessHistory.at, AccessHistory.id).execution_options(yield_per=10_000)).scalars()
    for h in rows:
        state.apply(h)
    tenant = db.session.get(Tenant, tenant_id)
    snap = Snapshot(TenantRow(tenant_id, tenant.key, state.role_mode, {}, 0))
    snap.users = [UserInfo(uid, name, ext, active) for uid, (name, ext, active) in state.users.items()]
    snap.groups = [GroupInfo(gid, name, ext) for gid, (name, ext) in state.groups.items()]
    snap.memberships = [(g, m, t) for (g, m), (t, _) in state.members.items()
                        if g in state.groups and (m in state.users or m in state.groups)]
    snap.roles = [RoleRow(rid, key, key, (), (), None) for rid, key in state.roles.items()]
    snap.assignments = [AssignmentRow(aid, u, state.roles[r], rt, ri, by or "", _iso(at))
                        for aid, (u, r, rt, ri, by, at) in state.assignments.items()
                        if r in state.roles and u in state.users]
    snap.mappings = [MappingRow(mid, g, state.roles[r], rt, ri, by or "")
                     for mid, (g, r, rt, ri, by, _) in state.mappings.items() if r in state.roles and g in state.groups]
    added = {k: at for k, (_, at) in state.members.items()}
    mapped = {(g, state.roles[r], rt, ri): at for g, r, rt, ri, _, at in state.mappings.values() if r in state.roles}
    return TenantStore(snap), added, mapped
