"""/v1 resources: the attributes the server holds for an application's objects, which conditions
read as `resource.*` (policy/resources.py)."""
from __future__ import annotations

from flask import Blueprint, g, request
from werkzeug.routing import PathConverter

from scim_authz.api.context import api_endpoint, json_body
from scim_authz.api.errors import InvalidRequest
from scim_authz.api.schemas import RESOURCE_WRITE, RESOURCES_WRITE, load
from scim_authz.policy import resources

bp = Blueprint("api_resources", __name__, url_prefix="/v1")


class ObjectIdConverter(PathConverter):
    """The rest of the path, slashes included, even a leading one (a route id "/todos/{id}")."""

    regex = ".+"
    part_isolating = False  # (werkzeug would infer True from a regex without a slash)


bp.record_once(lambda state: state.app.url_map.converters.setdefault("object_id", ObjectIdConverter))


@bp.put("/resources/<rtype>/<object_id:rid>", merge_slashes=False)
@api_endpoint(write=True)
def put_resource(rtype, rid):
    attributes = load(RESOURCE_WRITE, json_body())["attributes"]
    resource, created, revision = resources.put_resource(g.caller.tenant_id, rtype, rid, attributes)
    return {"resource": resource, "created": created, "revision": revision}, (201 if created else 200)


@bp.get("/resources/<rtype>/<object_id:rid>", merge_slashes=False)
@api_endpoint()
def get_resource(rtype, rid):
    return {"resource": resources.get_resource(g.caller.tenant_id, rtype, rid)}


@bp.delete("/resources/<rtype>/<object_id:rid>", merge_slashes=False)
@api_endpoint(write=True)
def delete_resource(rtype, rid):
    deleted, revision = resources.delete_resource(g.caller.tenant_id, rtype, rid)
    return {"deleted": deleted, "revision": revision}


@bp.post("/resources")
@api_endpoint(write=True)
def put_resources():
    items = load(RESOURCES_WRITE, json_body())["resources"]
    created, replaced, revision = resources.put_resources(g.caller.tenant_id, items)
    return {"created": created, "replaced": replaced, "revision": revision}


@bp.get("/resources")
@api_endpoint()
def list_resources():
    rtype = request.args.get("type")
    try:
        limit = int(request.args.get("limit", "100"))
    except ValueError as e:
        raise InvalidRequest("limit must be an integer", details={"limit": ["not an integer"]}) from e
    if not 1 <= limit <= 1000:
        raise InvalidRequest("limit must be between 1 and 1000", details={"limit": ["1..1000"]})
    items, nxt = resources.list_resources(g.caller.tenant_id, rtype, request.args.get("cursor"), limit)
    return {"resources": items, "next_cursor": nxt}
