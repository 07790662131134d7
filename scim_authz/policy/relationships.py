"""The relationship schema (versioned, written only when valid) and relationships (in batches,
checked against the schema in force)."""
from __future__ import annotations

from sqlalchemy import delete, func, select, tuple_

from scim_authz.authz.changes import RELATIONSHIP, SCHEMA, relationship_ref
from scim_authz.authz.schema_dsl import SchemaError, parse_schema, validate_schema
from scim_authz.authz.schema_model import CompiledSchema
from scim_authz.db.extensions import db
from scim_authz.db.models import AuthzSchema, Relationship
from scim_authz.governance import changelog
from scim_authz.pdp.changes import current_revision, record
from scim_authz.policy.errors import InvalidInput, InvalidSchema, NotFound


def _issues(issues) -> list[dict]:
    return [{"line": i.line, "column": i.column, "message": i.message} for i in issues]


def validate(source: str) -> dict:
    """Validate without writing: {"valid": bool, "errors": [{line, column, message}]}."""
    issues = validate_schema(source)
    return {"valid": not issues, "errors": _issues(issues)}


def schema_dict(s: AuthzSchema) -> dict:
    return {"version": s.version, "source": s.source, "created": s.created.isoformat(timespec="seconds") + "Z",
            "created_by": s.created_by, "entities": sorted(s.compiled.get("entities", {}))}


def write_schema(tenant_id: int, source: str, actor: str) -> tuple[dict, int]:
    """A new version from valid source; the newest version is the one checks use."""
    try:
        compiled = parse_schema(source)
    except SchemaError as e:
        raise InvalidSchema("the schema is not valid; nothing was written", details=_issues(e.errors)) from e
    newest = db.session.execute(select(func.max(AuthzSchema.version)).where(
        AuthzSchema.tenant_id == tenant_id)).scalar() or 0
    previous = db.session.execute(select(AuthzSchema.source).where(
        AuthzSchema.tenant_id == tenant_id, AuthzSchema.version == newest)).scalar() if newest else None
    row = AuthzSchema(tenant_id=tenant_id, version=newest + 1, source=source, compiled=compiled.to_json(),
                      created_by=actor)
    db.session.add(row)
    db.session.flush()
    changelog.record(tenant_id, "schema.write", f"version {row.version}",
                     before={"version": newest, "source": previous} if newest else None,
                     after={"version": row.version, "source": source})
    return schema_dict(row), record(tenant_id, SCHEMA, [str(row.version)])


def get_schema(tenant_id: int, version: int | None = None) -> AuthzSchema:
    q = select(AuthzSchema).where(AuthzSchema.tenant_id == tenant_id)
    q = q.where(AuthzSchema.version == version) if version else q.order_by(AuthzSchema.version.desc()).limit(1)
    row = db.session.execute(q).scalar_one_or_none()
    if row is None:
        raise NotFound(f"schema version {version} does not exist" if version else "this tenant has no schema yet")
    return row


def list_versions(tenant_id: int) -> list[dict]:
    rows = db.session.execute(select(AuthzSchema).where(AuthzSchema.tenant_id == tenant_id)
                              .order_by(AuthzSchema.version.desc())).scalars()
    return [{k: v for k, v in schema_dict(r).items() if k != "source"} for r in rows]


def _split(item: dict) -> tuple[str, str, str, str, str, str]:
    rtype, _, rid = item["resource"].partition(":")
    subject, _, srel = item["subject"].partition("#")
    stype, _, sid = subject.partition(":")
    return rtype, rid, item["relation"], stype, sid, srel


def _check_against(schema: CompiledSchema, t: tuple) -> str | None:
    rtype, _rid, rel, stype, _sid, srel = t
    entity = schema.entities.get(rtype)
    if entity is None:
        return f"the schema has no entity {rtype!r}"
    rdef = entity.relations.get(rel)
    if rdef is None:
        return f"{rtype} has no relation {rel!r}" + (" (it is a permission, computed, not written)"
                                                      if rel in entity.permissions else "")
    allowed = {(s.type, s.relation or "") for s in rdef.subjects}
    if (stype, srel) not in allowed:
        shown = ", ".join(f"@{t}" + (f"#{r}" if r else "") for t, r in sorted(allowed))
        return f"{rtype}#{rel} takes {shown}, not @{stype}" + (f"#{srel}" if srel else "")
    return None


def write_relationships(tenant_id: int, items: list[dict]) -> tuple[int, int]:
    """Write a batch (all or nothing); relationships already present are left as they are.
    Returns (how many were new, revision)."""
    row = get_schema(tenant_id) if items else None
    schema = CompiledSchema.from_json(row.compiled)
    tuples = [_split(i) for i in items]
    problems = {str(n): [p] for n, t in enumerate(tuples) if (p := _check_against(schema, t))}
    if problems:
        raise InvalidInput("relationships refer to what the schema lacks; nothing was written",
                             details={"relationships": problems})
    unique = list(dict.fromkeys(tuples))
    existing = _existing(tenant_id, unique)
    new = [t for t in unique if t not in existing]
    if not new:
        return 0, current_revision(tenant_id)
    revision = record(tenant_id, RELATIONSHIP, [relationship_ref(t) for t in new])
    changelog.record(tenant_id, "relationships.write", f"{len(new)} relationships", after=summary(new))
    db.session.execute(Relationship.__table__.insert(), [
        {"tenant_id": tenant_id, "resource_type": t[0], "resource_id": t[1], "relation": t[2], "subject_type": t[3],
         "subject_id": t[4], "subject_relation": t[5], "revision": revision} for t in new])
    return len(new), revision


SUMMARY_SAMPLE = 20  # relationships a change log entry names; it counts them all


def summary(tuples: list[tuple]) -> dict:
    """A batch of relationships as the change log keeps it: how many, and the first few."""
    return {"count": len(tuples), "first": [
        f"{t[0]}:{t[1]}#{t[2]}@{t[3]}:{t[4]}" + (f"#{t[5]}" if t[5] else "") for t in tuples[:SUMMARY_SAMPLE]]}


COLS = (Relationship.resource_type, Relationship.resource_id, Relationship.relation, Relationship.subject_type,
        Relationship.subject_id, Relationship.subject_relation)


def _existing(tenant_id: int, tuples: list[tuple]) -> set[tuple]:
    found: set[tuple] = set()
    for i in range(0, len(tuples), 500):
        chunk = tuples[i:i + 500]
        found |= {tuple(r) for r in db.session.execute(select(*COLS).where(
            Relationship.tenant_id == tenant_id, tuple_(*COLS).in_(chunk))).all()}
    return found


def delete_relationships(tenant_id: int, items: list[dict]) -> tuple[int, int]:
    """Delete a batch; absent ones are ignored. Returns (how many were deleted, revision)."""
    tuples = list(dict.fromkeys(_split(i) for i in items))
    existing = _existing(tenant_id, tuples)  # once: per tuple, a batch of n read the table n times
    present = [t for t in tuples if t in existing]
    if not present:
        return 0, current_revision(tenant_id)
    for i in range(0, len(present), 500):
        db.session.execute(delete(Relationship).where(Relationship.tenant_id == tenant_id,
                                                      tuple_(*COLS).in_(present[i:i + 500])))
    changelog.record(tenant_id, "relationships.delete", f"{len(present)} relationships", before=summary(present))
    return len(present), record(tenant_id, RELATIONSHIP, [relationship_ref(t) for t in present])


FILTERS = {"resource_type": Relationship.resource_type, "resource_id": Relationship.resource_id,
           "relation": Relationship.relation, "subject_type": Relationship.subject_type,
           "subject_id": Relationship.subject_id, "subject_relation": Relationship.subject_relation}


def read_relationships(tenant_id: int, filters: dict, after: int | None, limit: int) -> tuple[list[dict], int | None]:
    """Relationships matching exact filters, by id, a page at a time (cursor = last id)."""
    unknown = set(filters) - FILTERS.keys()
    if unknown:
        raise InvalidInput("unknown filters", details={k: ["not a filter"] for k in sorted(unknown)})
    q = select(Relationship).where(Relationship.tenant_id == tenant_id,
                                   *[FILTERS[k] == v for k, v in filters.items()])
    if after:
        q = q.where(Relationship.id > after)
    rows = db.session.execute(q.order_by(Relationship.id).limit(limit + 1)).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    out = [{"resource": f"{r.resource_type}:{r.resource_id}", "relation": r.relation,
            "subject": f"{r.subject_type}:{r.subject_id}" + (f"#{r.subject_relation}" if r.subject_relation else ""),
            "revision": r.revision} for r in rows]
    return out, (rows[-1].id if more else None)


