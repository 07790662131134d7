"""Read-only queries the console needs over the directory: search and paging, and a group's members
a page at a time. (Who a mapping would reach is the engine's answer: policy/mapping_preview.py.)"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select

from scim_authz.db.extensions import db
from scim_authz.db.models import Group, GroupMember, User

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
