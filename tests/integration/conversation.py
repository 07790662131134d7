"""What the IdP conversation tests share: reading a SCIM answer, and the rows behind it."""
from __future__ import annotations

from sqlalchemy import select

from scim_authz.db.extensions import db
from scim_authz.db.models import GroupMember, User

SCIM_JSON = "application/scim+json"


def body_of(r):
    assert r.mimetype == SCIM_JSON, (r.status_code, r.headers.get("Content-Type"), r.data[:300])
    return r.get_json(force=True)


def db_user(app, uid: str) -> User | None:
    with app.app_context():
        u = db.session.get(User, uid)
        if u is not None:
            db.session.expunge(u)
        return u


def db_members(app, gid: str) -> set[str]:
    with app.app_context():
        return set(db.session.execute(
            select(GroupMember.member_id).where(GroupMember.group_id == gid)).scalars())
