"""The playground: ask the engine one question, see the answer and why; the answer is audited."""
from __future__ import annotations

import uuid

from flask import render_template, request

from scim_authz import pdp
from scim_authz.admin import bp, forms
from scim_authz.admin.context import actor, console_view, form_failed, tenant_id
from scim_authz.db.models import utcnow
from scim_authz.policy.lookup import find_user

FIELDS = ("user", "action", "resource", "context")


@bp.get("/playground")
@console_view()
def playground():
    values = {k: request.args.get(k, "") for k in FIELDS}
    return render_template("admin/playground.html", values=values, errors={}, result=None)


@bp.post("/playground")
@console_view()
def playground_check():
    data, errors = forms.check_input(request.form)
    user = find_user(tenant_id(), data["user"]) if data["user"] else None
    if data["user"] and user is None:
        errors["user"] = [f"There is no user {data['user']!r} in this tenant (give a userName, id or externalId)."]
    values = {k: data[k] for k in FIELDS}
    if errors:
        return form_failed("admin/playground.html", errors, 400, values=values, result=None)
    rtype, _, rid = data["resource"].partition(":")
    eng, tid = pdp.engine(), tenant_id()
    decision = eng.check(tid, user.id, data["action"], rtype, rid, context=data["context_obj"], explain=True)
    did = str(uuid.uuid4())
    pdp.audit().record({"id": did, "tenant_id": tid, "at": utcnow(), "asked_by": actor(), "user_id": user.id,
                        "user_key": user.user_name, "action": data["action"], "resource_type": rtype,
                        "resource_id": rid, "allowed": decision.allowed, "reason": decision.reason[:1000],
                        "revision": decision.revision})
    return render_template("admin/playground.html", values=values, errors={}, result=decision, user=user,
                           decision_id=did)
