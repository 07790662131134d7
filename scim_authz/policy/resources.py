"""Resources' attributes held by the server: what an application writes about its objects (a
record's status, an invoice's amount) so that conditions can read them as `resource.*` when a
check or a search does not carry them. A check's own resource properties take precedence, key by
key. Writing attributes for an object also makes it one the engine knows of: a lookup or search
of its type considers it."""
from __future__ import annotations

import base64
import binascii
import json

from sqlalchemy import select, tuple_

from scim_authz.authz.changes import RESOURCE, object_ref
from scim_authz.db.extensions import db
from scim_authz.db.models import ResourceAttributes, utcnow
from scim_authz.governance import changelog
from scim_authz.pdp.changes import current_revision, record
from scim_authz.policy.errors import InvalidInput, NotFound
from scim_authz.policy.vocabulary import NAME, OBJECT_ID_MAX

MAX_ATTRIBUTES_BYTES = 16_384  # one resource's attributes, as compact JSON


def _problem(rtype: str, rid: str, attributes) -> dict | None:
    """Field messages for what is wrong with one resource, or None."""
    problems: dict = {}
    if not NAME.match(rtype or ""):
        problems["type"] = ["must start with a letter or _, then letters, digits or _ (at most 100)"]
    if not rid or len(rid) > OBJECT_ID_MAX or any(c.isspace() or c == "#" for c in rid):
        problems["id"] = [f"1 to {OBJECT_ID_MAX} characters, no whitespace or #"]
    if not isinstance(attributes, dict):
        problems["attributes"] = ["must be an object"]
    elif len(json.dumps(attributes, separators=(",", ":"))) > MAX_ATTRIBUTES_BYTES:
        problems["attributes"] = [f"at most {MAX_ATTRIBUTES_BYTES} bytes as JSON"]
    return problems or None


def resource_dict(r: ResourceAttributes) -> dict:
    return {"type": r.resource_type, "id": r.resource_id, "attributes": r.attributes,
            "updated": r.updated.isoformat(timespec="seconds") + "Z", "revision": r.revision}


def put_resource(tenant_id: int, rtype: str, rid: str, attributes: dict) -> tuple[dict, bool, int]:
    """Replace one resource's attributes. Returns (the resource, whether it was new, revision)."""
    problems = _problem(rtype, rid, attributes)
    if problems:
        raise InvalidInput("the resource is not valid; nothing was written", details=problems)
    row = db.session.get(ResourceAttributes, (tenant_id, rtype, rid))
    created = row is None
    revision = record(tenant_id, RESOURCE, [object_ref(rtype, rid)])
    if created:
        row = ResourceAttributes(tenant_id=tenant_id, resource_type=rtype, resource_id=rid)
        db.session.add(row)
    before = None if created else {"attributes": row.attributes}
    row.attributes, row.revision, row.updated = attributes, revision, utcnow()
    db.session.flush()
    changelog.record(tenant_id, "resource.put", f"{rtype}:{rid}", before=before, after={"attributes": attributes})
    return resource_dict(row), created, revision


def put_resources(tenant_id: int, items: list[dict]) -> tuple[int, int, int]:
    """Replace many resources' attributes, all or nothing (the last of one resource wins).
    Returns (how many were new, how many replaced, revision)."""
    problems = {str(n): p for n, i in enumerate(items) if (p := _problem(i["type"], i["id"], i["attributes"]))}
    if problems:
        raise InvalidInput("resources are not valid; nothing was written", details={"resources": problems})
    latest = {(i["type"], i["id"]): i["attributes"] for i in items}
    keys = list(latest)
    existing: set[tuple[str, str]] = set()
    cols = (ResourceAttributes.resource_type, ResourceAttributes.resource_id)
    for n in range(0, len(keys), 500):
        existing |= {tuple(r) for r in db.session.execute(select(*cols).where(
            ResourceAttributes.tenant_id == tenant_id, tuple_(*cols).in_(keys[n:n + 500])))}
    revision = record(tenant_id, RESOURCE, [object_ref(t, i) for t, i in keys])
    changelog.record(tenant_id, "resources.put", f"{len(keys)} resources",
                     after={"count": len(keys), "first": [f"{t}:{i}" for t, i in keys[:20]]})
    now = utcnow()
    new = [k for k in keys if k not in existing]
    if new:
        db.session.execute(ResourceAttributes.__table__.insert(), [
            {"tenant_id": tenant_id, "resource_type": t, "resource_id": i, "attributes": latest[(t, i)],
             "updated": now, "revision": revision} for t, i in new])
    for t, i in (k for k in keys if k in existing):
        row = db.session.get(ResourceAttributes, (tenant_id, t, i))
        row.attributes, row.revision, row.updated = latest[(t, i)], revision, now
    db.session.flush()
    return len(new), len(keys) - len(new), revision


def get_resource(tenant_id: int, rtype: str, rid: str) -> dict:
    row = db.session.get(ResourceAttributes, (tenant_id, rtype, rid))
    if row is None:
        raise NotFound(f"the server holds no attributes for {rtype}:{rid}")
    return resource_dict(row)


def delete_resource(tenant_id: int, rtype: str, rid: str) -> tuple[bool, int]:
    """Forget a resource's attributes (absent: nothing happens). Returns (deleted, revision)."""
    row = db.session.get(ResourceAttributes, (tenant_id, rtype, rid))
    if row is None:
        return False, current_revision(tenant_id)
    changelog.record(tenant_id, "resource.delete", f"{rtype}:{rid}", before={"attributes": row.attributes})
    db.session.delete(row)
    return True, record(tenant_id, RESOURCE, [object_ref(rtype, rid)])


def list_resources(tenant_id: int, rtype: str | None, cursor: str | None,
                   limit: int) -> tuple[list[dict], str | None]:
    """Resources (of one type, or all) by type and id, a page at a time (the cursor names the last
    one given)."""
    key = (ResourceAttributes.resource_type, ResourceAttributes.resource_id)
    q = select(ResourceAttributes).where(ResourceAttributes.tenant_id == tenant_id)
    if rtype:
        q = q.where(ResourceAttributes.resource_type == rtype)
    if cursor:
        try:
            after = json.loads(base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode())
            after_type, after_id = (str(x) for x in after)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as e:
            raise InvalidInput("cursor is not one this API gave", details={"cursor": ["not a cursor"]}) from e
        q = q.where(tuple_(*key) > tuple_(after_type, after_id))
    rows = db.session.execute(q.order_by(*key).limit(limit + 1)).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = base64.urlsafe_b64encode(json.dumps([rows[-1].resource_type, rows[-1].resource_id]).encode()).decode() \
        if more else None
    return [resource_dict(r) for r in rows], nxt
