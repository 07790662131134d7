"""POST /v1/check and its relatives: bulk checks, a user's permissions, lookups."""
from __future__ import annotations

import itertools
import os
from time import perf_counter

from flask import Blueprint, current_app, g, request

from scim_authz import pdp
from scim_authz.api import identity, paging
from scim_authz.api.check_items import load_bulk, load_check
from scim_authz.api.context import api_endpoint, json_body
from scim_authz.api.errors import InvalidRequest
from scim_authz.api.schemas import LOOKUP_RESOURCES, LOOKUP_SUBJECTS, load
from scim_authz.db.models import utcnow
from scim_authz.ops.metrics import KEY as METRICS_KEY
from scim_authz.policy.errors import NotFound

bp = Blueprint("api_check", __name__, url_prefix="/v1")

# Decision ids: a random prefix per process and a counter, so no system call per check. A
# preloading gunicorn imports this module in its master: each forked worker draws its own prefix.
_ids = {"prefix": os.urandom(6).hex(), "counter": itertools.count(1)}


def _new_id_space() -> None:
    _ids["prefix"], _ids["counter"] = os.urandom(6).hex(), itertools.count(1)


os.register_at_fork(after_in_child=_new_id_space)


def _decision_id() -> str:
    return f"{_ids['prefix']}-{next(_ids['counter']):012x}"


class DecisionBatch:
    """What every check of one request shares, looked up once (Flask's proxies cost per access)."""

    __slots__ = ("tid", "label", "engine", "audit", "store", "at", "g", "metrics")

    def __init__(self, at=None):
        ctx, app = g._get_current_object(), current_app._get_current_object()
        self.tid = ctx.caller.tenant_id
        self.label = ctx.caller.label
        self.engine = pdp.engine(app)
        self.audit = pdp.audit(app)
        self.store = ctx.get("store")
        self.at = at
        self.g = ctx
        self.metrics = app.extensions.get(METRICS_KEY)


def decide(item: dict, at_least: int | None, explain: bool, b: DecisionBatch) -> tuple[dict, tuple]:
    """The answer to one check, and its row for the decision log (`item["claims"]`, when given, are
    what conditions see as the end user's token claims)."""
    tid, eng = b.tid, b.engine
    b.g.decision_id = did = _decision_id()  # lines logged while deciding carry it (scim_authz/ops/logs.py)
    user = item["user"]
    if "jwt" in user:
        key, claims, synced_at = identity.resolve(tid, user)
        at_least = max(filter(None, (at_least, synced_at)), default=None)
    else:
        key, claims = user["key"], item.get("claims")
    res = item["resource"]
    started = perf_counter()
    d = eng.check(tid, key, item["action"], res["type"], res["id"], resource_attrs=res["attributes"],
                  context=item["context"], claims=claims, at_least=at_least,
                  schema_version=item["schema_version"], explain=explain, store=b.store)
    if b.metrics is not None:
        b.metrics.checked(perf_counter() - started, d.allowed)
    row = (did, tid, b.at or utcnow(), b.label, d.user_id, key, item["action"], res["type"], res["id"],
           d.allowed, d.reason[:1000], d.revision)
    out = {"allowed": d.allowed, "decision_id": did, "revision": d.revision}
    if eng.unconfirmed and tid in eng.unconfirmed:  # the database is out of reach: answered from memory
        out["stale"] = True
    if explain:
        out["explanation"] = d.reason
        out["path"] = list(d.path)
    return out, row


def _stale() -> bool:
    """Whether the caller's tenant is answered from memory: its revision could not be read."""
    unconfirmed = pdp.engine().unconfirmed
    return bool(unconfirmed) and g.caller.tenant_id in unconfirmed


def _flag_stale(body: dict) -> dict:
    """Say so in an answer given from memory while the database was out of reach."""
    if _stale():
        body["stale"] = True
    return body


def _explain_arg() -> bool:
    if not request.query_string:  # most checks: no need to parse a query
        return False
    return request.args.get("explain", "").lower() in ("1", "true", "yes")


@bp.post("/check")
@api_endpoint()
def check():
    item = load_check(json_body())
    b = DecisionBatch()
    out, row = decide(item, item["at_least"], item["explain"] or _explain_arg(), b)
    b.audit.record(row)
    return out


@bp.post("/check/bulk")
@api_endpoint()
def check_bulk():
    items, at_least = load_bulk(json_body(), current_app.config["AUTHZ_BULK_MAX_CHECKS"])
    explain = _explain_arg()
    if at_least is not None:
        g.store = pdp.engine().store(g.caller.tenant_id, at_least)
    b = DecisionBatch(at=utcnow())  # one decision time for the batch
    results, rows = [], []
    for item in items:
        out, row = decide(item, item["at_least"] or at_least, explain or item["explain"], b)
        results.append(out)
        rows.append(row)
    b.g.decision_id = None  # what is logged from here on is about the batch, not its last check
    b.audit.write_now(rows)
    return _flag_stale({"results": results, "revision": max(r[11] for r in rows)})


@bp.get("/users/<path:user>/permissions")
@api_endpoint()
def permissions(user):
    at_least = request.args.get("at_least", type=int)
    found = pdp.engine().permissions(g.caller.tenant_id, user, at_least)
    if found is None:
        if _stale():  # not held here, and what is held cannot be confirmed the newest
            raise NotFound(f"no user {user!r} in this tenant as far as this instance holds; what it holds cannot "
                           "be confirmed the newest now (stale)", details={"stale": True})
        raise NotFound(f"no user {user!r} in this tenant")
    return _flag_stale(found)


def _page(items: list[str], cursor: str | None, limit: int) -> tuple[list[str], str | None]:
    """A page after the cursor (api/paging.py), or 400 for a cursor this API did not give."""
    try:
        start, end, nxt = paging.page(items, cursor, limit)
    except ValueError as e:
        raise InvalidRequest("the cursor is not one this API gave", details={"cursor": ["invalid"]}) from e
    return items[start:end], nxt


@bp.post("/lookup/resources")
@api_endpoint()
def lookup_resources():
    data = load(LOOKUP_RESOURCES, json_body())
    limit = min(data["limit"], current_app.config["AUTHZ_LOOKUP_PAGE_MAX"])
    tid = g.caller.tenant_id
    key, claims, synced_at = identity.resolve(tid, data["user"])
    at_least = max(filter(None, (data["consistency"].get("at_least"), synced_at)), default=None)
    revision, ids = pdp.engine().lookup_resources(tid, key, data["action"], data["resource_type"],
                                                  context=data["context"], claims=claims, at_least=at_least)
    page, nxt = _page(ids, data["cursor"], limit)
    return _flag_stale({"resource_type": data["resource_type"], "resources": page, "next_cursor": nxt,
                        "total": len(ids), "revision": revision})


@bp.post("/lookup/subjects")
@api_endpoint()
def lookup_subjects():
    data = load(LOOKUP_SUBJECTS, json_body())
    limit = min(data["limit"], current_app.config["AUTHZ_LOOKUP_PAGE_MAX"])
    res = data["resource"]
    eng = pdp.engine()
    revision, ids = eng.lookup_subjects(g.caller.tenant_id, data["action"], res["type"], res["id"],
                                        context=data["context"], at_least=data["consistency"].get("at_least"))
    page, nxt = _page(ids, data["cursor"], limit)
    st = eng.stores[g.caller.tenant_id]
    return _flag_stale({"users": [{"id": u, "userName": st.users[u].user_name} for u in page if u in st.users],
                        "next_cursor": nxt, "total": len(ids), "revision": revision})
