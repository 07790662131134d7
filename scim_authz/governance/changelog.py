"""The administrative change log: one append-only row per administrative change, written in the
same transaction as the change (so a change that rolls back leaves no entry, and no change commits
without one), saying who, when, through which surface, and the before and after as JSON.

Nothing in the application updates or deletes an entry: the session refuses to flush an update or
delete of one (`_append_only`), and `prune` (retention, `flask prune-admin-changes`) is the only
delete, a bulk statement outside the ORM.
"""
from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from scim_authz.db.extensions import db
from scim_authz.db.models import AdminChange, utcnow
from scim_authz.governance.actor import current
from scim_authz.policy.errors import InvalidInput

TARGET_MAX = 600


def record(tenant_id: int | None, action: str, target: str = "", *, before=None, after=None) -> AdminChange:
    """Log one change by the current actor (governance.actor) in the current transaction."""
    who = current()
    row = AdminChange(tenant_id=tenant_id, at=utcnow(), actor_kind=who.kind, actor=who.name[:300],
                      surface=who.surface, action=action, target=target[:TARGET_MAX], before=before, after=after,
                      request_id=who.request_id)
    db.session.add(row)
    return row


def entry_dict(r: AdminChange) -> dict:
    return {"id": r.id, "at": r.at.isoformat(timespec="milliseconds") + "Z",
            "actor": {"kind": r.actor_kind, "name": r.actor}, "surface": r.surface, "action": r.action,
            "target": r.target, "before": r.before, "after": r.after, "request_id": r.request_id}


FILTERS = ("action", "actor", "surface", "target")


def list_changes(tenant_id: int, filters: dict, since: datetime | None, until: datetime | None,
                 cursor: str | None, limit: int) -> dict:
    """A tenant's entries, newest first, a page at a time (the cursor names the last id given).
    `action` matches a prefix ("role." for every role change); the other filters exactly."""
    q = select(AdminChange).where(AdminChange.tenant_id == tenant_id)
    for name, value in filters.items():
        if value is None:
            continue
        if name == "action":
            q = q.where(AdminChange.action.startswith(value, autoescape=True))
        else:
            q = q.where(getattr(AdminChange, "actor" if name == "actor" else name) == value)
    if since is not None:
        q = q.where(AdminChange.at >= since)
    if until is not None:
        q = q.where(AdminChange.at < until)
    if cursor:
        q = q.where(AdminChange.id < _cursor(cursor))
    rows = db.session.execute(q.order_by(AdminChange.id.desc()).limit(limit + 1)).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = base64.urlsafe_b64encode(str(rows[-1].id).encode()).decode() if more else None
    return {"changes": [entry_dict(r) for r in rows], "next_cursor": nxt}


def _cursor(raw: str) -> int:
    try:
        return int(base64.b64decode(raw.encode(), altchars=b"-_", validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError) as e:
        raise InvalidInput("cursor is not one this API gave", details={"cursor": ["not a cursor"]}) from e


def prune(older_than_days: int, now: datetime | None = None) -> int:
    """Retention: delete entries older than the given number of days; how many went."""
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    return db.session.execute(delete(AdminChange).where(AdminChange.at < cutoff)).rowcount or 0


@event.listens_for(Session, "before_flush")
def _append_only(session: Session, _ctx, _instances) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AdminChange) and (obj in session.deleted or session.is_modified(obj)):
            raise RuntimeError("the administrative change log is append-only")
