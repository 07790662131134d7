"""JSON Schemas for the OpenAPI description of /v1/policy (api/policy_file_views.py): the policy
document itself is described by docs/policy.schema.json; here it is an object naming that file,
beside the answers of diff and apply."""
from __future__ import annotations

from scim_authz.api.openapi_schemas import BOOLEAN, INTEGER, REVISION, STRING, obj, ref
from scim_authz.policy.as_code.diff import KINDS, OPS

YAML = "application/yaml"
SECTIONS_PARAMETER = {"in": "query", "name": "sections", "schema": {"type": "string"},
                      "description": "comma-separated sections to export (default: all): role_mode, default_role, "
                                     "roles, group_mappings, schema, assignments, relationships, resources"}
DRY_RUN_PARAMETER = {"in": "query", "name": "dry_run", "schema": {
    "type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]},
    "description": "true: make every write, then roll them all back"}

_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1},
           "propertyNames": {"enum": list(KINDS)}}
COUNTS = obj({word: _COUNTS for word in OPS.values()}, tuple(OPS.values()),
             description="how many of each kind would be (or were) added, removed and changed")
CHANGE = obj({"op": {"enum": list(OPS)}, "kind": {"enum": list(KINDS)}, "name": STRING,
              "details": {"type": "array", "items": STRING}}, ("op", "kind", "name", "details"),
             description='one change: "+ role auditor", "~ setting role_mode: hybrid -> idp"; details say what of it')
CHANGES = {"type": "array", "items": ref("PolicyChange")}

COMPONENTS = {
    "PolicyDocument": {"type": "object", "required": ["version", "roles"], "description":
                       "a policy file as JSON: the schema is docs/policy.schema.json (docs/policy-as-code.md)",
                       "properties": {"version": {"const": 1}, "roles": {"type": "array"}}},
    "PolicyChange": CHANGE,
    "PolicyCounts": COUNTS,
    "PolicyDiff": obj({"tenant": STRING, "revision": REVISION, "summary": STRING, "counts": ref("PolicyCounts"),
                       "changes": CHANGES, "text": {"type": "string", "description": "the changes as lines to read"}},
                      ("tenant", "revision", "summary", "counts", "changes", "text")),
    "PolicyApplied": obj({"tenant": STRING, "dry_run": BOOLEAN,
                          "applied": {**BOOLEAN, "description": "whether anything was written"},
                          "revision": {**INTEGER, "minimum": 0, "description": "the one revision the apply made (or, "
                                       "dry, would make); the tenant's when nothing changed"},
                          "summary": STRING, "counts": ref("PolicyCounts"), "changes": CHANGES},
                         ("tenant", "dry_run", "applied", "revision", "summary", "counts", "changes")),
}


def operations(op, v1: str) -> dict:
    """The rows of api/openapi.py's OPERATIONS for /v1/policy (`op` is its Op)."""
    return {
        ("get", v1 + "/policy"): op("Export the tenant's policy as a policy file (YAML, or JSON when asked for)",
                                    ok=(200, "PolicyDocument"), tag="policy", query=(SECTIONS_PARAMETER,),
                                    extra={"ok_as": (YAML,)}),
        ("post", v1 + "/policy/diff"): op("What applying a policy file would change", "PolicyDocument",
                                          (200, "PolicyDiff"), tag="policy", extra={"body_as": (YAML,)}),
        ("post", v1 + "/policy/apply"): op("Apply a policy file: all or nothing, one revision", "PolicyDocument",
                                           (200, "PolicyApplied"), tag="policy", query=(DRY_RUN_PARAMETER,),
                                           extra={"body_as": (YAML,)}),
    }
