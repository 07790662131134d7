"""The tenant's policy as a file in the console: download it, and upload one, which is validated
and compared with what the tenant holds, and applied only after the admin has read the
difference (and only if the tenant has not changed since)."""
from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, request, url_for

from scim_authz.admin import bp
from scim_authz.admin.context import console_view, tenant_id
from scim_authz.policy.as_code.apply import apply_policy, diff_policy
from scim_authz.policy.as_code.diff import headline, render
from scim_authz.policy.as_code.render import HEADER, to_yaml
from scim_authz.policy.as_code.state import export_document, read_current
from scim_authz.policy.as_code.validate import validate_text
from scim_authz.policy.errors import PolicyError


@bp.get("/policy-file")
@console_view()
def policy_file():
    return render_template("admin/policy_file.html", stage="upload", source="", findings=[], changes=[])


@bp.get("/policy-file/export")
@console_view()
def policy_file_export():
    cur = read_current(tenant_id())
    text = to_yaml(export_document(cur), HEADER.format(key=cur.key, revision=cur.revision))
    return Response(text, content_type="application/yaml; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{cur.key}-policy.yaml"'})


def _source() -> str:
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            return ""
    return request.form.get("source", "")


def _preview(source: str, status: int = 200, notice: str | None = None):
    """Validate `source` and show either its problems or what applying it would change."""
    report = validate_text(source) if source.strip() else None
    if report is None or not report.ok:
        findings = [f.render("policy.yaml") for f in report.findings] if report else [
            "The file is empty, or not UTF-8 text: choose a policy file or paste one."]
        return render_template("admin/policy_file.html", stage="invalid", source=source, findings=findings,
                               changes=[]), 400
    try:
        cur, plan = diff_policy(tenant_id(), report.policy)
    except PolicyError as e:
        return render_template("admin/policy_file.html", stage="invalid", source=source, findings=[e.message],
                               changes=[]), 400
    return render_template("admin/policy_file.html", stage="preview", source=source, findings=[],
                           changes=render(plan.changes, limit=500), summary=headline(plan), empty=plan.empty,
                           revision=cur.revision, notice=notice), status


@bp.post("/policy-file/preview")
@console_view()
def policy_file_preview():
    return _preview(_source())


@bp.post("/policy-file/apply")
@console_view(write=True)
def policy_file_apply():
    source = request.form.get("source", "")
    if request.form.get("revision") != str(g.tenant.revision):  # (read in this write transaction)
        return _preview(source, 409, "The tenant changed since you read this difference: here it is again. "
                                     "Nothing was applied.")
    report = validate_text(source)
    if not report.ok:
        return _preview(source)
    try:
        done = apply_policy(tenant_id(), report.policy, target="console upload", by=f"console {g.admin.email}")
    except PolicyError as e:
        return render_template("admin/policy_file.html", stage="invalid", source=source, findings=[e.message],
                               changes=[]), 400
    flash(f"Applied: {headline(done.plan)} (revision {done.revision})." if done.changed
          else "Nothing to change: the tenant already holds this policy.", "success")
    return redirect(url_for("admin.policy_file"))
