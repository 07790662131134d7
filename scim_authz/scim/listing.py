"""Query resources: filter, sort, paginate (RFC 7644 §3.4.2), in SQL, a page at a time.

Pages are read as rows of the table, not ORM objects: they are only rendered. The look-up an IdP
sends before each create (`userName eq "…"`) runs a statement built once (filters.indexed_eq).
"""
from __future__ import annotations

from sqlalchemy import bindparam, func, select

from scim_authz.db.extensions import db
from scim_authz.db.models import Group, User
from scim_authz.db.prepared import prepared, run
from scim_authz.directory import counts
from scim_authz.scim.errors import InvalidFilter
from scim_authz.scim.filters import build_filter, indexed_eq, sort_expression
from scim_authz.scim.schema_defs import LIST_RESPONSE
from scim_authz.scim.service import RENDER, Context

MODEL = {"User": User, "Group": Group}


def _page_args(params: dict, max_results: int) -> tuple[int, int]:
    """RFC 7644 §3.4.2.4: startIndex below 1 means 1; count below 0 means 0; count is capped."""
    start = max(1, params.get("startIndex") or 1)
    count = params.get("count")
    count = max_results if count is None else max(0, min(count, max_results))
    return start, count


def _conditions(ctx: Context, rtype: str, filter_text: str | None) -> list:
    model = MODEL[rtype]
    conds = [model.tenant_id == ctx.tenant_id]
    if filter_text is not None and filter_text.strip():
        conds.append(build_filter(filter_text, rtype, db.engine.dialect.name))
    return conds


def _total(ctx: Context, rtype: str, conds: list) -> int:
    """How many resources match: unfiltered, the tenant's kept count (exact, and flat however many
    there are); filtered, counted."""
    if len(conds) == 1:  # the tenant's own condition only
        return counts.total(ctx.tenant_id, rtype)
    return db.session.execute(select(func.count()).select_from(MODEL[rtype]).where(*conds)).scalar_one()


def _order(rtype: str, params: dict) -> list:
    model = MODEL[rtype]
    if params.get("sortBy"):
        expr = sort_expression(params["sortBy"], rtype, db.engine.dialect.name)
        expr = expr.desc() if params.get("sortOrder") == "descending" else expr.asc()
        return [expr, model.id]
    # Creation order is stable while resources come and go, which paging clients (Okta) need.
    return [model.created, model.id]


def search(ctx: Context, rtype: str, params: dict, max_results: int) -> dict:
    """One resource type's ListResponse (RFC 7644 §3.4.2)."""
    start, count = _page_args(params, max_results)
    plain = None if params.get("sortBy") else indexed_eq(params.get("filter"), rtype)
    conds = None if plain else _conditions(ctx, rtype, params.get("filter"))
    rows = []
    if count:
        if plain:
            rows = run(_lookup(rtype, plain[0]), {"tenant_id": ctx.tenant_id, "value": plain[1],
                                                  "offset": start - 1, "limit": count}).all()
        else:
            table = MODEL[rtype].__table__
            rows = run(select(table).where(*conds).order_by(*_order(rtype, params))
                       .offset(start - 1).limit(count)).all()
    if 0 < len(rows) < count or (start == 1 and count and not rows):
        total = start - 1 + len(rows)  # a short page is the last one: nothing left to count
    else:
        total = _total(ctx, rtype, conds or _conditions(ctx, rtype, params.get("filter")))
    resources = RENDER[rtype](ctx, rows, params.get("attributes", ()), params.get("excludedAttributes", ()))
    return list_response(resources, total, start)


def _lookup(rtype: str, column: str):
    """A page of the tenant's resources whose `column` equals a value, in creation order."""
    def build():
        table = MODEL[rtype].__table__
        return (select(table).where(table.c.tenant_id == bindparam("tenant_id"), table.c[column] == bindparam("value"))
                .order_by(table.c.created, table.c.id).offset(bindparam("offset")).limit(bindparam("limit")))
    return prepared(("scim.lookup", rtype, column), build)


def search_all(ctx: Context, params: dict, max_results: int) -> dict:
    """POST /.search at the root (RFC 7644 §3.4.3): Users, then Groups, paged as one list.

    A filter that names an attribute one resource type lacks matches none of that type; a filter
    valid for neither is an error.
    """
    start, count = _page_args(params, max_results)
    parts, errors = [], []
    for rtype in ("User", "Group"):
        try:
            conds = _conditions(ctx, rtype, params.get("filter"))
        except InvalidFilter as e:
            errors.append(e)
            continue
        parts.append((rtype, conds, _total(ctx, rtype, conds)))
    if len(errors) == 2:
        raise errors[0]
    resources, skip, left = [], start - 1, count
    for rtype, conds, total in parts:
        if skip >= total:
            skip -= total
            continue
        if left <= 0:
            break
        model = MODEL[rtype]
        order = _order(rtype, params) if params.get("sortBy") else [model.created, model.id]
        rows = run(select(model.__table__).where(*conds).order_by(*order).offset(skip).limit(left)).all()
        skip = 0
        left -= len(rows)
        resources += RENDER[rtype](ctx, rows, params.get("attributes", ()), params.get("excludedAttributes", ()))
    return list_response(resources, sum(p[2] for p in parts), start)


def list_response(resources: list[dict], total: int, start: int) -> dict:
    """A ListResponse with integer counts (Okta rejects strings)."""
    return {"schemas": [LIST_RESPONSE], "totalResults": total, "startIndex": start,
            "itemsPerPage": len(resources), "Resources": resources}
