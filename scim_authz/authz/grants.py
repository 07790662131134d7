"""Hybrid roles: a user's effective roles by the tenant's mode, each with its provenance."""
from __future__ import annotations

import functools
import gc
from dataclasses import dataclass

from scim_authz.authz.model import Grant, RoleDef
from scim_authz.authz.perm_index import PermIndex
from scim_authz.authz.store import TenantStore


@dataclass(frozen=True, slots=True)
class UserGrants:
    """Everything a check needs about one user's roles, precomputed."""

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


def _classify(store: TenantStore, groups: frozenset[str], grants: list[Grant]) -> UserGrants:
    unconditional: list[tuple[RoleDef, Grant]] = []
    conditional: list[tuple[RoleDef, Grant]] = []
    tenant_roles: dict[str, list[Grant]] = {}
    instance: dict[tuple[str, str], list[tuple[RoleDef, Grant]]] = {}
    for grant in grants:
        role = store.roles.get(grant.role)
        if role is None:
            continue
        if grant.scope is not None:
            instance.setdefault(grant.scope, []).append((role, grant))
            continue
        tenant_roles.setdefault(role.key, []).append(grant)
        if role.condition is not None:
            conditional.append((role, grant))
        elif all(role is not r for r, _ in unconditional):  # one grant per role is enough to decide
            unconditional.append((role, grant))
    index = store.perm_index
    allow = tuple(_allow_pair(store, index, role, grant) for role, grant in unconditional)
    if len(allow) == 1:
        mask = allow[0][0]  # one role: that role's own bit object, shared by all who hold only it
    else:
        mask = 0
        for bit, _ in allow:
            mask |= bit
    return UserGrants(groups, tuple(grants), tuple(unconditional), tuple(conditional),
                      {k: tuple(v) for k, v in tenant_roles.items()},
                      {k: tuple(v) for k, v in instance.items()},
                      mask, allow, index)


def _allow_pair(store: TenantStore, index: PermIndex, role: RoleDef, grant: Grant) -> tuple[int, str]:
    """(the role's bit, the reason) of one grant, made once per grant and shared by every user
    holding it: a check at 100,000 users then reads per user only its own short tuple of these."""
    key = (role.key, grant)
    pair = store.allow_pairs.get(key)
    if pair is None:
        pair = store.allow_pairs[key] = (index.bit(role.key), "allowed: " + describe(grant))
    return pair


_NO_GRANTS = UserGrants(frozenset(), (), (), (), {}, {})

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


def _from_groups(store: TenantStore, direct: frozenset[str]) -> tuple:
    """What a set of direct groups gives (nested groups and mappings), as a grants-cache entry: the
    same for every user in exactly these groups, so computed once per set and shared."""
    hit = store.groupset_cache.get(direct)
    if hit is not None:
        return hit
    groups = store.transitive_groups(direct)
    grants: list[Grant] = []
    if store.role_mode in ("idp", "hybrid"):
        mapped = store.mapped_grants
        for gid in sorted(groups):
            hit = mapped.get(gid)
            if hit is None:
                g = store.groups.get(gid)
                hit = mapped[gid] = tuple(
                    Grant(m.role_key, (m.resource_type, m.resource_id) if m.resource_type else None, "idp", gid,
                          g.name if g else gid) for m in store.mappings.get(gid, ()))
            grants.extend(hit)
    hot = _NO_HOT if not grants and not direct else _hot(_classify(store, groups, grants))
    store.groupset_cache[direct] = hot
    return hot


def compute_hot(store: TenantStore, user_id: str) -> tuple:
    """A user's grants-cache entry. Effective roles: app assignments (modes app, hybrid) and group
    mappings through nested groups (modes idp, hybrid)."""
    user = store.users.get(user_id)
    shared = _from_groups(store, frozenset(user.groups) if user else frozenset())
    assigned = store.assignments.get(user_id) if store.role_mode in ("app", "hybrid") else None
    if not assigned:
        return shared
    grants = [Grant(a.role_key, (a.resource_type, a.resource_id) if a.resource_type else None, "app",
                    a.assigned_by, "", a.created) for a in assigned]
    base = shared[HOT_GRANTS]
    return _hot(_classify(store, base.groups, grants + list(base.grants)))


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
    with no roles of their own share one answer, so this is cheap in time and memory."""
    cache = store.grants_cache
    was_enabled = gc.isenabled()
    gc.disable()  # (many small objects, no cycles: see TenantStore's loading)
    try:
        for uid in store.users:
            if uid not in cache:
                cache[uid] = compute_hot(store, uid)
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
