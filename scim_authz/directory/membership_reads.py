"""Who is in which group, read: a user's groups (direct, then through nesting) and a group's
members, for rendering and for the checks a membership change makes. Writes are in service.py.
"""
from __future__ import annotations

from sqlalchemy import bindparam, select

from scim_authz.db.extensions import db
from scim_authz.db.models import Group, GroupMember
from scim_authz.db.prepared import prepared, run

# A user's groups are listed through at most this many levels of nesting (one query a level).
MAX_GROUP_DEPTH = 32


def groups_of_users(tenant_id: int, user_ids: list[str]) -> dict[str, list[dict]]:
    """Each user's groups (RFC 7643 §4.1.2): direct memberships, then groups reached through nesting."""
    result: dict[str, list[dict]] = {uid: [] for uid in user_ids}
    if not user_ids:
        return result
    if db.session.registry.has():  # (none yet in a read: nothing of its own to flush, none to make)
        db.session.flush()  # (a group renamed in this transaction shows its new name)
    rows = _memberships_of(tenant_id, user_ids)
    direct: dict[str, set[str]] = {uid: set() for uid in user_ids}
    names: dict[str, str] = {}
    for uid, gid, name in rows:
        direct[uid].add(gid)
        names[gid] = name
    parents = parent_closure(tenant_id, {g for gs in direct.values() for g in gs}, names)
    for uid in user_ids:
        seen = set(direct[uid])
        entries = [{"value": g, "display": names[g], "type": "direct"} for g in sorted(direct[uid])]
        frontier = list(direct[uid])
        while frontier:
            g = frontier.pop()
            for p in parents.get(g, ()):
                if p not in seen:
                    seen.add(p)
                    frontier.append(p)
                    entries.append({"value": p, "display": names[p], "type": "indirect"})
        result[uid] = entries
    return result


def _memberships_of(tenant_id: int, member_ids) -> list:
    """(member id, group id, group displayName) of each group the members are direct members of."""
    def build():
        gm, g = GroupMember.__table__, Group.__table__
        return (select(gm.c.member_id, g.c.id, g.c.display_name).join(g, g.c.id == gm.c.group_id)
                .where(gm.c.member_id.in_(bindparam("ids", expanding=True)), gm.c.tenant_id == bindparam("tenant_id")))
    return run(prepared("memberships.of", build), {"ids": list(member_ids), "tenant_id": tenant_id}).all()


def parent_closure(tenant_id: int, start: set[str], names: dict[str, str],
                   max_depth: int | None = MAX_GROUP_DEPTH) -> dict[str, set[str]]:
    """group -> the groups it is a direct member of, for every group reachable upward from `start`
    within `max_depth` levels (None: all of them; each group is read once, so a cycle ends the walk)."""
    parents: dict[str, set[str]] = {}
    frontier = set(start)
    depth = 0
    while max_depth is None or depth < max_depth:
        depth += 1
        frontier -= parents.keys()
        if not frontier:
            break
        rows = _memberships_of(tenant_id, frontier)
        for g in frontier:
            parents[g] = set()
        nxt = set()
        for child, parent, name in rows:
            parents[child].add(parent)
            names[parent] = name
            nxt.add(parent)
        frontier = nxt
    return parents


def members_of_groups(group_ids: list[str]) -> dict[str, list[dict]]:
    """Members of each group as SCIM member values ({value, type}), in the order they joined."""
    result: dict[str, list[dict]] = {g: [] for g in group_ids}
    if not group_ids:
        return result
    rows = db.session.execute(
        select(GroupMember.group_id, GroupMember.member_id, GroupMember.member_type)
        .where(GroupMember.group_id.in_(group_ids)).order_by(GroupMember.added, GroupMember.member_id)
    ).all()
    for gid, mid, mtype in rows:
        result[gid].append({"value": mid, "type": mtype})
    return result


def member_ids_matching(group: Group) -> list[dict]:
    """All members of one group as plain values (for a member filter the SQL cannot express)."""
    return members_of_groups([group.id])[group.id]
