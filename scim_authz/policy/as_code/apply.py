"""A policy file applied to a tenant: once validated (validate.py: the edges and promote.py do it
first, assertions included), its groups and users are found in the tenant, it is compared with
what the tenant holds, and the difference is written through the policy services (roles.py,
mappings.py, assignments.py, tenants.py, relationships.py, resources.py), so the engine's change
log and the administrative change log say what each write did.

All or nothing: the writes run in a savepoint of the caller's transaction, and a failure anywhere
leaves nothing. One revision: inside pdp.changes.one_revision(), however many writes it takes.
Idempotent: a file the tenant already matches writes nothing at all (no revision, no log entry).
A dry run makes every write and rolls them back, so it fails exactly where an apply would."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from scim_authz.db.extensions import db
from scim_authz.db.models import Group
from scim_authz.governance import changelog
from scim_authz.governance.actor import current as current_actor
from scim_authz.pdp.changes import one_revision, savepoint
from scim_authz.policy import assignments, mappings, relationships, resources, roles, tenants
from scim_authz.policy.as_code.diff import Plan, headline, plan
from scim_authz.policy.as_code.document import Policy, relationship_text
from scim_authz.policy.as_code.resolve import resolve
from scim_authz.policy.as_code.state import Current, read_current


@dataclass
class Applied:
    """What an apply did (or, dry, would do): the plan, and the revision it made (would make);
    the tenant's revision as it was when nothing changed."""

    tenant_key: str
    plan: Plan
    revision: int
    dry_run: bool

    @property
    def changed(self) -> bool:
        return not self.plan.empty

    def to_dict(self) -> dict:
        return {"tenant": self.tenant_key, "dry_run": self.dry_run, "applied": self.changed and not self.dry_run,
                "revision": self.revision, "summary": headline(self.plan), "counts": self.plan.counts(),
                "changes": [c.to_dict() for c in self.plan.changes]}


class _RollBack(Exception):
    """Ends a dry run's savepoint."""


def diff_policy(tenant_id: int, policy: Policy) -> tuple[Current, Plan]:
    """What applying `policy` would change (reads only)."""
    cur = read_current(tenant_id, policy.sections.keys())
    groups, users = resolve(tenant_id, cur.key, policy)
    return cur, plan(policy, cur, groups, users)


def apply_policy(tenant_id: int, policy: Policy, *, dry_run: bool = False, target: str = "api",
                 action: str = "policy.apply", by: str | None = None) -> Applied:
    """Make the tenant hold what `policy` says; the caller commits. `target` names the file (or
    "api") in the administrative change log, under `action`; `by` is who mappings and assignments
    say made them (the acting identity's name by default)."""
    cur, p = diff_policy(tenant_id, policy)
    if p.empty:
        return Applied(cur.key, p, cur.revision, dry_run)
    by = by or current_actor().name
    revision = cur.revision
    try:
        with savepoint(), one_revision() as coming:
            _execute(tenant_id, cur, p, by)
            revision = coming[tenant_id]
            changelog.record(tenant_id, action, target, before=cur.summary(), after=p.summary(revision))
            if dry_run:
                raise _RollBack
    except _RollBack:
        pass
    return Applied(cur.key, p, revision, dry_run)


def _execute(tid: int, cur: Current, p: Plan, by: str) -> None:
    """The writes, in an order every intermediate state allows: grants go before their roles do,
    parents are written before the roles that extend them, roles that extend others are deleted
    before those, settings last (the default role exists by then)."""
    for mid in p.remove_mappings:
        mappings.unmap(tid, mid)
    for aid in p.remove_assignments:
        assignments.unassign(tid, aid)
    if p.schema is not None:
        relationships.write_schema(tid, p.schema, by)
    creating = {r["key"] for r in p.create_roles}
    for r in parents_first(p.create_roles + p.update_roles):
        data = {k: r[k] for k in ("key", "name", "description", "permissions", "extends", "condition")}
        if r["key"] in creating:
            roles.create_role(tid, data)
        else:
            roles.update_role(tid, r["key"], data, partial=False)
    _load(Group, {gid for gid, _, _ in p.add_mappings})  # each map_group then finds its group in the session
    for gid, role, resource in p.add_mappings:
        mappings.map_group(tid, gid, role, resource, by)
    for uid, role, resource in p.add_assignments:
        assignments.assign(tid, uid, role, resource, by)
    for key in heirs_first(cur.roles, p.delete_roles):
        roles.delete_role(tid, key)
    if p.settings:
        tenants.update_settings(tid, dict(p.settings))
    if p.remove_relationships:
        relationships.delete_relationships(tid, [_item(t) for t in p.remove_relationships])
    if p.add_relationships:
        relationships.write_relationships(tid, [_item(t) for t in p.add_relationships])
    if p.put_resources:
        resources.put_resources(tid, p.put_resources)
    for rtype, rid in p.delete_resources:
        resources.delete_resource(tid, rtype, rid)


def _load(model, ids: set[str]) -> None:
    """Read these rows into the session at once (a few queries rather than one per row)."""
    ids = sorted(ids)
    for n in range(0, len(ids), 500):
        db.session.execute(select(model).where(model.id.in_(ids[n:n + 500]))).scalars().all()


def _item(t: tuple) -> dict:
    text = relationship_text(t)
    resource, _, rest = text.partition("#")
    relation, _, subject = rest.partition("@")
    return {"resource": resource, "relation": relation, "subject": subject}


def parents_first(items: list[dict]) -> list[dict]:
    """Roles ordered so that each comes after the roles among them it extends."""
    by_key = {r["key"]: r for r in items}
    out, placed = [], set()
    pending = list(by_key)
    while pending:
        ready = [k for k in pending if all(p in placed or p not in by_key for p in by_key[k]["extends"])]
        if not ready:  # a cycle: validation refuses one, so this is never reached with a valid file
            ready = pending[:1]
        for k in ready:
            out.append(by_key[k])
            placed.add(k)
        pending = [k for k in pending if k not in placed]
    return out


def heirs_first(held: dict[str, dict], keys: list[str]) -> list[str]:
    """Roles to delete, each before any of them it extends (delete_role refuses a parent first);
    `held` is the tenant's roles as they were read."""
    doomed = {k: [p for p in held[k]["extends"] if p in keys] for k in keys if k in held}
    order = [r["key"] for r in parents_first([{"key": k, "extends": v} for k, v in doomed.items()])]
    return list(reversed(order))
