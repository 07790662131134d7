"""Previewing a group -> role mapping before it is saved (or deleted): the engine says who it
reaches, and the directory's rows are fetched for the page of users shown."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from scim_authz import pdp
from scim_authz.authz.impact import mapping_impact, nested_group_of
from scim_authz.db.extensions import db
from scim_authz.db.models import User


@dataclass
class Impact:
    """Who a group -> role mapping reaches: the users it would give the role, and the rest."""

    members: int  # users in the group, nested groups included
    gaining: list  # (User, via group name or None) of the first `limit` active users who do not hold it yet
    gaining_total: int
    already: int  # members who hold the role on that scope already, by another mapping or assignment
    inactive: int  # deactivated members: every check for them denies anyway


def preview(tenant_id: int, group_id: str, role_key: str, rtype: str = "", rid: str = "", *,
            except_mapping: int | None = None, limit: int = 200) -> Impact:
    """Which users mapping `group_id` to `role_key` on (rtype, rid) would affect, at the tenant's
    newest revision."""
    st = pdp.engine().store(tenant_id)
    found = mapping_impact(st, group_id, role_key, rtype, rid, except_mapping=except_mapping)
    shown = found.gaining[:limit]
    rows = {u.id: u for u in db.session.execute(select(User).where(
        User.tenant_id == tenant_id, User.id.in_(shown))).scalars()} if shown else {}
    gaining = [(rows[uid], nested_group_of(st, group_id, uid)) for uid in shown if uid in rows]
    return Impact(found.members, gaining, len(found.gaining), found.already, found.inactive)
