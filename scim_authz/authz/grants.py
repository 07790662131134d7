"""Hybrid roles: a user's effective roles by the tenant's mode, each with its provenance."""
from __future__ import annotations

import functools
import gc
import operator
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from scim_authz.authz.model import Grant, RoleDef
from scim_authz.authz.perm_index import PermIndex
from scim_authz.authz.store import TenantStore


class UserGrants(NamedTuple):
    """Everything a check needs about one user's roles, precomputed. (A named tuple: a server
    makes one per user at start-up, and a tuple is made several times faster than a frozen
    dataclass.)"""

    groups: frozenset[str]  # transitive group ids
    grants: tuple[Grant, ...]
    # Unconditional tenant-wide roles: a check asks each role's permission set (a user holds a
    # few roles; copying their permissions per user would cost time and memory per user).
    unconditional: tuple[tuple[RoleDef, Grant], ...]
    # Tenant-wide roles with a condition, checked one by one.
    conditional: tuple[tuple[RoleDef, Grant], ...]
    # Role key -> grants of it held tenant-wide (for `tenant.ROLE` in schemas).
    tenant_roles: dict[str, tuple[Grant, ...]]
    # (resource_type, resource_id) -> [(role, grant)] held on that instance.
    instance: dict[tuple[str, str], tuple[tuple[RoleDef, Grant], ...]]
    # `unconditional` as the roles' bits in the tenant's PermIndex (the one these grants were made
    # with), and per role, in order, (its bit, the decision's reason): the grants-cache entry
    # (`_hot`) copies these for the check's hot path.
    allow_mask: int = 0
    allow: tuple[tuple[int, str], ...] = ()
    index: PermIndex | None = None


# What one grant contributes to a user's UserGrants, worked out once per grant and reused by every
# user holding it: (grant, its role or None when the tenant has no such role, (role, grant), the
# role's (bit, reason) in the tenant's PermIndex, (grant,)). A group's mappings are turned into these
# once (store.mapped_grants), so a user's grants are classified without hashing a Grant.
_GRANT = operator.itemgetter(0)
_new = tuple.__new__  # a named tuple made without its Python-level __new__
# Shared by every UserGrants without instance roles; never written.
_NO_INSTANCE: Mapping = MappingProxyType({})


def _entry(store: TenantStore, index: PermIndex, grant: Grant) -> tuple:
    role = store.roles.get(grant.role)
    if role is None:
        return (grant, None, None, None, None)
    return (grant, role, (role, grant), _allow_pair(store, index, role, grant), (grant,))


def _classify(store: TenantStore, groups: frozenset[str], entries: list[tuple]) -> UserGrants:
    unconditional: list[tuple[RoleDef, Grant]] = []
    allow: list[tuple[int, str]] = []
    conditional: list[tuple[RoleDef, Grant]] = []
    tenant_roles: dict[str, tuple[Grant, ...]] = {}
    instance: dict[tuple[str, str], list[tuple[RoleDef, Grant]]] | None = None
    mask = 0
    for grant, role, pair, bit_reason, single in entries:
        if role is None:
            continue
        if grant.scope is not None:
            if instance is None:
                instance = {}
            instance.setdefault(grant.scope, []).append(pair)
            continue
        key = role.key
        held = tenant_roles.get(key)
        tenant_roles[key] = single if held is None else held + single
        if role.condition is not None:
            conditional.append(pair)
        elif held is None or all(role is not r for r, _ in unconditional):  # one grant per role decides
            unconditional.append(pair)
            allow.append(bit_reason)
            mask |= bit_reason[0]
    if len(allow) == 1:
        mask = allow[0][0]  # one role: that role's own bit object, shared by all who hold only it
    elif mask:  # users holding the same roles share one int: a check reads it (a reference count
        mask = store.masks.setdefault(mask, mask)  # written) on every call
    return _new(UserGrants, (groups, tuple(map(_GRANT, entries)), tuple(unconditional), tuple(conditional),
                             tenant_roles, {k: tuple(v) for k, v in instance.items()} if instance else _NO_INSTANCE,
                             mask, tuple(allow), store.perm_index))


def _allow_pair(store: TenantStore, index: PermIndex, role: RoleDef, grant: Grant) -> tuple[int, str]:
    """(the role's bit, the reason) of one grant, made once per grant and shared by every user
    holding it: a check at 100,000 users then reads per user only its own short tuple of these."""
    key = (role.key, grant)
    pair = store.allow_pairs.get(key)
    if pair is None:
        pair = store.allow_pairs[key] = (index.bit(role.key), "allowed: " + describe(grant))
    return pair


_NO_GRANTS = UserGrants(frozenset(), (), (), (), {}, _NO_INSTANCE)

# A user's entry in the grants cache is one flat tuple holding what a check reads, so that a check
# at 100,000 users touches one object of the user's (besides the mask) where it touched three:
# (allow_mask, index, UserGrants, slow, bit_1, reason_1, bit_2, reason_2, ...), the bits and reasons
# in the order of `UserGrants.allow`; `slow` is true when the user holds conditional or
# instance roles, which a check must then read from the UserGrants.
HOT_MASK, HOT_INDEX, HOT_GRANTS, HOT_SLOW, HOT_ALLOW = 0, 1, 2, 3, 4


def _hot(ug: UserGrants) -> tuple:
    flat: list = [ug.allow_mask, ug.index, ug, bool(ug.conditional or ug.instance)]
    for pair in ug.allow:
        flat += pair
    return tuple(flat)


_NO_HOT = _hot(_NO_GRANTS)


def _mapped(store: TenantStore, gid: str) -> tuple:
    """The entries of the grants group `gid`'s own mappings give (cached per group)."""
    hit = store.mapped_grants.get(gid)
    if hit is None:
        g = store.groups.get(gid)
        index = store.perm_index
        hit = store.mapped_grants[gid] = tuple(
            _entry(store, index, Grant(m.role_key, (m.resource_type, m.resource_id) if m.resource_type else None,
                                       "idp", gid, g.name if g else gid))
            for m in store.mappings.get(gid, ()))
    return hit


def _groups_grants(store: TenantStore, direct: frozenset[str], groups: frozenset[str] | None = None,
                   mapped: dict[str, tuple] | None = None) -> UserGrants | None:
    """What a set of direct groups gives (nested groups and mappings); None when nothing at all.
    `groups` (the transitive groups) and `mapped` (every group's entries, groups without mappings
    left out) when the caller has them."""
    if groups is None:
        groups = store.transitive_groups(direct)
    entries: list[tuple] = []
    if store.role_mode in ("idp", "hybrid"):
        if mapped is None:
            for gid in sorted(groups):
                hit = store.mapped_grants.get(gid)
                if hit is None:
                    hit = _mapped(store, gid)
                if hit:
                    entries += hit
        else:
            hits = mapped.keys() & groups
            if hits:
                for gid in sorted(hits) if len(hits) > 1 else hits:
                    entries += mapped[gid]
    if not entries and not direct:
        return None
    return _classify(store, groups, entries)


def _from_groups(store: TenantStore, direct: frozenset[str]) -> tuple:
    """What a set of direct groups gives, as a grants-cache entry: the same for every user in
    exactly these groups, so computed once per set and shared."""
    hit = store.groupset_cache.get(direct)
    if hit is None:
        ug = _groups_grants(store, direct)
        hit = store.groupset_cache[direct] = _NO_HOT if ug is None else _hot(ug)
    return hit


def _direct(user) -> frozenset[str]:
    groups = user.groups if user is not None else frozenset()
    return groups if type(groups) is frozenset else frozenset(groups)


def _with_assigned(store: TenantStore, base: UserGrants, assigned: list) -> UserGrants:
    """A user's grants: its app assignments first, then those of its groups."""
    index = store.perm_index
    entries = [_entry(store, index, Grant(a.role_key, (a.resource_type, a.resource_id) if a.resource_type else None,
                                          "app", a.assigned_by, "", a.created)) for a in assigned]
    return _classify(store, base.groups, entries + [_entry(store, index, g) for g in base.grants])


def compute_hot(store: TenantStore, user_id: str) -> tuple:
    """A user's grants-cache entry. Effective roles: app assignments (modes app, hybrid) and group
    mappings through nested groups (modes idp, hybrid)."""
    shared = _from_groups(store, _direct(store.users.get(user_id)))
    assigned = store.assignments.get(user_id) if store.role_mode in ("app", "hybrid") else None
    if not assigned:
        return shared
    return _hot(_with_assigned(store, shared[HOT_GRANTS], assigned))


def granting(ug: UserGrants, perm: str, rtype_wildcard: str) -> Grant | None:
    """The first unconditional tenant-wide grant whose role gives `perm` (or its type's `*`, or `*`)."""
    for role, grant in ug.unconditional:
        p = role.permissions
        if perm in p or rtype_wildcard in p or "*" in p:
            return grant
    return None


def tenant_permissions(ug: UserGrants) -> set[str]:
    """Every permission the unconditional tenant-wide roles give."""
    out: set[str] = set()
    for role, _ in ug.unconditional:
        out |= role.permissions
    return out


def hot_of(store: TenantStore, user_id: str) -> tuple:
    """A user's grants-cache entry (computed on first use after any change that touches it)."""
    h = store.grants_cache.get(user_id)
    if h is None:
        h = store.grants_cache[user_id] = compute_hot(store, user_id)
    return h


def of(store: TenantStore, user_id: str) -> UserGrants:
    """The cached grants of a user."""
    return hot_of(store, user_id)[HOT_GRANTS]


def warm(store: TenantStore) -> None:
    """Compute every user's grants now (at load), so no check pays for it; users in the same groups
    with no roles of their own share one answer, so this is cheap in time and memory.

    The entries a check reads are made last, one after another, so that they fill memory pages of
    their own: a check writes its user's entry's reference count, and in a worker forked from a
    loading server each page written is copied. Packed together, checks over every user copy a
    few bytes per user instead of every page that also holds other objects of the users."""
    cache, by_set = store.grants_cache, store.groupset_cache
    assignments = store.assignments if store.role_mode in ("app", "hybrid") else {}
    was_enabled = gc.isenabled()
    gc.disable()  # (many small objects, no cycles: see TenantStore's loading)
    try:
        # Groups that are members of other groups (a user directly in none of them is in no
        # group but its direct ones), and the entries of the groups that have mappings.
        nested = {gid for gid, g in store.groups.items() if g.parents}
        mapped = {gid: hit for gid in store.mappings if (hit := _mapped(store, gid))}
        made: dict[frozenset, UserGrants | None] = {}
        pending: list[tuple[str, Any]] = []  # (user, its direct groups, or its own UserGrants)
        for uid, user in store.users.items():
            if uid in cache:
                continue
            direct = user.groups
            if type(direct) is not frozenset:
                direct = frozenset(direct)
            if direct not in made and direct not in by_set:
                groups = direct if not nested or nested.isdisjoint(direct) else store.transitive_groups(direct)
                made[direct] = _groups_grants(store, direct, groups, mapped)
            assigned = assignments.get(uid)
            if assigned:
                base = made[direct] if direct in made else by_set[direct][HOT_GRANTS]
                pending.append((uid, _with_assigned(store, base if base is not None else _NO_GRANTS, assigned)))
            else:
                pending.append((uid, direct))
        for direct, ug in made.items():
            by_set[direct] = _NO_HOT if ug is None else _hot(ug)
        for uid, x in pending:
            cache[uid] = by_set[x] if type(x) is frozenset else _hot(x)
    finally:
        if was_enabled:
            gc.enable()


@functools.lru_cache(maxsize=65536)
def describe(grant: Grant) -> str:
    """Provenance in an IT admin's words."""
    where = f" on {grant.scope[0]}:{grant.scope[1]}" if grant.scope else ""
    if grant.source == "idp":
        return f"role {grant.role}{where} via group {grant.via_name} (IdP)"
    by = f" by {grant.via}" if grant.via else ""
    return f"role {grant.role}{where} assigned{by} (app)"


def describe_for(store: TenantStore, user_id: str, grant: Grant) -> str:
    """describe(), naming the chain of nested groups that makes the user a member of the group a
    grant comes through: "role editor via group Platform, member of Engineering (IdP)". Worked out
    only when a decision is asked to explain itself (the decision log keeps describe()'s words)."""
    user = store.users.get(user_id)
    if grant.source != "idp" or user is None or grant.via in user.groups:
        return describe(grant)
    chain = group_chain(store, user.groups, grant.via)
    if not chain:
        return describe(grant)
    where = f" on {grant.scope[0]}:{grant.scope[1]}" if grant.scope else ""
    names = [store.groups[g].name for g in chain]
    members = ", ".join(f"member of {n}" for n in names[1:])
    return f"role {grant.role}{where} via group {names[0]}, {members} (IdP)"


def group_chain(store: TenantStore, direct: set[str], target: str) -> list[str] | None:
    """The shortest chain of group ids from one of `direct` up to `target` (both ends included)."""
    came_from: dict[str, str | None] = dict.fromkeys(direct)
    frontier = sorted(direct)  # (sorted: the same chain every time)
    while frontier:
        nxt = []
        for gid in frontier:
            if gid == target:
                chain = [gid]
                while came_from[chain[-1]] is not None:
                    chain.append(came_from[chain[-1]])
                return chain[::-1]
            g = store.groups.get(gid)
            for parent in sorted(g.parents) if g is not None else ():
                if parent not in came_from:
                    came_from[parent] = gid
                    nxt.append(parent)
        frontier = nxt
    return None
