"""/v1 users (syncUser, bulk sync), tenant settings, the decision log and usage."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, g, request
from marshmallow import ValidationError

from scim_authz import pdp
from scim_authz.api.context import api_endpoint, json_body
from scim_authz.api.errors import InvalidRequest
from scim_authz.api.schemas import BULK_USER, BULK_USERS, SYNC_USER, TENANT_SETTINGS, load
from scim_authz.db.extensions import db
from scim_authz.db.models import Tenant, utcnow
from scim_authz.http_errors import policy_error_body, policy_status
from scim_authz.policy import decisions as audit
from scim_authz.policy import tenants as tenant
from scim_authz.policy import users
from scim_authz.policy.errors import InvalidInput
from scim_authz.policy.lookup import find_user, user_or_404

bp = Blueprint("api_users", __name__, url_prefix="/v1")


@bp.put("/users/<path:key>")
@api_endpoint(write=True)
def sync_user(key):
    user, created, revision = users.sync_user(g.caller.tenant_id, key, load(SYNC_USER, json_body()), g.caller.label)
    return {"user": user, "created": created, "revision": revision}, (201 if created else 200)


@bp.get("/users/<path:key>")
@api_endpoint()
def get_user(key):
    if key.endswith("/permissions"):
        raise InvalidRequest("use GET /v1/users/{user}/permissions")
    return {"user": users.user_dict(user_or_404(g.caller.tenant_id, key))}


@bp.post("/users/bulk")
@api_endpoint(write=True)
def bulk_users():
    items = load(BULK_USERS, json_body())["users"]
    results, revision = users.bulk_sync(g.caller.tenant_id, items, g.caller.label, _load_bulk_item)
    for r in results:
        if "error" in r:
            r["status"], r["error"] = policy_status(r["error"]), policy_error_body(r["error"])["error"]
        else:
            r["status"] = 201 if r.pop("created") else 200
    failed = sum(1 for r in results if "error" in r)
    return {"results": results, "succeeded": len(results) - failed, "failed": failed, "revision": revision}


def _load_bulk_item(raw) -> dict:
    try:
        return BULK_USER.load(raw)
    except ValidationError as e:
        raise InvalidInput("the request is not valid", details=e.messages) from e


@bp.get("/tenant")
@api_endpoint()
def get_tenant():
    return {"tenant": tenant.settings_dict(db.session.get(Tenant, g.caller.tenant_id))}


@bp.patch("/tenant")
@api_endpoint(write=True)
def patch_tenant():
    cfg = current_app.config
    settings, revision = tenant.update_settings(
        g.caller.tenant_id, load(TENANT_SETTINGS, json_body(), partial=True),
        jwks_require_https=bool(cfg.get("AUTHZ_JWKS_REQUIRE_HTTPS")),
        jwks_allow_private=bool(cfg.get("AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS")))
    return {"tenant": settings, "revision": revision}


def _when(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        # Stored times are naive UTC: convert an offset to UTC, and read a naive time as UTC.
        return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when
    except (ValueError, OverflowError) as e:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise InvalidRequest(f"{name} must be an ISO 8601 time", details={name: ["not a time"]}) from e


@bp.get("/decisions")
@api_endpoint()
def decisions():
    pdp.audit().flush()  # this instance's own decisions are always visible
    args = request.args
    user_id = None
    if args.get("user"):
        found = find_user(g.caller.tenant_id, args["user"])
        user_id = found.id if found else args["user"]
    allowed = {"true": True, "false": False, None: None}.get(args.get("allowed", "").lower() or None, "bad")
    if allowed == "bad":
        raise InvalidRequest("allowed must be true or false", details={"allowed": ["true or false"]})
    limit = args.get("limit", default=100, type=int)
    if not 1 <= limit <= 1000:
        raise InvalidRequest("limit must be between 1 and 1000", details={"limit": ["1..1000"]})
    return audit.list_decisions(g.caller.tenant_id, user_id=user_id, allowed=allowed,
                                resource_type=args.get("resource_type"), action=args.get("action"),
                                since=_when("since"), until=_when("until"), cursor=args.get("cursor"), limit=limit)


@bp.get("/usage")
@api_endpoint()
def usage():
    pdp.audit().flush()
    months = request.args.get("months", default=12, type=int)
    if not 1 <= months <= 36:
        raise InvalidRequest("months must be between 1 and 36", details={"months": ["1..36"]})
    return {"usage": audit.usage(g.caller.tenant_id, months, utcnow())}
