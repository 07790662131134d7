"""AuthZEN 1.0 search (docs/authzen.md): which subjects, resources or actions a decision would
permit, answered by the engine's lookups, every result one a check would allow.

- Subjects are the tenant's active users, named by the id a policy enforcement point most likely
  holds for them: their externalId (the IdP's own id), else their userName. Any subject type but
  `user` has none.
- Resources are those the tenant knows of the type (from relationships and resource-scoped roles);
  the searched resource's properties cannot be known per candidate, so conditions on
  `resource.*` see none.
- Actions are those the resource's type can be granted: named by a role's permission (not a
  wildcard) or a permission of the schema (never a relation).

Pagination is by token: `page.limit` in, `page.next_token` out (empty on the last page), with
`count` and `total`. A token names the last result given, so pages neither overlap nor skip.
"""
from __future__ import annotations

from flask import Blueprint, current_app, g

from scim_authz import pdp
from scim_authz.api import authzen_requests as az
from scim_authz.api import paging
from scim_authz.api.authzen_views import PREFIX, json_request, user_key
from scim_authz.api.context import api_endpoint
from scim_authz.api.errors import InvalidRequest
from scim_authz.authz.lookup_walks import declared_actions

bp = Blueprint("authzen_search", __name__)


def _page(results: list[dict], key: str, page: dict) -> dict:
    """The results after page.token, at most page.limit of them, and the page object (api/paging.py)."""
    limit = page.get("limit")
    limit = min(limit, current_app.config["AUTHZ_LOOKUP_PAGE_MAX"]) if limit else len(results)
    try:
        start, end, nxt = paging.page([r[key] for r in results], page.get("token"), limit)
    except ValueError as e:
        raise InvalidRequest("page.token is not one this server gave", details={"page": ["unknown token"]}) from e
    body = {"results": results[start:end]}
    if page or nxt:
        body = {"page": {"next_token": nxt or "", "count": end - start, "total": len(results)}, **body}
    return body


@bp.post(PREFIX + "/search/subject")
@api_endpoint()
def search_subject():
    req = az.search(json_request(), "subject")
    if req["subject"]["type"] != "user" or az.checkable({**req, "subject": {"id": ""}}) is not None:
        return {"results": []}
    res = req["resource"]
    eng = pdp.engine()
    tid = g.caller.tenant_id
    _, ids = eng.lookup_subjects(tid, req["action"]["name"], res["type"], res["id"], context=req["context"],
                                 resource_attrs=res["properties"])
    st = eng.stores[tid]
    names = sorted({st.users[u].external_id or st.users[u].user_name for u in ids if u in st.users})
    return _page([{"type": "user", "id": n} for n in names], "id", req["page"])


@bp.post(PREFIX + "/search/resource")
@api_endpoint()
def search_resource():
    req = az.search(json_request(), "resource")
    rtype = req["resource"]["type"]
    probe = {**req, "resource": {"type": rtype, "id": "x"}}
    if az.checkable(probe) is not None:
        return {"results": []}
    eng = pdp.engine()
    tid = g.caller.tenant_id
    key = user_key(g.get("store"), req["subject"]["id"])
    _, ids = eng.lookup_resources(tid, key, req["action"]["name"], rtype, context=req["context"],
                                  claims=req["subject"]["properties"])
    return _page([{"type": rtype, "id": i} for i in ids], "id", req["page"])


@bp.post(PREFIX + "/search/action")
@api_endpoint()
def search_action():
    req = az.search(json_request(), "action")
    res = req["resource"]
    eng = pdp.engine()
    tid = g.caller.tenant_id
    st = eng.store(tid)
    key = user_key(st, req["subject"]["id"])
    allowed = []
    for name in declared_actions(st, res["type"]):
        probe = {"subject": req["subject"], "action": {"name": name, "properties": {}}, "resource": res}
        if az.checkable(probe) is not None:
            continue
        d = eng.check(tid, key, name, res["type"], res["id"], resource_attrs=res["properties"],
                      context=req["context"], claims=req["subject"]["properties"])
        if d.allowed:
            allowed.append(name)
    return _page([{"name": n} for n in allowed], "name", req["page"])
