"""Finding users, groups and roles of a tenant by the keys callers use."""
from __future__ import annotations

from sqlalchemy import or_, select

from scim_authz.db.extensions import db
from scim_authz.db.models import Group, Role, User
from scim_authz.policy.errors import NotFound


def find_user(tenant_id: int, key: str) -> User | None:
    """A user by id, externalId or userName (case-insensitively), in that order."""
    user = db.session.get(User, key)
    if user is not None and user.tenant_id == tenant_id:
        return user
    rows = db.session.execute(select(User).where(
        User.tenant_id == tenant_id, or_(User.external_id == key, User.user_name_ci == key.lower()))).scalars().all()
    by_ext = [u for u in rows if u.external_id == key]
    return (by_ext or rows or [None])[0]


def user_or_404(tenant_id: int, key: str) -> User:
    user = find_user(tenant_id, key)
    if user is None:
        raise NotFound(f"no user {key!r} in this tenant")
    return user


def group_or_404(tenant_id: int, key: str) -> Group:
    """A group by id, or by displayName (case-insensitively) when that names exactly one."""
    group = db.session.get(Group, key)
    if group is not None and group.tenant_id == tenant_id:
        return group
    rows = db.session.execute(select(Group).where(
        Group.tenant_id == tenant_id, Group.display_name_ci == key.lower())).scalars().all()
    if len(rows) == 1:
        return rows[0]
    if len(rows) > 1:
        raise NotFound(f"{len(rows)} groups are named {key!r}; give the group's id")
    raise NotFound(f"no group {key!r} in this tenant")


def role_or_none(tenant_id: int, key: str) -> Role | None:
    """The tenant's role with this key, or None."""
    return db.session.execute(select(Role).where(Role.tenant_id == tenant_id, Role.key == key)).scalar_one_or_none()


def role_or_404(tenant_id: int, key: str) -> Role:
    role = role_or_none(tenant_id, key)
    if role is None:
        raise NotFound(f"no role {key!r} in this tenant")
    return role


def role_exists(tenant_id: int, key: str) -> bool:
    return db.session.execute(select(Role.id).where(Role.tenant_id == tenant_id, Role.key == key)).first() is not None
