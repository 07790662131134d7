"""The OpenAPI components of /v1/pdp, the decision points' sync (api/pdp_sync_views.py; the format is
scim_authz/dataplane/wire.py, described in docs/dataplane.md)."""
from __future__ import annotations

from scim_authz.api.openapi_schemas import INTEGER, REVISION, STRING, obj

ROW = {"type": "array", "description": "a row, as docs/dataplane.md lists its fields"}

COMPONENTS = {
    "PdpTenants": obj({"tenants": {"type": "array", "items": obj(
        {"id": INTEGER, "key": STRING, "revision": REVISION}, ("id", "key", "revision"))}}, ("tenants",)),
    "PdpChanges": obj({
        "format": {"const": 1}, "after": {**INTEGER, "minimum": 0}, "revision": REVISION,
        "newest": {**REVISION, "description": "the tenant's newest revision when this was read"},
        "more": {"type": "boolean", "description": "more changes follow: ask again after `revision` at once"},
        "changes": {"type": "array", "items": ROW, "description": "[revision, kind, ref], whole revisions in order"},
        "user_attributes_read": {"type": "array", "items": STRING,
                                 "description": "the user attributes role conditions read (all a PDP is "
                                                "sent); absent when there are no changes"},
        "data": {"type": "object", "description": "what each change reads now, by kind and ref"}},
        ("format", "after", "revision", "newest", "more", "changes", "data")),
    "PdpDecisions": obj({"decisions": {"type": "array", "maxItems": 10_000, "items": ROW,
                                       "description": "[id, tenant id, at, asked_by, user id, user key, action, "
                                                      "resource type, resource id, allowed, reason, revision]"}},
                        ("decisions",)),
    "PdpDecisionsTaken": obj({"accepted": {**INTEGER, "minimum": 0}, "duplicates": {**INTEGER, "minimum": 0}},
                             ("accepted", "duplicates")),
}
