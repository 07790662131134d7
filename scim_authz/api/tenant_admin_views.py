"""The admin API, /admin/api: tenants created, listed, renamed and linked, disabled and enabled over
HTTP by the operator, with an operator key (ADMIN_API_KEYS: scim_authz/credentials/operator_keys.py)
rather than a tenant's credential. JSON in and out, errors in /v1's shape; no session, no CSRF
(no cookie is read), counted with /v1's rate limits. docs/operations.md shows it in use."""
from __future__ import annotations

import functools

from flask import Blueprint, Response, current_app, request, url_for
from marshmallow import RAISE, Schema, fields, validate
from werkzeug.exceptions import TooManyRequests

from scim_authz.api.context import json_body, json_response
from scim_authz.api.errors import Unauthorized
from scim_authz.api.schemas import load
from scim_authz.credentials import operator_keys
from scim_authz.credentials.keys import InvalidCredential
from scim_authz.db.txn import transaction
from scim_authz.governance.actor import Actor, acting
from scim_authz.ops.logs import ENVIRON_KEY
from scim_authz.policy import tenant_lifecycle as lifecycle
from scim_authz.policy.vocabulary import ROLE_MODES
from scim_authz.web import rate_limit

bp = Blueprint("admin_api", __name__, url_prefix="/admin/api")


@bp.record_once
def _check_setting(state) -> None:
    """A malformed ADMIN_API_KEYS stops the app from starting, naming the entry."""
    from scim_authz.config.settings import ConfigurationError

    try:
        operator_keys.parse(state.app.config.get(operator_keys.SETTING))
    except ValueError as e:
        raise ConfigurationError(str(e)) from e


class TenantCreate(Schema):
    class Meta:
        unknown = RAISE

    key = fields.String(required=True)
    name = fields.String(load_default=None)
    role_mode = fields.String(load_default="hybrid", validate=validate.OneOf(list(ROLE_MODES)))
    organization = fields.String(load_default=None, allow_none=True)
    environment = fields.String(load_default=None, allow_none=True)
    # The first credentials, shown in this response only: by default a SCIM token and an API key.
    credentials = fields.List(fields.String(validate=validate.OneOf(lifecycle.CREDENTIAL_KINDS)),
                              load_default=list(lifecycle.CREDENTIAL_KINDS))


class TenantPatch(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String()
    organization = fields.String(allow_none=True)
    environment = fields.String(allow_none=True)


TENANT_CREATE, TENANT_PATCH = TenantCreate(), TenantPatch()


def _operator() -> operator_keys.OperatorKey:
    """The operator key of the request, within /v1's rate limits; 401 otherwise."""
    limits, address = rate_limit.limits(), rate_limit.client_address()
    authorization = request.headers.get("Authorization")
    limits.admit("api", address, authorization, TooManyRequests)
    try:
        return operator_keys.verify(authorization, operator_keys.parse(current_app.config.get(operator_keys.SETTING)))
    except InvalidCredential as e:
        limits.auth_failed("api", address)
        raise Unauthorized(e.detail) from e


def operator_endpoint(write: bool = False):
    """Authenticate the operator key; run the view in one transaction, as the key's actor; JSON out."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            key = _operator()
            actor = Actor("admin", f"operator key {key.name}", "api", request.environ.get(ENVIRON_KEY))
            with transaction(write), acting(actor):
                result = view(*args, **kwargs)
            return result if isinstance(result, Response) else json_response(result)
        return wrapper
    return decorate


@bp.get("/tenants")
@operator_endpoint()
def list_tenants():
    organization = request.args.get("organization") or None
    return {"tenants": [lifecycle.tenant_dict(t) for t in lifecycle.all_tenants(organization)]}


@bp.post("/tenants")
@operator_endpoint(write=True)
def create_tenant():
    data = load(TENANT_CREATE, json_body())
    tenant, issued = lifecycle.create(data["key"], data["name"], data["role_mode"],
                                      organization=data["organization"], environment=data["environment"],
                                      credentials=data["credentials"])
    body = {"tenant": lifecycle.tenant_dict(tenant),
            "credentials": [{"kind": kind, "id": s.credential_id, "prefix": s.prefix, "secret": s.secret}
                            for kind, s in issued]}
    resp = json_response(body, 201)
    resp.headers["Location"] = url_for("admin_api.get_tenant", tenant_key=tenant.key)
    return resp


@bp.get("/tenants/<tenant_key>")
@operator_endpoint()
def get_tenant(tenant_key):
    return {"tenant": lifecycle.tenant_dict(lifecycle.tenant_or_404(tenant_key))}


@bp.patch("/tenants/<tenant_key>")
@operator_endpoint(write=True)
def patch_tenant(tenant_key):
    data = load(TENANT_PATCH, json_body())
    return {"tenant": lifecycle.tenant_dict(lifecycle.update(tenant_key, data))}


@bp.post("/tenants/<tenant_key>/disable")
@operator_endpoint(write=True)
def disable_tenant(tenant_key):
    tenant, changed = lifecycle.disable(tenant_key)
    return {"tenant": lifecycle.tenant_dict(tenant), "changed": changed}


@bp.post("/tenants/<tenant_key>/enable")
@operator_endpoint(write=True)
def enable_tenant(tenant_key):
    tenant, changed = lifecycle.enable(tenant_key)
    return {"tenant": lifecycle.tenant_dict(tenant), "changed": changed}
