"""Hybrid roles: a user's effective roles by the tenant's mode, each with its provenance."""
from __future__ import annotations

from dataclasses import dataclass

from scim_authz.authz.model import Grant, RoleDef
from scim_authz.authz.store import TenantStore


@dataclass(frozen=True, slots=True)
class UserGrants:
    """Everything a check needs about one user's roles, precomputed."""

    groups: frozenset[str]  # transitive group ids
    grants: tuple[Grant, ...]
    # Unconditional tenant-wide permissions -> the first grant that gives each (for explanations).
    tenant_perms: dict[str, Grant]
    # Tenant-wide roles with a condition, checked one by one.
    conditional: tuple[tuple[RoleDef, Grant], ...]
    # Role key -> grants of it held tenant-wide (for `tenant.ROLE` in schemas).
    tenant_roles: dict[str, tuple[Grant, ...]]
    # (resource_type, resource_id) -> [(role, grant)] held on that instance.
    instance: dict[tuple[str, str], tuple[tuple[RoleDef, Grant], ...]]


def compute(store: TenantStore, user_id: str) -> UserGrants:
    """Effective roles: app assignments (modes app, hybrid) and group mappings through nested
    groups (modes idp, hybrid)."""
    user = store.users.get(user_id)
    direct = user.groups if user else set()
    groups = store.transitive_groups(direct)
    mode = store.role_mode
    grants: list[Grant] = []
    if mode in ("app", "hybrid"):
        for a in store.assignments.get(user_id, ()):
            scope = (a.resource_type, a.resource_id) if a.resource_type else None
            grants.append(Grant(a.role_key, scope, "app", a.assigned_by, "", a.created))
    if mode in ("idp", "hybrid"):
        for gid in sorted(groups):
            for m in store.mappings.get(gid, ()):
                scope = (m.resource_type, m.resource_id) if m.resource_type else None
                g = store.groups.get(gid)
                grants.append(Grant(m.role_key, scope, "idp", gid, g.name if g else gid))
    tenant_perms: dict[str, Grant] = {}
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
        else:
            for p in role.permissions:
                tenant_perms.setdefault(p, grant)
    return UserGrants(groups, tuple(grants), tenant_perms, tuple(conditional),
                      {k: tuple(v) for k, v in tenant_roles.items()},
                      {k: tuple(v) for k, v in instance.items()})


def of(store: TenantStore, user_id: str) -> UserGrants:
    """The cached grants of a user (computed on first use after any change that touches them)."""
    g = store.grants_cache.get(user_id)
    if g is None:
        g = compute(store, user_id)
        store.grants_cache[user_id] = g
    return g


def describe(grant: Grant) -> str:
    """Provenance in an IT admin's words."""
    where = f" on {grant.scope[0]}:{grant.scope[1]}" if grant.scope else ""
    if grant.source == "idp":
        return f"role {grant.role}{where} via group {grant.via_name} (IdP)"
    by = f" by {grant.via}" if grant.via else ""
    return f"role {grant.role}{where} assigned{by} (app)"
