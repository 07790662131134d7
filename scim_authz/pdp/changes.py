"""The change log: every write that can change a decision advances the tenant's revision and says
what it touched, in the same transaction, so each instance's engine can catch up incrementally."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, update

from scim_authz.authz.changes import KINDS
from scim_authz.db.extensions import db
from scim_authz.db.models import Change, Tenant
from scim_authz.pdp import revision_signal


def record(tenant_id: int, kind: str, refs: Iterable[str]) -> int:
    """Advance the tenant's revision and log what changed; returns the new revision."""
    if kind not in KINDS:
        raise ValueError(f"unknown change kind {kind!r}")
    revision = db.session.execute(
        update(Tenant).where(Tenant.id == tenant_id).values(revision=Tenant.revision + 1)
        .returning(Tenant.revision)
    ).scalar_one()
    revision_signal.mark_advanced(db.session)
    rows = [{"tenant_id": tenant_id, "revision": revision, "kind": kind, "ref": ref} for ref in refs]
    if rows:
        db.session.execute(insert(Change), rows)
    return revision


def current_revision(tenant_id: int) -> int:
    """The tenant's revision as this transaction sees it."""
    return db.session.get(Tenant, tenant_id).revision


def prune(tenant_id: int | None, keep: int) -> int:
    """Delete all but the newest `keep` revisions' changes (per tenant); returns rows deleted.
    An instance further behind than what is kept reloads its tenant whole."""
    from sqlalchemy import delete, select

    deleted = 0
    tenants = [tenant_id] if tenant_id is not None else list(db.session.execute(select(Tenant.id)).scalars())
    for tid in tenants:
        newest = db.session.get(Tenant, tid).revision
        deleted += db.session.execute(delete(Change).where(
            Change.tenant_id == tid, Change.revision <= newest - keep)).rowcount or 0
    return deleted
