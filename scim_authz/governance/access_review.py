"""Access reviews: every user of a tenant with each effective role, where it comes from (the chain
of IdP groups, or who assigned it and when), since when the user has held it, and when the user was
last checked. Read from the engine's in-memory policy, which is exactly what checks decide with,
and from the database for the times (memberships' `added`, mappings' and assignments' `created`,
the decision log)."""
from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy import func, select

from scim_authz.authz import grants as grants_mod
from scim_authz.authz.engine import Engine
from scim_authz.authz.store import TenantStore
from scim_authz.db.extensions import db
from scim_authz.db.models import Decision, GroupMember, GroupRoleMapping, Role
from scim_authz.governance import access_history

COLUMNS = ("user_id", "userName", "externalId", "active", "role", "resource", "source", "provenance",
           "group_chain", "assigned_by", "since", "last_checked")


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="seconds") + "Z" if dt else None


def review(engine: Engine, tenant_id: int) -> list[dict]:
    """One row per (user, effective role) now, users by userName; a user with no role has one row
    whose role is None, so a reviewer sees everyone."""
    st = engine.store(tenant_id)
    added = {(g, m): t for g, m, t in db.session.execute(select(
        GroupMember.group_id, GroupMember.member_id, GroupMember.added).where(GroupMember.tenant_id == tenant_id))}
    mapped = {(g, k, rt, ri): t for g, k, rt, ri, t in db.session.execute(
        select(GroupRoleMapping.group_id, Role.key, GroupRoleMapping.resource_type, GroupRoleMapping.resource_id,
               GroupRoleMapping.created).join(Role, Role.id == GroupRoleMapping.role_id)
        .where(GroupRoleMapping.tenant_id == tenant_id))}
    return rows_of(st, added, mapped, _last_checked(tenant_id, None))


def review_as_of(tenant_id: int, when: datetime) -> list[dict]:
    """The review as it would have read at `when` (UTC), replayed from the access history."""
    st, added, mapped = access_history.store_at(tenant_id, when)
    return rows_of(st, added, mapped, _last_checked(tenant_id, when))


def diff(tenant_id: int, start: datetime, end: datetime) -> dict:
    """Who gained and who lost which role, and through what, between two moments."""
    def keyed(rows):
        return {(r["user_id"], r["role"], r["resource"], r["provenance"]): r for r in rows if r["role"]}
    before, after = keyed(review_as_of(tenant_id, start)), keyed(review_as_of(tenant_id, end))
    trim = ("user_id", "userName", "role", "resource", "source", "provenance", "group_chain", "assigned_by")
    return {"from": _iso(start), "to": _iso(end),
            "gained": [{k: after[x][k] for k in trim} for x in sorted(after.keys() - before.keys(), key=str)],
            "lost": [{k: before[x][k] for k in trim} for x in sorted(before.keys() - after.keys(), key=str)]}


def _last_checked(tenant_id: int, until: datetime | None) -> dict:
    q = select(Decision.user_id, func.max(Decision.at)).where(
        Decision.tenant_id == tenant_id, Decision.user_id.is_not(None))
    if until is not None:
        q = q.where(Decision.at <= until)
    return dict(db.session.execute(q.group_by(Decision.user_id)).all())


def rows_of(st: TenantStore, added: dict, mapped: dict, last: dict) -> list[dict]:
    """The review's rows from a store and the times its links were made."""
    out = []
    for uid, u in sorted(st.users.items(), key=lambda kv: kv[1].user_name.lower()):
        base = {"user_id": uid, "userName": u.user_name, "externalId": u.external_id, "active": u.active,
                "last_checked": _iso(last.get(uid))}
        grants = grants_mod.of(st, uid).grants
        for g in grants:
            row = {**base, "role": g.role, "resource": f"{g.scope[0]}:{g.scope[1]}" if g.scope else None,
                   "source": g.source, "provenance": grants_mod.describe_for(st, uid, g)}
            if g.source == "idp":
                chain = grants_mod.group_chain(st, u.groups, g.via) or [g.via]
                row["group_chain"] = [st.groups[c].name for c in chain if c in st.groups]
                # held since the last link was made: the user's membership, each group's in the
                # next, and the mapping itself
                links = [added.get((chain[0], uid))] + [added.get((chain[i + 1], chain[i]))
                                                         for i in range(len(chain) - 1)]
                links.append(mapped.get((g.via, g.role, *(g.scope or ("", "")))))
                known = [t for t in links if t is not None]
                row["since"] = _iso(max(known)) if len(known) == len(links) else None
                row["assigned_by"] = None
            else:
                row["group_chain"], row["assigned_by"], row["since"] = None, g.via or None, g.since or None
            out.append(row)
        if not grants:
            out.append({**base, "role": None, "resource": None, "source": None, "provenance": None,
                        "group_chain": None, "assigned_by": None, "since": None})
    return out


def as_csv(rows: list[dict]) -> str:
    """The review as CSV (one header line; a group chain as names joined by " > ")."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "group_chain": " > ".join(r["group_chain"] or ()),
                    "active": "true" if r["active"] else "false"})
    return buf.getvalue()
