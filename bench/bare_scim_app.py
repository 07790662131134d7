"""The "Flask floor" of bench/scim_peer.py: the least a Flask app can do for its SCIM workload.

Every answer is computed from the request alone: no auth check beyond reading the Authorization
header (a 401 without one), no database, no validation, no state shared between requests (it runs
under gunicorn with several worker processes, so there is none to share). Ids are derived from the
request (uuid5 of the userName or displayName), so the same user always gets the same id. It
answers, with correctly shaped SCIM bodies and `application/scim+json`:

  GET   <base>/ServiceProviderConfig                 200, a small config (what wait_ready polls)
  POST  <base>/Users                                 201, the request body plus "id" and "meta"
  GET   <base>/Users?filter=userName eq "X"          200, a ListResponse holding exactly user X
  POST  <base>/Groups                                201, the request body plus "id" and "meta"
  PATCH <base>/Groups/<id>                           204
  GET   <base>/Groups/<id>                           200, the group without members (it keeps none)
  POST  <base>/Bulk                                  200, a BulkResponse: one "201" per operation

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
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
BULK_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
USER_NAME_EQ = re.compile(r'userName\s+eq\s+"((?:[^"\\]|\\.)*)"', re.IGNORECASE)
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


@app.get(f"{BASE}/Users")
def list_users():
    m = USER_NAME_EQ.search(request.args.get("filter", ""))
    if m is None:
        return scim({"schemas": [LIST_SCHEMA], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0,
                     "Resources": []})
    user_name = m.group(1).replace('\\"', '"').replace("\\\\", "\\")
    rid = make_id("User", user_name)
    return scim({"schemas": [LIST_SCHEMA], "totalResults": 1, "startIndex": 1, "itemsPerPage": 1,
                 "Resources": [{"schemas": [USER_SCHEMA], "id": rid, "userName": user_name,
                                "meta": meta("User", rid)}]})


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
