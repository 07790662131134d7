"""The /scim/v2 blueprint: authenticate the token's tenant, parse, call the service, render."""
from __future__ import annotations

import functools
import logging

from flask import Blueprint, Response, current_app, g, request

from scim_authz import pdp
from scim_authz.credentials import cache as auth_cache
from scim_authz.credentials.keys import InvalidCredential, TenantDisabled
from scim_authz.db.own_write import write_on_own_connection
from scim_authz.db.txn import transaction
from scim_authz.governance import directory_writes
from scim_authz.governance.actor import Actor, acting
from scim_authz.http_errors import empty_response, scim_response, scim_stream
from scim_authz.ops.logs import ENVIRON_KEY
from scim_authz.pdp.changes import revision_header
from scim_authz.scim import bulk, discovery, listing, service
from scim_authz.scim.errors import (
    InvalidSyntax,
    NotFound,
    NotImplementedFeature,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
)
from scim_authz.scim.group_stream import GroupRead
from scim_authz.scim.schema_defs import RESOURCE_TYPES, SCHEMAS
from scim_authz.scim.schemas import load_search
from scim_authz.web import rate_limit
from scim_authz.web.requests import SCIM_PATH, json_body, scim_base_url

bp = Blueprint("scim", __name__, url_prefix=SCIM_PATH)
log = logging.getLogger("scim_authz.scim")
RTYPE = {"Users": "User", "Groups": "Group"}




def scim_endpoint(write: bool, own_connection=None):
    """Authenticate the SCIM token, run the view in one transaction, commit only if it succeeded.

    `own_connection(view_args)`: True for a write whose statements all go through db.prepared, which
    then runs them on a connection of its own, without the ORM session (db.own_write); not when the
    tenant logs its directory writes in the change log, which the session writes."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            # Rate limits before the token is looked at: its address's, then its own.
            limits, address = rate_limit.limits(), rate_limit.client_address()
            authorization = request.headers.get("Authorization")
            limits.admit("scim", address, authorization, TooManyRequests)
            try:
                caller = auth_cache.authenticate(authorization, "scim", policy=False)
            except InvalidCredential as e:
                if not isinstance(e, TenantDisabled):  # a disabled tenant's own token is no guess
                    limits.auth_failed("scim", address)
                raise Unauthorized(e.detail) from e
            # The absolute base URL, for meta.location (RFC 7643 §3.1).
            g.ctx = service.Context(tenant_id=caller.tenant_id, base_url=scim_base_url(), tenant_key=caller.tenant_key)
            actor = Actor("scim_token", caller.label, "scim", request.environ.get(ENVIRON_KEY))
            # A read's statements stand alone: listings, a user and its groups (a group's members
            # are read from a snapshot of their own: scim/group_stream.py).
            with transaction(write, statements_stand_alone=not write), acting(actor):
                if own_connection is not None and not caller.log_writes and own_connection(kwargs):
                    write_on_own_connection()
                resp = view(*args, **kwargs)
                if write and resp.status_code < 400:
                    directory_writes.count(pdp.write_counter(), caller.tenant_id, caller.credential_id,
                                           request.method, request.path, resp.status_code, log=caller.log_writes)
            if write:
                revision_header(resp, g.ctx.tenant_id)
            return resp
        return wrapper
    return decorate


def body_json():
    """The request body as JSON; invalidSyntax if it is not JSON (RFC 7644 §3.12)."""
    return json_body(InvalidSyntax, limit=current_app.config["SCIM_MAX_REQUEST_BYTES"], too_large=PayloadTooLarge)


def resource_response(rtype: str, row, status: int = 200, *, location: bool = False) -> Response:
    params = load_search(request.args.to_dict())
    body = service.render_one(g.ctx, rtype, row, params["attributes"], params["excludedAttributes"],
                              new=status == 201)
    headers = {"ETag": service.etag(row.version)}
    if location:
        headers["Location"] = body["meta"]["location"] if "meta" in body else (
            f"{g.ctx.base_url}/{rtype}s/{row.id}")
    return scim_response(body, status, headers)


def _rtype(resource: str) -> str:
    if resource not in RTYPE:
        raise NotFound(f"No endpoint at {request.path}")
    return RTYPE[resource]


# ---- discovery -------------------------------------------------------------------------------

@bp.get("/ServiceProviderConfig", strict_slashes=False)
@scim_endpoint(write=False)
def service_provider_config():
    return scim_response(discovery.service_provider_config(scim_base_url(), current_app.config), 200)


@bp.get("/ResourceTypes", strict_slashes=False)
@scim_endpoint(write=False)
def resource_types():
    items = discovery.all_resource_types(scim_base_url())
    return scim_response(listing.list_response(items, len(items), 1), 200)


@bp.get("/ResourceTypes/<rid>")
@scim_endpoint(write=False)
def resource_type(rid):
    if rid not in RESOURCE_TYPES:
        raise NotFound(f"ResourceType {rid} not found")
    return scim_response(discovery.resource_type(scim_base_url(), rid), 200)


@bp.get("/Schemas", strict_slashes=False)
@scim_endpoint(write=False)
def schemas():
    items = discovery.all_schemas(scim_base_url())
    return scim_response(listing.list_response(items, len(items), 1), 200)


@bp.get("/Schemas/<sid>")
@scim_endpoint(write=False)
def schema(sid):
    if sid not in SCHEMAS:
        raise NotFound(f"Schema {sid} not found")
    return scim_response(discovery.schema(scim_base_url(), sid), 200)


# ---- resources -------------------------------------------------------------------------------

@bp.get("/<any(Users, Groups):resource>", strict_slashes=False)
@scim_endpoint(write=False)
def list_resources(resource):
    params = load_search(request.args.to_dict())
    body = listing.search(g.ctx, _rtype(resource), params, current_app.config["SCIM_FILTER_MAX_RESULTS"])
    return scim_response(body, 200)


@bp.post("/<any(Users, Groups):resource>/.search")
@scim_endpoint(write=False)
def search_resources(resource):
    params = load_search(body_json())
    body = listing.search(g.ctx, _rtype(resource), params, current_app.config["SCIM_FILTER_MAX_RESULTS"])
    return scim_response(body, 200)


@bp.post("/.search")
@scim_endpoint(write=False)
def search_root():
    params = load_search(body_json())
    return scim_response(listing.search_all(g.ctx, params, current_app.config["SCIM_FILTER_MAX_RESULTS"]), 200)


@bp.post("/<any(Users, Groups):resource>", strict_slashes=False)
@scim_endpoint(write=True, own_connection=lambda view_args: view_args["resource"] == "Users")
def create_resource(resource):
    rtype = _rtype(resource)
    row = service.create(g.ctx, rtype, body_json())
    return resource_response(rtype, row, 201, location=True)


@bp.get("/<any(Users, Groups):resource>/<rid>")
@scim_endpoint(write=False)
def get_resource(resource, rid):
    rtype = _rtype(resource)
    if rtype == "Group":
        return group_response(rid)
    row = service.read_user(g.ctx, rid)
    if _not_modified(row.version):
        return empty_response(304, {"ETag": service.etag(row.version)})
    return resource_response(rtype, row)


def _not_modified(version: int) -> bool:
    """If-None-Match names this version (RFC 7644 §3.14)."""
    inm = request.headers.get("If-None-Match")
    return bool(inm) and service.etag(version) in {t.strip() for t in inm.split(",")} | ({"*"} & {inm.strip()})


def group_response(rid: str) -> Response:
    """GET /Groups/{id}: the group and its members as of one snapshot; a large group's body is
    streamed as its members are read (scim/group_stream.py)."""
    params = load_search(request.args.to_dict())
    read = GroupRead(g.ctx, rid, current_app.config["SCIM_GROUP_MEMBERS_CHUNK"])
    headers = {"ETag": service.etag(read.row.version)}
    try:
        if _not_modified(read.row.version):
            read.close()
            return empty_response(304, headers)
        body = read.body(params["attributes"], params["excludedAttributes"])
    except BaseException:
        read.close()
        raise
    if isinstance(body, dict):
        return scim_response(body, 200, headers)
    return scim_stream(body, 200, headers, on_close=read.close)


@bp.put("/<any(Users, Groups):resource>/<rid>")
@scim_endpoint(write=True)
def replace_resource(resource, rid):
    rtype = _rtype(resource)
    row = service.replace(g.ctx, rtype, rid, body_json(), request.headers.get("If-Match"))
    return resource_response(rtype, row)


@bp.patch("/<any(Users, Groups):resource>/<rid>")
@scim_endpoint(write=True)
def patch_resource(resource, rid):
    rtype = _rtype(resource)
    row = service.patch(g.ctx, rtype, rid, body_json(), request.headers.get("If-Match"))
    if rtype == "Group" and not (request.args.get("attributes") or request.args.get("excludedAttributes")):
        # RFC 7644 §3.5.2 allows 204; a group's members can number 100,000, so they are sent
        # only when the client asks for a representation.
        return empty_response(204, {"ETag": service.etag(row.version)})
    return resource_response(rtype, row)


@bp.delete("/<any(Users, Groups):resource>/<rid>")
@scim_endpoint(write=True)
def delete_resource(resource, rid):
    service.delete(g.ctx, _rtype(resource), rid, request.headers.get("If-Match"))
    return empty_response(204)


@bp.post("/Bulk")
@scim_endpoint(write=True)
def bulk_request():
    limit = current_app.config["SCIM_BULK_MAX_PAYLOAD"]
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"bulk requests are limited to {limit} bytes (maxPayloadSize)")
    body = body_json()
    if len(request.get_data(cache=True)) > limit:
        raise PayloadTooLarge(f"bulk requests are limited to {limit} bytes (maxPayloadSize)")
    result = bulk.run(g.ctx, body, current_app.config["SCIM_BULK_MAX_OPERATIONS"])
    return scim_response(result, 200)


@bp.route("/Me", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@scim_endpoint(write=False)
def me():
    raise NotImplementedFeature("/Me is not supported: SCIM tokens belong to a tenant, not to a user")
