"""The OpenID AuthZEN Authorization API 1.0 (docs/authzen.md): access evaluation, batches of them,
and the metadata a policy enforcement point discovers them by, answered by the same engine and
written to the same decision log as /v1/check.

Authenticated with the tenant's application API key, as /v1 is. A deny is `200 {"decision":
false}`; an HTTP error is only ever about the request itself.
"""
from __future__ import annotations

from flask import Blueprint, g, request

from scim_authz.api import authzen_requests as az
from scim_authz.api.check_views import DecisionBatch, decide
from scim_authz.api.context import api_endpoint, json_body, json_response
from scim_authz.api.errors import InvalidRequest
from scim_authz.db.models import utcnow
from scim_authz.web.requests import public_origin

bp = Blueprint("authzen", __name__)

PREFIX = "/access/v1"
ENDPOINTS = {"access_evaluation_endpoint": "/evaluation", "access_evaluations_endpoint": "/evaluations",
             "search_subject_endpoint": "/search/subject", "search_resource_endpoint": "/search/resource",
             "search_action_endpoint": "/search/action"}


@bp.get("/.well-known/authzen-configuration")
def configuration():
    """PDP metadata (1.0 §Policy Decision Point Metadata): no credential needed, nothing of any
    tenant in it (the API key of a request decides its tenant)."""
    origin = public_origin()
    body = {"policy_decision_point": origin, **{k: origin + PREFIX + path for k, path in ENDPOINTS.items()}}
    resp = json_response(body)
    resp.headers["Cache-Control"] = "max-age=300"
    return resp


def json_request() -> dict:
    """The body, which AuthZEN sends as application/json only."""
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise InvalidRequest("AuthZEN requests are sent as Content-Type: application/json")
    return json_body()


def _explain(options: dict | None = None) -> bool:
    if options and options.get("explain") is True:
        return True
    return request.args.get("explain", "").lower() in ("1", "true", "yes")


def user_key(st, subject_id: str) -> str:
    """The user a subject id names: a user's id or userName (as /v1/check takes them), else its
    externalId (the IdP's own id for the user, which is what a token's `sub` usually carries)."""
    if st is None or subject_id in st.users or subject_id.lower() in st.by_name:
        return subject_id
    return st.by_external.get(subject_id, subject_id)


def _decision(req: dict, b: DecisionBatch, explain: bool, rows: list) -> dict:
    """One evaluation: {"decision": …} (with the reason in its context when asked to explain)."""
    reason = az.checkable(req)
    if reason is not None:
        return {"decision": False, **({"context": {"reason_admin": {"en": reason}}} if explain else {})}
    res, context = req["resource"], req["context"]
    if req["action"]["properties"] and "action" not in context:  # conditions read them as context.action.*
        context = {**context, "action": req["action"]["properties"]}
    item = {"user": {"key": user_key(b.store, req["subject"]["id"])}, "action": req["action"]["name"],
            "resource": {"type": res["type"], "id": res["id"], "attributes": res["properties"]},
            "context": context, "claims": req["subject"]["properties"], "schema_version": None}
    out, row = decide(item, None, explain, b)
    rows.append(row)
    decision = {"decision": out["allowed"]}
    if explain:
        decision["context"] = {"decision_id": out["decision_id"], "revision": out["revision"],
                               "reason_admin": {"en": out["explanation"]}}
    return decision


@bp.post(PREFIX + "/evaluation")
@api_endpoint()
def evaluation():
    req = az.evaluation(json_request())
    b, rows = DecisionBatch(), []
    out = _decision(req, b, _explain(), rows)
    if rows:
        b.audit.record(rows[0])
    return out


@bp.post(PREFIX + "/evaluations")
@api_endpoint()
def evaluations():
    raw = json_request()
    items, semantic, options = az.batch(raw)
    explain = _explain(options)
    b, rows = DecisionBatch(at=utcnow()), []
    if items is None:  # no evaluations: the top level is one evaluation, answered as one
        out = _decision(az.evaluation(raw), b, explain, rows)
        b.audit.write_now(rows)
        return out
    results = []
    for item in items:
        if isinstance(item, az.BadItem):  # fails closed, and the batch goes on
            results.append({"decision": False, "context": {"error": {"status": 400, "message": str(item)}}})
        else:
            results.append(_decision(item, b, explain, rows))
        decided = results[-1]["decision"]
        if (semantic == "deny_on_first_deny" and not decided) or (semantic == "permit_on_first_permit" and decided):
            break
    g.decision_id = None  # what is logged from here on is about the batch
    if rows:
        b.audit.write_now(rows)
    return {"evaluations": results}
