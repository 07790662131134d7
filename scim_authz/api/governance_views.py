"""/v1 governance: the administrative change log of the caller's tenant (who changed what, when,
through which surface, before and after), SCIM directory writes per IdP token and day, and the
access review."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, g, request

from scim_authz import pdp
from scim_authz.api.context import api_endpoint
from scim_authz.api.errors import InvalidRequest
from scim_authz.api.users_views import _when
from scim_authz.db.models import utcnow
from scim_authz.governance import access_review, changelog, directory_writes

bp = Blueprint("api_governance", __name__, url_prefix="/v1")


@bp.get("/changes")
@api_endpoint()
def list_changes():
    args = request.args
    limit = args.get("limit", default=100, type=int)
    if not 1 <= limit <= 1000:
        raise InvalidRequest("limit must be between 1 and 1000", details={"limit": ["1..1000"]})
    filters = {name: args.get(name) for name in changelog.FILTERS}
    return changelog.list_changes(g.caller.tenant_id, filters, _when("since"), _when("until"), args.get("cursor"),
                                  limit)


@bp.get("/changes/directory-writes")
@api_endpoint()
def directory_write_counts():
    days = request.args.get("days", default=31, type=int)
    if not 1 <= days <= 366:
        raise InvalidRequest("days must be between 1 and 366", details={"days": ["1..366"]})
    pdp.write_counter().flush()  # this instance's newest writes count at once
    return {"directory_writes": directory_writes.counts(g.caller.tenant_id, days)}


@bp.get("/access-review")
@api_endpoint()
def review():
    """JSON, or CSV with ?format=csv (or Accept: text/csv)."""
    pdp.audit().flush()  # this instance's own decisions count for "last checked"
    as_of = _when("as_of")
    rows = access_review.review_as_of(g.caller.tenant_id, as_of) if as_of else \
        access_review.review(pdp.engine(), g.caller.tenant_id)
    fmt = request.args.get("format") or ("csv" if request.accept_mimetypes.best == "text/csv" else "json")
    if fmt not in ("csv", "json"):
        raise InvalidRequest("format must be csv or json", details={"format": ["csv or json"]})
    if fmt == "csv":
        return Response(access_review.as_csv(rows), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="access-review.csv"'})
    return {"access_review": rows}


@bp.get("/access-review/diff")
@api_endpoint()
def review_diff():
    """Who gained and who lost which role, and through what, between `from` (default: 30 days
    before `to`) and `to` (default: now)."""
    end = _when("to") or utcnow()
    start = _when("from") or end - timedelta(days=30)
    if end < start:
        raise InvalidRequest("to is before from", details={"to": ["not before from"]})
    return access_review.diff(g.caller.tenant_id, start, end)
