"""The in-memory policy of one tenant (loaded from a store_rows.Snapshot and refreshed through a
store_rows.Reader, both re-exported here).

Everything a check needs lives here, indexed for the questions the engine asks: a user's direct
groups and a group's parents (for the transitive closure), assignments by user, mappings by group,
relationships forward (object -> subjects) and in reverse (subject -> objects). Changes arrive
one by one from the change log and touch only what they name; the per-user grants derived from
them are cached and dropped exactly when something they depend on changes.
"""
from __future__ import annotations

import collections
import gc
import itertools
import operator
import threading
from collections.abc import Iterable
from typing import Any

from scim_authz.authz import changes as ch
from scim_authz.authz.change_batch import prefetch
from scim_authz.authz.model import GroupInfo, RoleDef, UserInfo
from scim_authz.authz.perm_index import PermIndex
from scim_authz.authz.relation_index import RelationIndex
from scim_authz.authz.store_rows import AssignmentRow, MappingRow, Reader, RoleRow, Snapshot, TenantRow

__all__ = ["AssignmentRow", "MappingRow", "Reader", "RoleRow", "Snapshot", "TenantRow", "TenantStore"]

_GROUP_AND_TYPE = operator.itemgetter(0, 2)  # of a membership row (group_id, member_id, member_type)
_MEMBER = operator.itemgetter(1)
_consume = collections.deque(maxlen=0).extend  # runs an iterator to its end, keeping nothing


class TenantStore:
    """One tenant's policy in memory. Writers hold `lock`; readers see whole changes."""

    def __init__(self, snapshot: Snapshot, compile_condition=None):
        self.lock = threading.RLock()
        self._compile_condition = compile_condition
        self.tenant_id = snapshot.tenant.id
        self.key = snapshot.tenant.key
        self.revision = snapshot.tenant.revision
        self.role_mode = snapshot.tenant.role_mode
        self.settings = snapshot.tenant.settings or {}
        self.disabled = snapshot.tenant.disabled  # every check denied while set
        self.users: dict[str, UserInfo] = {}
        self.inactive: set[str] = set()  # ids of deactivated users (a check asks this, not the user)
        self.by_name: dict[str, str] = {}
        self.by_external: dict[str, str] = {}
        self.groups: dict[str, GroupInfo] = {}
        self.role_rows: dict[str, RoleRow] = {}
        self.roles: dict[str, RoleDef] = {}
        self._role_bit: dict[str, int] = {}  # role key -> its bit in PermIndex, for the store's life
        self.perm_index = PermIndex({}, self._role_bit)
        self.assignments: dict[str, list[AssignmentRow]] = {}
        self.mappings: dict[str, list[MappingRow]] = {}
        self.schema = snapshot.schema
        self.schema_version = snapshot.schema_version
        self.rels = RelationIndex()
        self.resources: dict[str, dict[str, dict]] = {}  # type -> id -> the attributes the server holds
        self.grants_cache: dict[str, tuple] = {}  # user id -> its flat entry (grants._hot)
        self.groupset_cache: dict[frozenset, tuple] = {}  # direct groups -> the entry they give (grants.py)
        self.mapped_grants: dict[str, tuple] = {}  # group -> the grants its own mappings give
        self.allow_pairs: dict[tuple, tuple] = {}  # (role, grant) -> (role's bit, reason): grants.py
        self.masks: dict[int, int] = {}  # one int object per distinct mask of roles (grants.py)
        self.lookup_cache: dict[tuple, Any] = {}
        self.attr_cache: dict[str, dict] = {}
        self.credentials_epoch = 0
        # A million small containers would wake the cyclic collector thousands of times for
        # nothing (none of them can be in a cycle): pause it while loading.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._load_directory(snapshot)
            for r in snapshot.roles:
                self.role_rows[r.key] = r
            self._rebuild_roles()
            for a in snapshot.assignments:
                self.assignments.setdefault(a.user_id, []).append(a)
            for m in snapshot.mappings:
                self.mappings.setdefault(m.group_id, []).append(m)
            self.rels.add_all(snapshot.relationships)
            for rtype, rid, attrs in snapshot.resources:
                self.resources.setdefault(rtype, {})[rid] = attrs
        finally:
            if was_enabled:
                gc.enable()

    def _load_directory(self, snapshot: Snapshot) -> None:
        """Users, groups and memberships of a snapshot, in bulk (a server loads millions of them
        before it serves). Every reference to a user or group is to its own id string, so a
        membership costs a set entry and no string of its own; users in the same groups share
        one frozenset of them. A user's `groups` is replaced, never changed in place."""
        users, groups, by_name, by_external = self.users, self.groups, self.by_name, self.by_external
        for u in snapshot.users:
            uid = u.id
            if uid in users:  # (a snapshot names each user once; a repeat replaces, as a change would)
                self._put_user(u)
                continue
            users[uid] = u
            if not u.active:
                self.inactive.add(uid)
            name = u.user_name
            by_name[name if name.islower() else name.lower()] = uid  # (no copy of a name already lower-case)
            if u.external_id:
                by_external[u.external_id] = uid
        for g in snapshot.groups:
            groups[g.id] = g
        ids = {uid: uid for uid in users}
        by_group: dict[str, list[str]] = {}
        for gid, members in snapshot.user_members:
            found = by_group.get(gid)
            if found is None:
                by_group[gid] = list(members)
            else:
                found.extend(members)
        nested = []
        # Runs of one group's user members (a reader returns them grouped): whole runs at C speed.
        for (gid, mtype), run in itertools.groupby(snapshot.memberships, _GROUP_AND_TYPE):
            if mtype == "User":
                found = by_group.get(gid)
                if found is None:
                    by_group[gid] = list(map(_MEMBER, run))
                else:
                    found.extend(map(_MEMBER, run))
            else:
                nested.extend(run)
        of_user: dict[str, list[str]] = collections.defaultdict(list)
        for gid, members in by_group.items():
            g = groups.get(gid)
            if g is None:
                continue
            members = list(map(ids.get, members, members))
            g.users.update(members)
            # of_user[m].append(g.id) for every member, looped in C
            _consume(map(list.append, map(of_user.__getitem__, members), itertools.repeat(g.id)))
        shared: dict[frozenset, frozenset] = {}
        for uid, gids in of_user.items():
            u = users.get(uid)
            if u is not None:
                fs = frozenset(gids).union(u.groups) if u.groups else frozenset(gids)
                u.groups = shared.setdefault(fs, fs)
        for gid, mid, mtype in nested:
            self._add_member(gid, mid, mtype)

    # ---- users and groups ----------------------------------------------------------------

    def _put_user(self, u: UserInfo) -> None:
        old = self.users.get(u.id)
        if old is not None:
            u.groups = old.groups
            self.by_name.pop(old.user_name.lower(), None)
            if old.external_id:
                self.by_external.pop(old.external_id, None)
        self.users[u.id] = u
        if u.active:
            self.inactive.discard(u.id)
        else:
            self.inactive.add(u.id)
        self.by_name[u.user_name.lower()] = u.id
        if u.external_id:
            self.by_external[u.external_id] = u.id

    def _drop_user(self, user_id: str) -> None:
        u = self.users.pop(user_id, None)
        if u is None:
            return
        self.inactive.discard(user_id)
        self.by_name.pop(u.user_name.lower(), None)
        if u.external_id:
            self.by_external.pop(u.external_id, None)
        for gid in u.groups:
            if gid in self.groups:
                self.groups[gid].users.discard(user_id)
        self.assignments.pop(user_id, None)

    def _add_member(self, gid: str, mid: str, mtype: str) -> None:
        g = self.groups.get(gid)
        if g is None:
            return
        if mtype == "User":
            g.users.add(mid)
            u = self.users.get(mid)
            if u is not None and gid not in u.groups:
                u.groups = u.groups | {gid}
        else:
            g.subgroups.add(mid)
            if mid in self.groups:
                self.groups[mid].parents.add(gid)

    def _remove_member(self, gid: str, mid: str) -> None:
        g = self.groups.get(gid)
        if g is not None:
            g.users.discard(mid)
            g.subgroups.discard(mid)
        u = self.users.get(mid)
        if u is not None and gid in u.groups:
            u.groups = u.groups - {gid}
        if mid in self.groups:
            self.groups[mid].parents.discard(gid)

    def _member_moved(self, mid: str) -> bool:
        """Forget what was cached for a member that joined or left a group; True when it is not a
        user (a nested group: any user's grants may have changed)."""
        if mid in self.users:
            self.grants_cache.pop(mid, None)
            self.attr_cache.pop(mid, None)
            return False
        return True

    def _drop_group(self, gid: str) -> None:
        g = self.groups.pop(gid, None)
        if g is None:
            return
        for uid in g.users:
            u = self.users.get(uid)
            if u is not None and gid in u.groups:
                u.groups = u.groups - {gid}
        for sub in g.subgroups:
            if sub in self.groups:
                self.groups[sub].parents.discard(gid)
        for parent in g.parents:
            if parent in self.groups:
                self.groups[parent].subgroups.discard(gid)
        self.mappings.pop(gid, None)

    def transitive_groups(self, direct: Iterable[str]) -> frozenset[str]:
        """The groups reached from `direct` through nesting (cycles are refused on write, and
        tolerated here). Groups nested in none: `direct` itself when it is a frozenset."""
        groups = self.groups
        for gid in direct:
            g = groups.get(gid)
            if g is not None and g.parents:
                break
        else:
            return direct if type(direct) is frozenset else frozenset(direct)
        seen = set(direct)
        stack = list(seen)
        while stack:
            g = self.groups.get(stack.pop())
            if g is None:
                continue
            for p in g.parents:
                if p not in seen:
                    seen.add(p)
                    stack.append(p)
        return frozenset(seen)

    def transitive_users(self, gid: str) -> set[str]:
        """Every user in group `gid`, through nested groups."""
        users: set[str] = set()
        seen = {gid}
        stack = [gid]
        while stack:
            g = self.groups.get(stack.pop())
            if g is None:
                continue
            users |= g.users
            for sub in g.subgroups:
                if sub not in seen:
                    seen.add(sub)
                    stack.append(sub)
        return users

    # ---- roles ---------------------------------------------------------------------------

    def _rebuild_roles(self) -> None:
        """Roles with inherited permissions folded in (cycles in `extends` are cut)."""
        def perms(key: str, seen: frozenset) -> frozenset[str]:
            row = self.role_rows.get(key)
            if row is None or key in seen:
                return frozenset()
            out = set(row.permissions)
            for parent in row.extends:
                out |= perms(parent, seen | {key})
            return frozenset(out)

        roles = {}
        for key, row in self.role_rows.items():
            cond = None
            if row.condition and self._compile_condition is not None:
                cond = self._compile_condition(row.condition)
            roles[key] = RoleDef(row.id, key, row.name, perms(key, frozenset()), row.extends, cond,
                                 frozenset(row.permissions))
        self.roles = roles
        self.perm_index = PermIndex(roles, self._role_bit)

    # ---- relationships -------------------------------------------------------------------

    def _add_relationship(self, t: tuple[str, str, str, str, str, str]) -> None:
        self.rels.add(t)

    def _remove_relationship(self, t: tuple[str, str, str, str, str, str]) -> None:
        self.rels.remove(t)

    def resource_attributes(self, rtype: str, rid: str) -> dict | None:
        """The attributes the server holds for rtype:rid, or None."""
        held = self.resources.get(rtype)
        return held.get(rid) if held else None

    def objects_of_type(self, rtype: str) -> set[str]:
        """Every object of a type: SCIM users and groups, and whatever any relationship or instance
        role names or the server holds attributes of."""
        key = ("universe", rtype)
        hit = self.lookup_cache.get(key)
        if hit is not None:
            return hit
        out = self.rels.ids_of_type(rtype)
        out |= self.resources.get(rtype, {}).keys()
        if rtype == "group":
            out |= self.groups.keys()  # SCIM groups exist whether or not a relationship names them
        elif rtype == "user":
            out |= self.users.keys()
        for rows in self.assignments.values():
            out |= {a.resource_id for a in rows if a.resource_type == rtype}
        for rows in self.mappings.values():
            out |= {m.resource_id for m in rows if m.resource_type == rtype}
        self.lookup_cache[key] = out
        return out

    # ---- applying the change log ---------------------------------------------------------

    def apply(self, changes: list[tuple[int, str, str]], reader: Reader) -> None:
        """Bring the store to the newest of `changes`, re-reading only what each change names."""
        with self.lock:
            structural = False
            start = self.revision
            reader = prefetch(reader, self.tenant_id, changes, start)
            for revision, kind, ref in changes:
                if revision <= start:
                    continue  # one revision may carry many changes: compare with where we began
                structural |= self._apply_one(kind, ref, reader)
                self.revision = max(self.revision, revision)
            self.lookup_cache = {}
            if structural:
                self.grants_cache = {}
                self.groupset_cache = {}
                self.mapped_grants = {}
                self.allow_pairs = {}
                self.attr_cache = {}  # user.groups in conditions names groups

    def _apply_one(self, kind: str, ref: str, reader: Reader) -> bool:
        """Apply one change; True when cached grants of any user may be stale."""
        tid = self.tenant_id
        if kind == ch.USER:
            u = reader.user(tid, ref)
            if u is None:
                self._drop_user(ref)
            else:
                self._put_user(u)
            self.grants_cache.pop(ref, None)
            self.attr_cache.pop(ref, None)
            return False
        if kind == ch.MEMBER:
            gid, mid = ch.parse_member_ref(ref)
            mtype = reader.membership(gid, mid)
            if mtype is None:
                self._remove_member(gid, mid)
            else:
                self._add_member(gid, mid, mtype)
            return self._member_moved(mid)
        if kind == ch.MEMBERS:  # a group's members replaced wholesale, or many changed at once
            g = self.groups.get(ref)
            if g is None:
                return True
            # Only the difference is applied: a user who stays a member keeps its cached grants.
            now = dict(reader.group_members(ref))
            structural = False
            for mid in (g.users | g.subgroups) - now.keys():
                self._remove_member(ref, mid)
                structural |= self._member_moved(mid)
            for mid, mtype in now.items():
                if mid not in g.users and mid not in g.subgroups:
                    self._add_member(ref, mid, mtype)
                    structural |= self._member_moved(mid)
            return structural
        if kind == ch.GROUP:
            g = reader.group(tid, ref)
            if g is None:
                self._drop_group(ref)
            elif ref in self.groups:
                old = self.groups[ref]
                old.name, old.external_id = g.name, g.external_id
            else:
                self.groups[ref] = g
            return True
        if kind == ch.ROLE:
            row = reader.role(tid, ref)
            if row is None:
                self.role_rows.pop(ref, None)
                for rows in self.assignments.values():
                    rows[:] = [a for a in rows if a.role_key != ref]
                for rows in self.mappings.values():
                    rows[:] = [m for m in rows if m.role_key != ref]
            else:
                self.role_rows[ref] = row
            self._rebuild_roles()
            return True
        if kind == ch.ASSIGNMENT:
            self.assignments[ref] = reader.assignments_of(tid, ref)
            self.grants_cache.pop(ref, None)
            return False
        if kind == ch.MAPPING:
            self.mappings[ref] = reader.mappings_of(tid, ref)
            return True
        if kind == ch.SCHEMA:
            found = reader.schema(tid, None)
            self.schema_version, self.schema = found if found else (0, None)
            return False
        if kind == ch.RELATIONSHIP:
            t = ch.parse_relationship_ref(ref)
            if reader.relationship_exists(tid, t):
                self._add_relationship(t)
            else:
                self._remove_relationship(t)
            return False
        if kind == ch.TENANT:
            row = reader.tenant(tid)
            if row is not None:
                self.role_mode, self.settings = row.role_mode, row.settings or {}
                self.disabled = row.disabled
            return True
        if kind == ch.CREDENTIAL:
            self.credentials_epoch += 1
            return False
        if kind == ch.RESOURCE:
            rtype, rid = ch.parse_object_ref(ref)
            attrs = reader.resource_attributes(tid, rtype, rid)
            if attrs is None:
                self.resources.get(rtype, {}).pop(rid, None)
            else:
                self.resources.setdefault(rtype, {})[rid] = attrs
            return False
        return True  # an unknown kind: be safe, recompute grants
