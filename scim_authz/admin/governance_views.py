"""The administrative change log, with filters and paging, and the access review with its
downloads (CSV and JSON)."""
from __future__ import annotations

import json
from datetime import timedelta

from flask import Response, render_template, request

from scim_authz import pdp
from scim_authz.admin import bp
from scim_authz.admin.audit_views import _date
from scim_authz.admin.context import console_view, tenant_id
from scim_authz.governance import access_review, changelog
from scim_authz.policy.errors import InvalidInput

PAGE = 50
SURFACES = {"": "Any surface", "console": "Console", "api": "API", "scim": "SCIM", "cli": "CLI",
            "webhook": "Webhook", "system": "System"}


@bp.get("/changes")
@console_view()
def change_log():
    f = {k: request.args.get(k, "").strip() for k in ("action", "actor", "surface", "since", "until")}
    errors: dict[str, list[str]] = {}
    since, until = _date(f["since"], "since", errors), _date(f["until"], "until", errors)
    page = {"changes": [], "next_cursor": None}
    if not errors:
        try:
            page = changelog.list_changes(
                tenant_id(), {"action": f["action"] or None, "actor": f["actor"] or None,
                              "surface": f["surface"] or None}, since,
                until + timedelta(days=1) if until else None, request.args.get("cursor") or None, PAGE)
        except InvalidInput as e:
            errors["cursor"] = [e.message]
    for c in page["changes"]:
        c["before_json"] = json.dumps(c["before"], indent=2, sort_keys=True) if c["before"] is not None else None
        c["after_json"] = json.dumps(c["after"], indent=2, sort_keys=True) if c["after"] is not None else None
    return render_template("admin/changes.html", filters=f, surfaces=SURFACES, errors=errors, page=page,
                           first_page=not request.args.get("cursor")), (400 if errors else 200)


@bp.get("/access-review")
@console_view(reads_audit=True)  # "last checked" includes this instance's newest decisions
def access_review_page():
    rows = access_review.review(pdp.engine(), tenant_id())
    fmt = request.args.get("format")
    if fmt == "csv":
        return Response(access_review.as_csv(rows), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="access-review.csv"'})
    if fmt == "json":
        return Response(json.dumps({"access_review": rows}, indent=2), content_type="application/json",
                        headers={"Content-Disposition": 'attachment; filename="access-review.json"'})
    return render_template("admin/access_review.html", rows=rows,
                           users=len({r["user_id"] for r in rows}))
