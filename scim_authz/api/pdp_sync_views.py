"""/v1/pdp: what decision points (`scim-authz pdp`) sync from, with a PDP key (`pdp_…`): a tenant's
own (`tokens issue <tenant> --kind pdp`), or one of PDP_KEYS, which covers every tenant.

    GET  /v1/pdp/tenants                          the tenants the key covers, with their revisions
    GET  /v1/pdp/tenants/<key>/snapshot           the tenant's decision data at a revision (gzip'd JSON)
    GET  /v1/pdp/tenants/<key>/changes?after=N    the changes after revision N, with what they read
    POST /v1/pdp/tenants/<key>/decisions          decisions a decision point made, for the decision log

A PDP key reads nothing else, and no other credential reads these (docs/dataplane.md).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson
from flask import Blueprint, Response, current_app, g, request
from sqlalchemy import select
from werkzeug.exceptions import TooManyRequests

from scim_authz import pdp
from scim_authz.api.context import json_response
from scim_authz.api.errors import Forbidden, InvalidRequest, SnapshotRequired, Unauthorized, Unavailable
from scim_authz.credentials import cache as auth_cache
from scim_authz.credentials import operator_keys
from scim_authz.credentials.keys import InvalidCredential, TenantDisabled
from scim_authz.dataplane.received import decision_rows
from scim_authz.dataplane.source import SyncSource
from scim_authz.db.extensions import db
from scim_authz.db.models import Tenant
from scim_authz.db.txn import transaction
from scim_authz.policy.errors import NotFound
from scim_authz.web import rate_limit

log = logging.getLogger("scim_authz.api.pdp_sync")
bp = Blueprint("api_pdp_sync", __name__, url_prefix="/v1/pdp")
MAX_DECISIONS = 10_000  # per POST
SETTING = "PDP_KEYS"


@dataclass(frozen=True)
class EveryTenant:
    """A caller with a key of PDP_KEYS: a decision point of every tenant."""

    name: str
    tenant_id: None = None
    tenant_key: None = None
    label: str = ""


@bp.record_once
def _check_setting(state) -> None:
    """A malformed PDP_KEYS stops the app from starting, naming the entry."""
    from scim_authz.config.settings import ConfigurationError

    try:
        operator_keys.parse(state.app.config.get(SETTING), SETTING, "pdp-keys")
    except ValueError as e:
        raise ConfigurationError(str(e)) from e


def _caller():
    limits, address = rate_limit.limits(), rate_limit.client_address()
    authorization = request.headers.get("Authorization")
    limits.admit("api", address, authorization, TooManyRequests)
    every = operator_keys.parse(current_app.config.get(SETTING), SETTING, "pdp-keys")
    if every:
        try:
            key = operator_keys.verify(authorization, every)
            return EveryTenant(key.name, label=f"pdp key {key.name}")
        except InvalidCredential:
            pass  # (a tenant's own PDP key, perhaps)
    try:
        return auth_cache.authenticate(authorization, "pdp", policy=False)
    except TenantDisabled as e:
        raise Unauthorized(e.detail) from e
    except InvalidCredential as e:
        limits.auth_failed("api", address)
        raise Unauthorized(e.detail if "Bearer" in e.detail else "The PDP key is not valid.") from e


def _tenant(key: str) -> int:
    """The id of the tenant `key`, which the caller's PDP key must cover."""
    g.caller = caller = _caller()
    if isinstance(caller, EveryTenant):
        with transaction(False):
            tid = db.session.execute(select(Tenant.id).where(Tenant.key == key)).scalar()
        if tid is None:
            raise NotFound(f"no tenant {key!r}")
        return tid
    if key != caller.tenant_key:
        raise Forbidden(f"this PDP key does not cover tenant {key!r}")
    return caller.tenant_id


def _source() -> SyncSource:
    return SyncSource(pdp.engine().reader)


@bp.get("/tenants")
def tenants():
    g.caller = caller = _caller()
    if isinstance(caller, EveryTenant):
        with transaction(False):
            rows = db.session.execute(select(Tenant.id, Tenant.key, Tenant.revision).order_by(Tenant.id)).all()
        return json_response({"tenants": [{"id": t, "key": k, "revision": r} for t, k, r in rows]})
    return json_response({"tenants": [{"id": caller.tenant_id, "key": caller.tenant_key,
                                       "revision": _source().reader.revision(caller.tenant_id)}]})


@bp.get("/tenants/<key>/snapshot")
def snapshot(key):
    tid = _tenant(key)
    # (read when the first piece is sent, outside this request's transaction: the revision is the
    # body's own, tenant[4])
    resp = Response(_source().snapshot_gzip(tid), content_type="application/json")
    resp.headers["Content-Encoding"] = "gzip"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/tenants/<key>/changes")
def changes(key):
    tid = _tenant(key)
    after = request.args.get("after", default=0, type=int)  # (a value that is not a number reads as absent)
    if "after" in request.args and (not request.args["after"].isdigit()):
        raise InvalidRequest("after must be a revision number", details={"after": ["an integer ≥ 0"]})
    body = _source().changes(tid, after)
    if body is None:
        raise SnapshotRequired(f"the changes after revision {after} are no longer all in the change log: "
                               "take a snapshot")
    return json_response(body)


@bp.post("/tenants/<key>/decisions")
def decisions(key):
    """Append a decision point's decisions to the decision log, in this request (an error is a 503,
    and the decision point sends them again); one already there (a batch sent again after a lost
    answer) is skipped, so sending twice records once."""
    tid = _tenant(key)
    try:
        raw = orjson.loads(request.get_data(cache=False))["decisions"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as e:
        raise InvalidRequest('the body must be {"decisions": [...]}', details={"decisions": ["invalid"]}) from e
    if not isinstance(raw, list) or len(raw) > MAX_DECISIONS:
        raise InvalidRequest(f"decisions must be a list of at most {MAX_DECISIONS} rows",
                             details={"decisions": ["invalid"]})
    rows = decision_rows(raw, tid)
    try:
        accepted = pdp.audit(current_app._get_current_object()).write_through(rows) if rows else 0
    except Exception as e:
        log.error("decisions of a decision point not written (it sends them again): %s", e)
        raise Unavailable("the decision log could not be written; nothing was kept: send them again") from e
    return json_response({"accepted": accepted, "duplicates": len(rows) - accepted})
