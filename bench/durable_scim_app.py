"""The "durable floor" of bench/scim_cycle.py: the least a SCIM server that acknowledges writes
durably must do for its workload, on SQLite or PostgreSQL (DURABLE_DATABASE: a SQLite file's path
or a postgresql:// URL; the tables made beforehand by `_durable_stores.create_schema`).

Like the Flask floor (bench/bare_scim_app.py, whose helpers it uses): no auth beyond requiring a
Bearer header, no validation, ids are uuid5 of the userName / displayName. Unlike it, every write
is one transaction of one statement, committed before the answer, and every read is one indexed
SELECT answered from what it read (bench/_durable_stores.py says how, per database):

  POST   <base>/Users|Groups                 201, the body plus id and meta, stored as answered
                                             (409 when the name exists)
  GET    <base>/Users?filter=userName eq "X"  200, a ListResponse of the stored users named X
  GET    <base>/Groups?filter=displayName eq "X"   the same for groups (excludedAttributes is not
                                             applied: a group holds the members it was created with)
  GET    <base>/Users|Groups (no such filter) 200, a page (startIndex, count) in name order
  GET    <base>/Users|Groups/<id>            200, the stored body (404 when there is none)
  PUT    <base>/Users|Groups/<id>            200, the body plus id and meta, replacing the stored one
  PATCH  <base>/Users|Groups/<id>            204, the raw PatchOp appended to `patches` (not applied:
                                             no read-modify-write, and no 404 for an unknown id)
  DELETE <base>/Users|Groups/<id>            204 (404 when there is none)
  GET    <base>/ServiceProviderConfig        200, the Flask floor's

Served like the Flask floor:
`gunicorn -c <config/gunicorn.conf.py minus its hooks> --pythonpath bench durable_scim_app:app`.
"""
import json
import os

from _durable_stores import Conflict, open_store
from bare_scim_app import (
    BASE,
    DISPLAY_NAME_EQ,
    ERROR_SCHEMA,
    KIND,
    LIST_SCHEMA,
    SCIM_JSON,
    USER_NAME_EQ,
    bearer,
    make_id,
    meta,
    scim,
    service_provider_config,
    unquote,
)
from flask import Flask, Response, request

NAME = {"User": "userName", "Group": "displayName"}
FILTER = {"User": USER_NAME_EQ, "Group": DISPLAY_NAME_EQ}

app = Flask(__name__)
app.before_request(bearer)
app.add_url_rule(f"{BASE}/ServiceProviderConfig", view_func=service_provider_config)
store = open_store(os.environ["DURABLE_DATABASE"])


def raw(text: str, status: int = 200) -> Response:
    return Response(text, status=status, content_type=SCIM_JSON)


def error(status: int, detail: str, scim_type: str | None = None) -> Response:
    body = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    return scim({**body, "scimType": scim_type} if scim_type else body, status)


def dump(body: dict, kind: str, rid: str) -> str:
    return json.dumps({**body, "id": rid, "meta": meta(kind, rid)}, separators=(",", ":"))


def list_text(total: int, start: int, bodies: list[str]) -> Response:
    """A ListResponse around stored bodies, which are JSON already."""
    return raw(f'{{"schemas":["{LIST_SCHEMA}"],"totalResults":{total},"startIndex":{start},'
               f'"itemsPerPage":{len(bodies)},"Resources":[{",".join(bodies)}]}}')


@app.post(f"{BASE}/<any(Users, Groups):resource>")
def create(resource):
    kind = KIND[resource]
    body = request.get_json(force=True, silent=True) or {}
    name = str(body.get(NAME[kind], ""))
    rid = make_id(kind, name)
    text = dump(body, kind, rid)
    try:
        store.insert(rid, kind, name.lower(), text)
    except Conflict:
        return error(409, f"{NAME[kind]} {name!r} exists", "uniqueness")
    return raw(text, 201)


@app.get(f"{BASE}/<any(Users, Groups):resource>")
def search(resource):
    kind = KIND[resource]
    m = FILTER[kind].search(request.args.get("filter", ""))
    if m is not None:
        found = store.by_name(kind, unquote(m).lower())
        return list_text(len(found), 1, found)
    start = max(1, request.args.get("startIndex", 1, type=int))
    count = max(0, min(request.args.get("count", 100, type=int), 1000))
    total, bodies = store.page(kind, start - 1, count)
    return list_text(total, start, bodies)


@app.get(f"{BASE}/<any(Users, Groups):resource>/<rid>")
def get_one(resource, rid):
    text = store.by_id(KIND[resource], rid)
    return error(404, f"{rid} not found") if text is None else raw(text)


@app.put(f"{BASE}/<any(Users, Groups):resource>/<rid>")
def put(resource, rid):
    kind = KIND[resource]
    body = request.get_json(force=True, silent=True) or {}
    text = dump(body, kind, rid)
    if not store.replace(rid, kind, str(body.get(NAME[kind], "")).lower(), text):
        return error(404, f"{rid} not found")
    return raw(text)


@app.patch(f"{BASE}/<any(Users, Groups):resource>/<rid>")
def patch(resource, rid):
    store.append_patch(rid, request.get_data(as_text=True))
    return Response(status=204)


@app.delete(f"{BASE}/<any(Users, Groups):resource>/<rid>")
def delete(resource, rid):
    return Response(status=204) if store.delete(rid, KIND[resource]) else error(404, f"{rid} not found")

