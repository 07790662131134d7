"""The decision log as applications read it, and monthly active users."""
from __future__ import annotations

import base64
import json
from datetime import datetime

from sqlalchemy import func, select

from scim_authz.db.extensions import db
from scim_authz.db.models import ActiveUser, Decision
from scim_authz.policy.errors import InvalidInput


def _cursor(at: datetime, did: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), did]).encode()).decode()


def _uncursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, did = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), did
    except (ValueError, TypeError) as e:
        raise InvalidInput("the cursor is not one this API gave", details={"cursor": ["invalid"]}) from e


def decision_dict(d: Decision) -> dict:
    return {"id": d.id, "at": d.at.isoformat(timespec="milliseconds") + "Z", "asked_by": d.asked_by,
            "user": d.user_id, "user_key": d.user_key, "action": d.action,
            "resource": f"{d.resource_type}:{d.resource_id}", "allowed": d.allowed, "reason": d.reason,
            "revision": d.revision}


def list_decisions(tenant_id: int, *, user_id: str | None = None, allowed: bool | None = None,
                   resource_type: str | None = None, action: str | None = None, since: datetime | None = None,
                   until: datetime | None = None, cursor: str | None = None, limit: int = 100) -> dict:
    """Newest first, a page at a time. The log is indexed by time alone: a filter (a user, say)
    walks the tenant's decisions from the newest, so a `since` bounds the walk."""
    q = select(Decision).where(Decision.tenant_id == tenant_id)
    if user_id is not None:
        q = q.where(Decision.user_id == user_id)
    if allowed is not None:
        q = q.where(Decision.allowed == allowed)
    if resource_type:
        q = q.where(Decision.resource_type == resource_type)
    if action:
        q = q.where(Decision.action == action)
    if since:
        q = q.where(Decision.at >= since)
    if until:
        q = q.where(Decision.at < until)
    if cursor:
        at, did = _uncursor(cursor)
        q = q.where((Decision.at < at) | ((Decision.at == at) & (Decision.id < did)))
    rows = db.session.execute(q.order_by(Decision.at.desc(), Decision.id.desc()).limit(limit + 1)).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"decisions": [decision_dict(r) for r in rows],
            "next_cursor": _cursor(rows[-1].at, rows[-1].id) if more else None}


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1)


def _next_month(d: datetime) -> datetime:
    return datetime(d.year + (d.month == 12), d.month % 12 + 1, 1)


def usage(tenant_id: int, months: int, now: datetime) -> list[dict]:
    """Monthly active users (distinct users checked) and checks, for the last `months` months."""
    out = []
    start = _month_start(now.year, now.month)
    for _ in range(months):
        end = _next_month(start)
        month = f"{start.year:04d}-{start.month:02d}"
        users = db.session.execute(select(func.count()).select_from(ActiveUser).where(
            ActiveUser.tenant_id == tenant_id, ActiveUser.month == month)).scalar_one()
        checks = db.session.execute(select(func.count()).select_from(Decision).where(
            Decision.tenant_id == tenant_id, Decision.at >= start, Decision.at < end)).scalar_one()
        out.append({"month": month, "monthly_active_users": users, "checks": checks})
        start = _month_start(start.year - (start.month == 1), (start.month - 2) % 12 + 1)
    return out
