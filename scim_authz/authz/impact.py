"""Who a group -> role mapping would reach, answered from the tenant's policy in memory, so the
console's preview uses exactly the group nesting and role modes that checks use."""
from __future__ import annotations

from dataclasses import dataclass

from scim_authz.authz.store import TenantStore


@dataclass(frozen=True)
class MappingImpact:
    """Users of one group (nested groups included) seen against one role on one scope."""

    members: int  # users in the group, nested groups included
    gaining: list[str]  # ids of active members who do not hold the role on that scope, by userName
    already: int  # active members who hold it already, by another mapping or an assignment
    inactive: int  # deactivated members: every check for them denies anyway


def mapping_impact(st: TenantStore, group_id: str, role_key: str, rtype: str = "", rid: str = "", *,
                   except_mapping: int | None = None) -> MappingImpact:
    """What mapping `group_id` to `role_key` on (rtype, rid) would change, before it is saved;
    `except_mapping` is left out (the mapping being edited or deleted)."""
    with st.lock:
        members = st.transitive_users(group_id)
        inactive = {u for u in members if u in st.inactive}
        holders: set[str] = set()
        if st.role_mode != "app":
            for gid, rows in st.mappings.items():
                if any(m.role_key == role_key and m.resource_type == rtype and m.resource_id == rid
                       and m.id != except_mapping for m in rows):
                    holders |= st.transitive_users(gid)
        if st.role_mode != "idp":
            holders |= {u for u in members if any(
                a.role_key == role_key and a.resource_type == rtype and a.resource_id == rid
                for a in st.assignments.get(u, ()))}
        active = members - inactive
        gaining = sorted(active - holders, key=lambda u: (st.users[u].user_name.lower(), u))
    return MappingImpact(len(members), gaining, len(active & holders), len(inactive))


def nested_group_of(st: TenantStore, group_id: str, user_id: str) -> str | None:
    """None when the user is a direct member of `group_id`; else the name of a group nested in it
    that the user is directly in (the first by name)."""
    direct = st.users[user_id].groups
    if group_id in direct:
        return None
    under = {group_id}
    stack = [group_id]
    while stack:
        g = st.groups.get(stack.pop())
        for sub in g.subgroups if g is not None else ():
            if sub not in under:
                under.add(sub)
                stack.append(sub)
    names = [st.groups[g].name for g in direct & under if g in st.groups]
    return min(names) if names else None
