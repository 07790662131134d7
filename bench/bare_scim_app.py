"""The "Flask floor" of bench/scim_peer.py and bench/scim_cycle.py: the least a Flask app can do for
their SCIM workloads.

Every answer is computed from the request alone: no auth check beyond reading the Authorization
header (a 401 without one), no database, no validation, no state shared between requests (it runs
under gunicorn with several worker processes, so there is none to share). Ids are derived from the
request (uuid5 of the userName or displayName), so the same user always gets the same id. It
answers, with correctly shaped SCIM bodies and `application/scim+json`:

  GET   <base>/ServiceProviderConfig                 200, a small config (what wait_ready polls)
  POST  <base>/Users                                 201, the request body plus "id" and "meta"
  GET   <base>/Users?filter=userName eq "X"          200, a ListResponse holding exactly user X
  GET   <base>/Users (no such filter)                200, an empty ListResponse
  GET   <base>/Users/<id>                            200, a full user (enterprise extension included)
                                                     whose userName is made from the id
  PUT   <base>/Users/<id>                            200, the request body with that "id" and "meta"
  PATCH <base>/Users/<id>                            204
  POST  <base>/Groups                                201, the request body plus "id" and "meta"
  GET   <base>/Groups?filter=displayName eq "X"      200, a ListResponse holding exactly group X,
                                                     without members (it keeps none)
  GET   <base>/Groups (no such filter)               200, an empty ListResponse
  PATCH <base>/Groups/<id>                           204
  GET   <base>/Groups/<id>                           200, the group without members (it keeps none)
  POST  <base>/Bulk                                  200, a BulkResponse: one "201" per operation

As it keeps nothing, a look-up always finds what it names: a client that expects "not found"
(scim_cycle's look-ups before a create) accepts either answer from it.

It is the HTTP + WSGI + Flask floor under the same gunicorn config as our server
(`gunicorn -c config/gunicorn.conf.py --pythonpath bench bare_scim_app:app`): whatever a real
SCIM server does on top of it only costs more, so floor/peer is the highest ratio any Flask server
could reach against the peer on this machine with this client.
"""
import json
import re
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, request

BASE = "/scim/v2"
SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
BULK_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
USER_NAME_EQ = re.compile(r'userName\s+eq\s+"((?:[^"\\]|\\.)*)"', re.IGNORECASE)
DISPLAY_NAME_EQ = re.compile(r'displayName\s+eq\s+"((?:[^"\\]|\\.)*)"', re.IGNORECASE)
KIND = {"Users": "User", "Groups": "Group"}

app = Flask(__name__)


def scim(body, status=200):
    return Response(json.dumps(body, separators=(",", ":")), status=status, content_type=SCIM_JSON)


def make_id(kind: str, key) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}:{key}"))


def meta(kind: str, rid: str) -> dict:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return {"resourceType": kind, "created": now, "lastModified": now,
            "location": f"{request.host_url}{BASE[1:]}/{kind}s/{rid}"}


@app.before_request
def bearer():
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return scim({"schemas": [ERROR_SCHEMA], "status": "401", "detail": "a bearer token is required"}, 401)
    return None


@app.get(f"{BASE}/ServiceProviderConfig")
def service_provider_config():
    return scim({"schemas": [SPC_SCHEMA], "patch": {"supported": True},
                 "bulk": {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576},
                 "filter": {"supported": True, "maxResults": 200}, "changePassword": {"supported": False},
                 "sort": {"supported": False}, "etag": {"supported": False},
                 "authenticationSchemes": [{"type": "oauthbearertoken", "name": "Bearer token",
                                            "description": "Authorization: Bearer <token>"}]})


@app.post(f"{BASE}/<any(Users, Groups):resource>")
def create(resource):
    body = request.get_json(force=True, silent=True) or {}
    kind = KIND[resource]
    rid = make_id(kind, body.get("userName") if kind == "User" else body.get("displayName"))
    return scim({**body, "id": rid, "meta": meta(kind, rid)}, 201)


def unquote(m: re.Match) -> str:
    return m.group(1).replace('\\"', '"').replace("\\\\", "\\")


def list_of(resources: list) -> Response:
    return scim({"schemas": [LIST_SCHEMA], "totalResults": len(resources), "startIndex": 1,
                 "itemsPerPage": len(resources), "Resources": resources})


@app.get(f"{BASE}/Users")
def list_users():
    m = USER_NAME_EQ.search(request.args.get("filter", ""))
    if m is None:
        return list_of([])
    user_name = unquote(m)
    rid = make_id("User", user_name)
    return list_of([{"schemas": [USER_SCHEMA], "id": rid, "userName": user_name, "meta": meta("User", rid)}])


@app.get(f"{BASE}/Users/<uid>")
def get_user(uid):
    return scim({"schemas": [USER_SCHEMA, ENTERPRISE], "id": uid, "userName": f"{uid}@floor.invalid",
                 "externalId": uid, "name": {"givenName": "Floor", "familyName": "User"},
                 "displayName": "Floor User", "active": True, "title": "Engineer",
                 "emails": [{"value": f"{uid}@floor.invalid", "type": "work", "primary": True}],
                 ENTERPRISE: {"employeeNumber": "0", "department": "Floor"}, "meta": meta("User", uid)})


@app.put(f"{BASE}/Users/<uid>")
def put_user(uid):
    body = request.get_json(force=True, silent=True) or {}
    return scim({**body, "id": uid, "meta": meta("User", uid)})


@app.patch(f"{BASE}/Users/<uid>")
def patch_user(uid):
    request.get_data()  # read the body, as any server must
    return Response(status=204)


@app.get(f"{BASE}/Groups")
def list_groups():
    m = DISPLAY_NAME_EQ.search(request.args.get("filter", ""))
    if m is None:
        return list_of([])
    name = unquote(m)
    rid = make_id("Group", name)
    return list_of([{"schemas": [GROUP_SCHEMA], "id": rid, "displayName": name, "meta": meta("Group", rid)}])


@app.patch(f"{BASE}/Groups/<gid>")
def patch_group(gid):
    request.get_data()  # read the body, as any server must
    return Response(status=204)


@app.get(f"{BASE}/Groups/<gid>")
def get_group(gid):
    return scim({"schemas": [GROUP_SCHEMA], "id": gid, "displayName": "", "members": [],
                 "meta": meta("Group", gid)})


@app.post(f"{BASE}/Bulk")
def bulk():
    body = request.get_json(force=True, silent=True) or {}
    results = []
    for op in body.get("Operations") or []:
        resource = str(op.get("path", "")).strip("/").split("/")[0]
        kind = KIND.get(resource, resource)
        data = op.get("data") or {}
        rid = make_id(kind, data.get("userName") if kind == "User" else data.get("displayName"))
        results.append({"method": op.get("method"), "bulkId": op.get("bulkId"),
                        "location": f"{request.host_url}{BASE[1:]}/{resource}/{rid}", "status": "201"})
    return scim({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": results})
