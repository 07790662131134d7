"""How many users and groups a tenant holds, kept on its row (tenants.user_count, group_count).

The directory service counts each create and delete (`adjust_counts`, scim_authz/pdp/changes.py),
and the counts change in the statement that advances the tenant's revision, in the same
transaction, so a count read in any transaction is exactly the number of rows that transaction
sees (an unfiltered listing's totalResults: no count(*) over 100,000 rows).

Code that inserts or deletes users or groups without the directory service (a bulk load) calls
`adjust_counts(tenant_id, users=…, groups=…)` with the rows it wrote, or `recount` after writing them.
"""
from __future__ import annotations

from sqlalchemy import bindparam, func, select, update

from scim_authz.db.extensions import db
from scim_authz.db.models import Group, Tenant, User
from scim_authz.db.prepared import prepared, run
from scim_authz.pdp.changes import forget_counts

COLUMN = {"User": Tenant.user_count, "Group": Tenant.group_count}


def total(tenant_id: int, rtype: str) -> int:
    """How many users ("User") or groups ("Group") the tenant holds."""
    column = COLUMN[rtype]
    stmt = prepared(("tenant.count", rtype), lambda: select(column).where(Tenant.id == bindparam("tenant_id")))
    return run(stmt, {"tenant_id": tenant_id}).scalar_one()


def recount(tenant_id: int) -> tuple[int, int]:
    """Set the tenant's counts from its rows, in the current transaction; returns (users, groups).

    The tenant's row is locked first and the rows counted after, by statements of their own: on
    PostgreSQL (read committed) the count then sees every transaction that changed the counts
    before the lock was granted, and any later one adds its own change on top."""
    db.session.flush()
    db.session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())
    users = db.session.execute(select(func.count()).select_from(User).where(User.tenant_id == tenant_id)).scalar_one()
    groups = db.session.execute(select(func.count()).select_from(Group).where(Group.tenant_id == tenant_id)
                                ).scalar_one()
    db.session.execute(update(Tenant).where(Tenant.id == tenant_id).values(user_count=users, group_count=groups)
                       .execution_options(synchronize_session=False))
    forget_counts(tenant_id)  # (what this transaction created or deleted so far is in the rows counted)
    return users, groups
