"""/v1/policy: the caller's tenant's policy as a file (policy/as_code/): exported, compared with a
file, and a file applied (all or nothing, one revision; `?dry_run=true` writes nothing).

A file is sent as YAML (`Content-Type: application/yaml`) or as the same document in JSON; a file
that does not validate is a 400 `invalid_policy` whose details name each problem's line and path."""
from __future__ import annotations

from flask import Blueprint, Response, g, request

from scim_authz.api.context import api_endpoint, json_body
from scim_authz.api.errors import InvalidRequest
from scim_authz.policy.as_code.apply import apply_policy, diff_policy
from scim_authz.policy.as_code.diff import headline, render
from scim_authz.policy.as_code.document import SECTIONS, Policy
from scim_authz.policy.as_code.render import HEADER, to_json, to_yaml
from scim_authz.policy.as_code.state import export_document, read_current
from scim_authz.policy.as_code.validate import validate_data, validate_text
from scim_authz.web.requests import refuse_what_is_past_the_cap

bp = Blueprint("api_policy_file", __name__, url_prefix="/v1")

YAML = "application/yaml"
YAML_TYPES = (YAML, "application/x-yaml", "text/yaml", "text/x-yaml")
FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _sections() -> tuple[str, ...]:
    raw = request.args.get("sections")
    if raw is None:
        return SECTIONS
    names = tuple(dict.fromkeys(s.strip() for s in raw.split(",") if s.strip()))
    unknown = [n for n in names if n not in SECTIONS]
    if unknown or not names:
        raise InvalidRequest("unknown sections", details={"sections": [f"comma-separated, of {', '.join(SECTIONS)}"]})
    return names


def _flag(name: str) -> bool:
    raw = request.args.get(name, "false").lower()
    if raw not in FLAGS:
        raise InvalidRequest(f"{name} must be true or false", details={name: ["true or false"]})
    return FLAGS[raw]


def _policy() -> Policy:
    """The body as a validated policy: YAML, or JSON by its Content-Type."""
    if request.mimetype == "application/json":
        report = validate_data(json_body())
    elif request.mimetype in YAML_TYPES:
        raw = request.get_data(cache=True)
        refuse_what_is_past_the_cap()
        try:
            report = validate_text(raw.decode("utf-8-sig"))
        except UnicodeDecodeError as e:
            raise InvalidRequest("the body is not UTF-8 text") from e
    else:
        raise InvalidRequest("send the policy as application/yaml or application/json",
                             details={"Content-Type": [f"{YAML} or application/json"]})
    return report.raise_unless_ok()


@bp.get("/policy")
@api_endpoint()
def export_policy():
    cur = read_current(g.caller.tenant_id, _sections())
    doc = export_document(cur)
    if request.accept_mimetypes.best_match([YAML, "application/json"], default=YAML) == "application/json":
        return Response(to_json(doc), content_type="application/json")
    return Response(to_yaml(doc, HEADER.format(key=cur.key, revision=cur.revision)),
                    content_type=f"{YAML}; charset=utf-8")


@bp.post("/policy/diff")
@api_endpoint()
def diff_file():
    cur, plan = diff_policy(g.caller.tenant_id, _policy())
    return {"tenant": cur.key, "revision": cur.revision, "summary": headline(plan), "counts": plan.counts(),
            "changes": [c.to_dict() for c in plan.changes], "text": "\n".join(render(plan.changes))}


@bp.post("/policy/apply")
@api_endpoint(write=True)
def apply_file():
    dry_run = _flag("dry_run")
    done = apply_policy(g.caller.tenant_id, _policy(), dry_run=dry_run, target="api", by=g.caller.label)
    return done.to_dict()
