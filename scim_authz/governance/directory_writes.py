"""SCIM directory writes, counted per IdP token and day (UTC), and, when the tenant turns it on
(`log_directory_writes`), each one in the administrative change log as well.

The count is written at the end of the request's transaction, just before the commit, so the
row it increments is locked only as long as the tenant's revision already is: concurrent writes of
one token wait for each other no longer than they did before.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from scim_authz.db.extensions import db
from scim_authz.db.models import Credential, DirectoryWriteCount, Tenant, utcnow
from scim_authz.governance import changelog

_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def count(tenant_id: int, credential_id: int, method: str, path: str, status: int) -> None:
    """One successful SCIM write by this token, in the current transaction."""
    table = DirectoryWriteCount.__table__
    insert = _INSERT[db.session.get_bind().dialect.name](table)
    db.session.execute(insert.values(tenant_id=tenant_id, credential_id=credential_id,
                                     day=utcnow().date().isoformat(), writes=1)
                       .on_conflict_do_update(index_elements=["tenant_id", "credential_id", "day"],
                                              set_={"writes": table.c.writes + 1}))
    tenant = db.session.get(Tenant, tenant_id)
    if (tenant.settings or {}).get("log_directory_writes"):
        changelog.record(tenant_id, f"scim.{method.lower()}", path, after={"status": status})


def counts(tenant_id: int, days: int = 31) -> list[dict]:
    """The tenant's counts of the last `days` days, newest day first, per token."""
    first = (utcnow() - timedelta(days=days - 1)).date().isoformat()
    rows = db.session.execute(
        select(DirectoryWriteCount, Credential.prefix, Credential.name)
        .join(Credential, Credential.id == DirectoryWriteCount.credential_id, isouter=True)
        .where(DirectoryWriteCount.tenant_id == tenant_id, DirectoryWriteCount.day >= first)
        .order_by(DirectoryWriteCount.day.desc(), DirectoryWriteCount.credential_id)).all()
    return [{"day": c.day, "token": {"id": c.credential_id, "prefix": prefix, "name": name}, "writes": c.writes}
            for c, prefix, name in rows]
