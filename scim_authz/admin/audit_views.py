"""The decision log with filters and paging, and monthly active users as a small chart."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import render_template, request

from scim_authz.admin import bp
from scim_authz.admin.charts import bar_chart
from scim_authz.admin.context import console_view, tenant_id
from scim_authz.db.models import utcnow
from scim_authz.policy import decisions as audit
from scim_authz.policy.errors import InvalidInput
from scim_authz.policy.lookup import find_user

PAGE = 50
RESULTS = {"": "Any result", "allowed": "Allowed", "denied": "Denied"}


def _date(text: str, field: str, errors: dict) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        errors[field] = ["Give a date as YYYY-MM-DD."]
        return None


@bp.get("/audit")
@console_view(reads_audit=True)  # this instance's own decisions count at once
def audit_log():
    f = {k: request.args.get(k, "").strip() for k in ("user", "result", "resource_type", "since", "until")}
    errors: dict[str, list[str]] = {}
    user_id = None
    if f["user"]:
        user = find_user(tenant_id(), f["user"])
        if user is None:
            errors["user"] = [f"There is no user {f['user']!r} in this tenant."]
        else:
            user_id = user.id
    since = _date(f["since"], "since", errors)
    until = _date(f["until"], "until", errors)
    if since and until and until < since:
        errors["until"] = ["The end date is before the start date."]
    page = {"decisions": [], "next_cursor": None}
    status = 200
    if not errors:
        try:
            page = audit.list_decisions(
                tenant_id(), user_id=user_id, allowed={"allowed": True, "denied": False}.get(f["result"]),
                resource_type=f["resource_type"] or None, since=since,
                until=until + timedelta(days=1) if until else None,  # the end date is included
                cursor=request.args.get("cursor") or None, limit=PAGE)
        except InvalidInput as e:
            errors["cursor"] = [e.message]
    else:
        status = 400
    usage = list(reversed(audit.usage(tenant_id(), 12, utcnow())))
    chart = bar_chart([(u["month"], u["monthly_active_users"]) for u in usage])
    return render_template("admin/audit.html", filters=f, results=RESULTS, errors=errors, page=page,
                           chart=chart, usage=usage, first_page=not request.args.get("cursor")), status
