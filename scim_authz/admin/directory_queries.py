"""Read-only queries the console needs over the directory: search and paging, a group's members a
page at a time, and the users under a group through nested groups (one recursive SQL query)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select, union

from scim_authz.db.extensions import db
from scim_authz.db.models import Group, GroupMember, GroupRoleMapping, Role, RoleAssignment, User

PAGE_SIZE = 25


@dataclass
class Page:
    """One page of rows, with what a pager needs."""

    rows: list
    page: int
    total: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        return (self.page - 1) * self.size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def _like(text: str) -> str:
    """A contains-pattern for LIKE, with the wildcards in the text escaped."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _paged(q, count_q, page: int, size: int = PAGE_SIZE, scalars: bool = False) -> Page:
    total = db.session.execute(count_q).scalar_one()
    result = db.session.execute(q.limit(size).offset((page - 1) * size))
    return Page(result.scalars().all() if scalars else result.all(), page, total, size)


def search_users(tenant_id: int, text: str = "", status: str = "all", page: int = 1,
                 size: int = PAGE_SIZE) -> Page:
    """Users whose userName contains `text` (on the indexed lowercase column), active/inactive/all."""
    where = [User.tenant_id == tenant_id]
    if text:
        where.append(User.user_name_ci.like(_like(text), escape="\\"))
    if status in ("active", "inactive"):
        where.append(User.active.is_(status == "active"))
    q = select(User).where(*where).order_by(User.user_name_ci, User.id)
    return _paged(q, select(func.count()).select_from(User).where(*where), page, size, scalars=True)


def _member_counts():
    return (select(GroupMember.group_id, func.count().label("n")).group_by(GroupMember.group_id)
            .subquery("member_counts"))


def search_groups(tenant_id: int, text: str = "", page: int = 1, size: int = PAGE_SIZE) -> Page:
    """Groups whose displayName contains `text`, with their direct member counts."""
    where = [Group.tenant_id == tenant_id]
    if text:
        where.append(Group.display_name_ci.like(_like(text), escape="\\"))
    counts = _member_counts()
    q = (select(Group, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.group_id == Group.id)
         .where(*where).order_by(Group.display_name_ci, Group.id))
    return _paged(q, select(func.count()).select_from(Group).where(*where), page, size)


def group_choices(tenant_id: int, text: str = "", limit: int = 200) -> tuple[list[Group], bool]:
    """Groups to offer in a picker (by name), and whether there were more than `limit`."""
    q = select(Group).where(Group.tenant_id == tenant_id)
    if text:
        q = q.where(Group.display_name_ci.like(_like(text), escape="\\"))
    rows = db.session.execute(q.order_by(Group.display_name_ci).limit(limit + 1)).scalars().all()
    return rows[:limit], len(rows) > limit


def members_page(group: Group, page: int = 1, size: int = PAGE_SIZE) -> Page:
    """A group's direct members, nested groups first, then by name: (kind, id, name, active) per row."""
    where = [GroupMember.group_id == group.id]
    name = func.coalesce(User.user_name_ci, Group.display_name_ci)
    q = (select(GroupMember.member_type, GroupMember.member_id,
                func.coalesce(User.user_name, Group.display_name), func.coalesce(User.active, True))
         .outerjoin(User, and_(GroupMember.member_type == "User", User.id == GroupMember.member_id))
         .outerjoin(Group, and_(GroupMember.member_type == "Group", Group.id == GroupMember.member_id))
         .where(*where).order_by(GroupMember.member_type, name, GroupMember.member_id))
    return _paged(q, select(func.count()).select_from(GroupMember).where(*where), page, size)


def parent_groups(group: Group) -> list[Group]:
    """The groups this group is a direct member of."""
    return list(db.session.execute(select(Group).join(GroupMember, GroupMember.group_id == Group.id).where(
        GroupMember.member_id == group.id, GroupMember.tenant_id == group.tenant_id)
        .order_by(Group.display_name_ci)).scalars())


def _subgroups(tenant_id: int, group_ids, name: str = "subgroups"):
    """A recursive CTE of the given groups and every group nested in them (UNION stops at repeats)."""
    seed = select(Group.id.label("gid")).where(Group.tenant_id == tenant_id, Group.id.in_(group_ids))
    sub = seed.cte(name, recursive=True)
    nested = select(GroupMember.member_id).join(sub, GroupMember.group_id == sub.c.gid).where(
        GroupMember.member_type == "Group", GroupMember.tenant_id == tenant_id)
    return sub.union(nested)


def users_under(tenant_id: int, group_ids, name: str = "subgroups"):
    """A select of the ids of users in these groups, directly or through nested groups."""
    sub = _subgroups(tenant_id, group_ids, name)
    return (select(GroupMember.member_id.label("uid")).join(sub, GroupMember.group_id == sub.c.gid)
            .where(GroupMember.member_type == "User").distinct())


@dataclass
class Impact:
    """Who a group → role mapping reaches: the users it would give the role, and the rest."""

    members: int  # users in the group, nested groups included
    gaining: list  # (User, via group name) of the first `limit` active users who do not hold it yet
    gaining_total: int
    already: int  # members who hold the role on that scope already, by another mapping or assignment
    inactive: int  # deactivated members: every check for them denies anyway


def mapping_impact(tenant_id: int, group_id: str, role: Role, rtype: str, rid: str, role_mode: str,
                   except_mapping: int | None = None, limit: int = 200) -> Impact:
    """Which users mapping `group_id` to `role` on (rtype, rid) would affect, before it is saved."""
    members = users_under(tenant_id, [group_id]).subquery("members")
    others = select(GroupRoleMapping.group_id).where(
        GroupRoleMapping.tenant_id == tenant_id, GroupRoleMapping.role_id == role.id,
        GroupRoleMapping.resource_type == rtype, GroupRoleMapping.resource_id == rid)
    if except_mapping is not None:
        others = others.where(GroupRoleMapping.id != except_mapping)
    holders = [users_under(tenant_id, others, "held_groups")] if role_mode != "app" else []
    if role_mode != "idp":
        holders.append(select(RoleAssignment.user_id).where(
            RoleAssignment.tenant_id == tenant_id, RoleAssignment.role_id == role.id,
            RoleAssignment.resource_type == rtype, RoleAssignment.resource_id == rid))
    held = (union(*holders) if len(holders) > 1 else holders[0]).subquery("held")  # a mode is never both
    held_col = next(iter(held.c))
    base = select(User).join(members, members.c.uid == User.id).where(User.tenant_id == tenant_id)
    total = db.session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    inactive = db.session.execute(select(func.count()).select_from(
        base.where(User.active.is_(False)).subquery())).scalar_one()
    gain_q = base.where(User.active.is_(True), User.id.not_in(select(held_col)))
    gaining_total = db.session.execute(select(func.count()).select_from(gain_q.subquery())).scalar_one()
    users = db.session.execute(gain_q.order_by(User.user_name_ci).limit(limit)).scalars().all()
    return Impact(total, [(u, via) for u, via in zip(users, _via(tenant_id, group_id, users), strict=True)], gaining_total,
                  total - inactive - gaining_total, inactive)


def _via(tenant_id: int, group_id: str, users: list[User]) -> list[str | None]:
    """For each user, None when a direct member of `group_id`, else a nested group it is directly in."""
    if not users:
        return []
    sub = _subgroups(tenant_id, [group_id])
    rows = db.session.execute(
        select(GroupMember.member_id, Group.id, Group.display_name)
        .join(sub, GroupMember.group_id == sub.c.gid).join(Group, Group.id == GroupMember.group_id)
        .where(GroupMember.member_id.in_([u.id for u in users]))).all()
    found: dict[str, list[tuple[str, str]]] = {}
    for uid, gid, name in rows:
        found.setdefault(uid, []).append((gid, name))
    out = []
    for u in users:
        groups = found.get(u.id, [])
        out.append(None if any(g == group_id for g, _ in groups) else min((n for _, n in groups), default=None))
    return out
