"""The OpenAPI 3.1 description of /v1 and /access/v1, built with apispec: request bodies from the
marshmallow schemas that validate them (api/schemas.py), the rest from api/openapi_schemas.py.

The operations are a table, one row per route, so tests/api/test_openapi.py can hold it against
app.url_map: a route added without a row here fails that test by name. The document is built once
per app (its limits come from the app's settings) and holds nothing of any tenant."""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from scim_authz.api import openapi_pdp
from scim_authz.api import openapi_policy as jp
from scim_authz.api import openapi_schemas as js
from scim_authz.api import schemas as ma
from scim_authz.policy.vocabulary import PERMISSION

KEY = "scim_authz.openapi"
SECURITY = "apiKey"
# marshmallow schemas, by the component name the operations use (nested ones are named by apispec).
MARSHMALLOW = {
    "Consistency": ma.Consistency, "LookupResourcesRequest": ma.LookupResourcesRequest,
    "LookupSubjectsRequest": ma.LookupSubjectsRequest, "RoleRequest": ma.RoleSchema,
    "RolePatchRequest": ma.RolePatchSchema, "AssignmentRequest": ma.AssignmentSchema,
    "MappingRequest": ma.MappingSchema, "SchemaSource": ma.SchemaWrite, "RelationshipsRequest": ma.RelationshipsWrite,
    "SyncUserRequest": ma.SyncUserSchema, "BulkUser": ma.BulkUserSchema, "BulkUsersRequest": ma.BulkUsersRequest,
    "TenantSettingsRequest": ma.TenantSettingsSchema, "ResourceRequest": ma.ResourceWrite,
    "ResourcesRequest": ma.ResourcesWrite,
}
# The errors every authenticated operation may answer, and why; a row adds its own (404, 409).
ERRORS = {
    400: "The request is not valid: `details` names each field that was wrong.",
    401: "No API key, or one that is not valid (with `WWW-Authenticate: Bearer`).",
    404: "Nothing of that name in the caller's tenant.",
    409: "It conflicts with what exists.",
    413: "The body is larger than the limit.",
    403: "The key does not cover that tenant.",
    410: "The change log no longer holds every change after that revision: take a snapshot.",
    429: "Too many requests from this address or with this key.",
    503: "The database is out of reach or the request ran out of time; nothing was written.",
}
ALWAYS = (400, 401, 429, 503)
# Row ids and schema versions are 32-bit INTEGER columns (PostgreSQL refuses more; SQLite does not care).
INT32 = 2**31 - 1


def q(name: str, schema: dict, description: str = "") -> dict:
    """A query parameter."""
    return {"in": "query", "name": name, "schema": schema, "description": description}


EXPLAIN = q("explain", {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]},
            "true: say why (an `explanation` and the `path` of grants)")


@dataclass(frozen=True)
class Op:
    """One operation: what it does, what it takes, what it answers with."""

    summary: str
    body: str | None = None  # a component name
    ok: tuple[int, str | None] = (200, None)  # status, component name (None: no JSON body described)
    errors: tuple[int, ...] = ()
    query: tuple[dict, ...] = ()
    public: bool = False
    also: tuple[tuple[int, str], ...] = ()  # more success statuses with the same body (an idempotent 200)
    tag: str = "checks"
    extra: dict = field(default_factory=dict)


V1, AZ = "/v1", "/access/v1"
OPERATIONS: dict[tuple[str, str], Op] = {
    # ---- checks and lookups (api/check_views.py)
    ("post", V1 + "/check"): Op("Check one permission", "CheckRequest", (200, "CheckResult"), query=(EXPLAIN,)),
    ("post", V1 + "/check/bulk"): Op("Check many permissions, answered in order", "BulkCheckRequest",
                                     (200, "BulkCheckResult"), query=(EXPLAIN,)),
    ("get", V1 + "/users/{user}/permissions"): Op(
        "A user's effective roles, with provenance, and the permissions they give", ok=(200, "Permissions"),
        errors=(404,), query=(q("at_least", {"type": "integer", "minimum": 0}, "see this revision"),)),
    ("post", V1 + "/lookup/resources"): Op("Every resource of a type the user may act on, a page at a time",
                                           "LookupResourcesRequest", (200, "LookupResourcesResult"), (404,)),
    ("post", V1 + "/lookup/subjects"): Op("The active users who may act on a resource, a page at a time",
                                          "LookupSubjectsRequest", (200, "LookupSubjectsResult")),
    # ---- roles, assignments, mappings (api/policy_views.py)
    ("get", V1 + "/roles"): Op("List the roles", ok=(200, "Roles"), tag="roles"),
    ("post", V1 + "/roles"): Op("Create a role", "RoleRequest", (201, "RoleWritten"), (409,), tag="roles"),
    ("get", V1 + "/roles/{key}"): Op("Read a role", ok=(200, "RoleOne"), errors=(404,), tag="roles"),
    ("put", V1 + "/roles/{key}"): Op("Replace a role", "RolePatchRequest", (200, "RoleWritten"), (404, 409),
                                     tag="roles"),
    ("patch", V1 + "/roles/{key}"): Op("Change some of a role's fields", "RolePatchRequest", (200, "RoleWritten"),
                                       (404, 409), tag="roles"),
    ("delete", V1 + "/roles/{key}"): Op("Delete a role", ok=(200, "Deleted"), errors=(404, 409), tag="roles"),
    ("get", V1 + "/role-assignments"): Op("List app-managed role assignments", ok=(200, "Assignments"), tag="roles",
                                          errors=(404,),
                                          query=(q("user", {"type": "string"}), q("role", {"type": "string"}))),
    ("post", V1 + "/role-assignments"): Op("Assign a role to a user (an identical assignment answers 200)",
                                           "AssignmentRequest", (201, "AssignmentWritten"), (404,),
                                           also=((200, "AssignmentWritten"),), tag="roles"),
    ("delete", V1 + "/role-assignments/{aid}"): Op("Remove a role assignment", ok=(200, "Deleted"), errors=(404,),
                                                   tag="roles"),
    ("get", V1 + "/group-mappings"): Op("List IdP group to role mappings", ok=(200, "Mappings"), tag="roles",
                                        errors=(404,),
                                        query=(q("group", {"type": "string"}),)),
    ("post", V1 + "/group-mappings"): Op("Map an IdP group to a role (an identical mapping answers 200)",
                                         "MappingRequest", (201, "MappingWritten"), (404,),
                                         also=((200, "MappingWritten"),), tag="roles"),
    ("delete", V1 + "/group-mappings/{mid}"): Op("Remove a group mapping", ok=(200, "Deleted"), errors=(404,),
                                                 tag="roles"),
    # ---- the relationship schema and relationships
    ("get", V1 + "/schema"): Op("Read the relationship schema (the newest, or a version)", ok=(200, "SchemaOne"),
                                errors=(404,), tag="relationships",
                                query=(q("version", {"type": "integer", "minimum": 1, "maximum": INT32}),)),
    ("get", V1 + "/schema/versions"): Op("List the schema's versions", ok=(200, "SchemaVersions"),
                                         tag="relationships"),
    ("post", V1 + "/schema"): Op("Write a new schema version (only when valid)", "SchemaSource",
                                 (201, "SchemaWritten"), tag="relationships"),
    ("post", V1 + "/schema/validate"): Op("Validate a schema without writing it", "SchemaSource",
                                          (200, "SchemaValidation"), tag="relationships"),
    ("post", V1 + "/relationships"): Op("Write relationships (all or nothing, checked against the schema)",
                                        "RelationshipsRequest", (200, "RelationshipsWritten"), (404,),
                                        tag="relationships"),
    ("post", V1 + "/relationships/delete"): Op("Delete relationships (all or nothing)", "RelationshipsRequest",
                                               (200, "RelationshipsDeleted"), tag="relationships"),
    ("get", V1 + "/relationships"): Op(
        "Read relationships by exact filters, a page at a time", ok=(200, "RelationshipPage"), tag="relationships",
        query=(q("limit", {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 100}),
               q("cursor", {"type": "integer", "minimum": 1, "maximum": INT32}),
               *(q(f, {"type": "string"}) for f in ("resource_type", "resource_id", "relation", "subject_type",
                                                    "subject_id", "subject_relation")))),
    # ---- resources' held attributes (api/resources_views.py)
    ("put", V1 + "/resources/{rtype}/{rid}"): Op(
        "Hold a resource's attributes, which conditions read as resource.* (replaced whole)", "ResourceRequest",
        (201, "ResourceWritten"), also=((200, "ResourceWritten"),), tag="resources"),
    ("get", V1 + "/resources/{rtype}/{rid}"): Op("Read a resource's held attributes", ok=(200, "ResourceOne"),
                                                 errors=(404,), tag="resources"),
    ("delete", V1 + "/resources/{rtype}/{rid}"): Op("Forget a resource's held attributes",
                                                    ok=(200, "ResourceDeleted"), tag="resources"),
    ("post", V1 + "/resources"): Op("Hold many resources' attributes (all or nothing)", "ResourcesRequest",
                                    (200, "ResourcesWritten"), tag="resources"),
    ("get", V1 + "/resources"): Op(
        "List resources (of one type, or all) with their held attributes, a page at a time",
        ok=(200, "ResourcePage"), tag="resources", query=(q("type", {"type": "string"}),
                                q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
                                q("cursor", {"type": "string"}))),
    # ---- the administrative change log (api/changes_views.py)
    ("get", V1 + "/changes"): Op(
        "The administrative change log, newest first: who changed what, when, through which surface",
        ok=(200, "AdminChanges"), tag="audit",
        query=(q("action", {"type": "string"}, "a prefix: role. for every role change"),
               q("actor", {"type": "string"}), q("surface", {"type": "string"}), q("target", {"type": "string"}),
               q("since", {"type": "string", "format": "date-time"}),
               q("until", {"type": "string", "format": "date-time"}),
               q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
               q("cursor", {"type": "string"}))),
    ("get", V1 + "/changes/directory-writes"): Op(
        "SCIM directory writes per IdP token and day", ok=(200, "DirectoryWrites"), tag="audit",
        query=(q("days", {"type": "integer", "minimum": 1, "maximum": 366, "default": 31}),)),
    ("get", V1 + "/access-review"): Op(
        "Access review: every user with each effective role, its provenance, since when, last checked",
        ok=(200, "AccessReview"), tag="audit",
        query=(q("format", {"type": "string", "enum": ["json", "csv"], "default": "json"},
                 "csv: the same rows as text/csv"),
               q("as_of", {"type": "string", "format": "date-time"}, "as it stood then (replayed from history)")),
        extra={"also_content": "text/csv"}),
    ("get", V1 + "/access-review/diff"): Op(
        "Who gained and who lost which role, and through what, between two moments", ok=(200, "AccessReviewDiff"),
        tag="audit", query=(q("from", {"type": "string", "format": "date-time"}, "default: 30 days before to"),
                            q("to", {"type": "string", "format": "date-time"}, "default: now"))),
    # ---- users, tenant, audit (api/users_views.py)
    ("put", V1 + "/users/{key}"): Op("syncUser: create or update the user the app knows by this key",
                                      "SyncUserRequest", (201, "UserSynced"), (404, 409),
                                      also=((200, "UserSynced"),), tag="users"),
    ("get", V1 + "/users/{key}"): Op("Read a user", ok=(200, "UserOne"), errors=(404,), tag="users"),
    ("post", V1 + "/users/bulk"): Op("Sync many users; each item succeeds or fails alone", "BulkUsersRequest",
                                     (200, "BulkUsersResult"), tag="users"),
    ("get", V1 + "/tenant"): Op("Read the tenant's settings", ok=(200, "TenantOne"), tag="tenant"),
    ("patch", V1 + "/tenant"): Op("Change the role mode, default role, name or JWT verification",
                                  "TenantSettingsRequest", (200, "TenantWritten"), (404,), tag="tenant"),
    ("get", V1 + "/decisions"): Op(
        "Read the decision log, newest first", ok=(200, "Decisions"), tag="audit",
        query=(q("user", {"type": "string"}), q("allowed", {"type": "string", "enum": ["true", "false"]}),
               q("resource_type", {"type": "string"}), q("action", {"type": "string"}),
               q("since", {"type": "string", "format": "date-time"}),
               q("until", {"type": "string", "format": "date-time"}), q("cursor", {"type": "string"}),
               q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}))),
    ("get", V1 + "/usage"): Op("Monthly active users and checks", ok=(200, "Usage"), tag="audit",
                               query=(q("months", {"type": "integer", "minimum": 1, "maximum": 36, "default": 12}),)),
    # ---- decision points' sync, with a PDP key (api/pdp_sync_views.py, docs/dataplane.md)
    ("get", V1 + "/pdp/tenants"): Op("The tenants a PDP key covers, with their revisions", ok=(200, "PdpTenants"),
                                     tag="data plane"),
    ("get", V1 + "/pdp/tenants/{key}/snapshot"): Op(
        "A tenant's decision data at a revision (gzip'd JSON, streamed)", ok=(200, None),
        errors=(403,), tag="data plane"),
    ("get", V1 + "/pdp/tenants/{key}/changes"): Op(
        "The changes after a revision, whole revisions, with what each reads (410: take a snapshot)",
        ok=(200, "PdpChanges"), errors=(403, 410), tag="data plane",
        query=(q("after", {"type": "integer", "minimum": 0, "default": 0}, "the revision the PDP holds"),)),
    ("post", V1 + "/pdp/tenants/{key}/decisions"): Op(
        "Decisions a PDP made, for the decision log (one already there is skipped)", "PdpDecisions",
        (200, "PdpDecisionsTaken"), (403,), tag="data plane"),
    # ---- this description (api/docs_views.py)
    ("get", V1 + "/openapi.json"): Op("This OpenAPI description", ok=(200, None), public=True, tag="docs"),
    ("get", V1 + "/docs"): Op("A page that reads this description", ok=(200, None), public=True, tag="docs",
                              extra={"content": "text/html"}),
    ("get", V1 + "/docs/{filename}"): Op("The page's scripts and styles (Swagger UI, served from this server)",
                                         ok=(200, None), errors=(404,), public=True, tag="docs"),
    # ---- AuthZEN Authorization API 1.0 (api/authzen_views.py)
    ("get", "/.well-known/authzen-configuration"): Op("AuthZEN PDP metadata", ok=(200, "AuthZENConfiguration"),
                                                      public=True, tag="AuthZEN"),
    ("post", AZ + "/evaluation"): Op("AuthZEN access evaluation: a deny is 200 {\"decision\": false}",
                                     "AuthZENEvaluation", (200, "AuthZENDecision"), query=(EXPLAIN,), tag="AuthZEN"),
    ("post", AZ + "/evaluations"): Op("AuthZEN access evaluations: defaults plus items, answered in order",
                                      "AuthZENEvaluations", (200, "AuthZENDecisions"), query=(EXPLAIN,),
                                      tag="AuthZEN"),
    ("post", AZ + "/search/subject"): Op("AuthZEN subject search: the users a decision would permit",
                                         "AuthZENSubjectSearch", (200, "AuthZENSubjects"), tag="AuthZEN"),
    ("post", AZ + "/search/resource"): Op("AuthZEN resource search: the resources of a type a decision would permit",
                                          "AuthZENResourceSearch", (200, "AuthZENResources"), tag="AuthZEN"),
    ("post", AZ + "/search/action"): Op("AuthZEN action search: the actions a decision would permit",
                                        "AuthZENActionSearch", (200, "AuthZENActions"), tag="AuthZEN"),
}
OPERATIONS.update(jp.operations(Op, V1))  # the policy as a file: YAML or JSON in and out
USER_KEY = "a user's id, userName or externalId"
PATH_PARAMETERS = {"user": USER_KEY, "key": "a role key", "aid": "an assignment id", "mid": "a mapping id",
                   "filename": "an asset's file name", "rtype": "a resource type",
                   "rid": "a resource id (the rest of the path, slashes included)"}
PATH_PARAMETERS_UNDER = {("/v1/users/", "key"): USER_KEY}  # where a name means something else
INTEGER_PARAMETERS = {"aid", "mid"}


def _ma_fields(converter, field, ret, **kwargs) -> dict:
    """What apispec cannot read from a field: the hand-validated references, the permission rule."""
    if isinstance(field, ma.UserRef):
        return js.ref("UserRef")
    if isinstance(field, ma.ResourceRef):
        return js.ref("ResourceRef")
    if ma._permission in getattr(field, "validators", ()):
        return {"pattern": PERMISSION.pattern}
    return {}


def _json(name: str | None) -> dict:
    return {"application/json": {"schema": js.ref(name) if name else {"type": "object"}}}


def _also(media_types, name: str | None) -> dict:
    """The same body in other media types than JSON (a policy file in YAML)."""
    return {t: {"schema": js.ref(name) if name else {"type": "object"}} for t in media_types}


def _operation(method: str, path: str, op: Op) -> dict:
    out = {"summary": op.summary, "tags": [op.tag], "operationId": f"{method}_{path}".replace("/", "_")
           .replace("{", "").replace("}", "").replace(".", "_").replace("-", "_").strip("_")}
    params = [{"in": "path", "name": n, "required": True, "description": next(
        (d for (prefix, name), d in PATH_PARAMETERS_UNDER.items() if name == n and path.startswith(prefix)),
        PATH_PARAMETERS[n]),
               "schema": {"type": "integer", "minimum": 0, "maximum": INT32} if n in INTEGER_PARAMETERS
               else {"type": "string"}}
              for n in _path_names(path)]
    out["parameters"] = params + [p for p in op.query]
    if not out["parameters"]:
        del out["parameters"]
    if op.body:
        also = _also(op.extra.get("body_as", ()), op.body)
        out["requestBody"] = {"required": True, "content": {**_json(op.body), **also}}
    status, name = op.ok
    content = {op.extra["content"]: {"schema": {"type": "string"}}} if "content" in op.extra else _json(name)
    if "also_content" in op.extra:  # the same answer in another format, chosen by a parameter
        content[op.extra["also_content"]] = {"schema": {"type": "string"}}
    content = {**_also(op.extra.get("ok_as", ()), name), **content}
    responses = {str(status): {"description": "OK" if status == 200 else "Created", "content": content}}
    for more, more_name in op.also:
        responses[str(more)] = {"description": "OK: it was there already", "content": _json(more_name)}
    errors = set(op.errors) | (set() if op.public else set(ALWAYS)) | ({413} if op.body else set())
    for code in sorted(errors):
        responses[str(code)] = {"$ref": f"#/components/responses/E{code}"}
    out["responses"] = responses
    out["security"] = [] if op.public else [{SECURITY: []}]
    return out


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def build(app: Flask) -> dict:
    """The OpenAPI 3.1 document for this app, as a dict."""
    try:
        release = version("scim-authz")
    except PackageNotFoundError:  # run from a source tree that was never installed
        release = "0"
    plugin = MarshmallowPlugin()
    spec = APISpec(title="scim-authz", version=release, openapi_version="3.1.0", plugins=[plugin], info={
        "description": "The /v1 API (docs/api.md) and the OpenID AuthZEN Authorization API 1.0 under /access/v1 "
                       "(docs/authzen.md). Errors are `{\"error\": {\"status\", \"code\", \"message\", "
                       "\"details\"?}}`; a request that fails changes nothing."})
    plugin.converter.add_attribute_function(_ma_fields)
    spec.components.security_scheme(SECURITY, {
        "type": "http", "scheme": "bearer", "bearerFormat": "sk_…",
        "description": "The tenant's application API key: `Authorization: Bearer sk_…` (`flask tokens issue "
                       "<tenant> --kind app`). The key decides the tenant."})
    for name, schema in MARSHMALLOW.items():
        spec.components.schema(name, schema=schema)
    components = {**js.COMPONENTS, **jp.COMPONENTS, **openapi_pdp.COMPONENTS,
                  "BulkCheckRequest": js.bulk_check_request(app.config["AUTHZ_BULK_MAX_CHECKS"])}
    for name, schema in components.items():
        spec.components.schema(name, schema)
    for code, description in ERRORS.items():
        response = {"description": description, "content": _json("Error")}
        if code == 401:
            response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}
        spec.components.response(f"E{code}", response)
    paths: dict[str, dict] = {}
    for (method, path), op in OPERATIONS.items():
        paths.setdefault(path, {})[method] = _operation(method, path, op)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    doc = spec.to_dict()
    doc["security"] = [{SECURITY: []}]
    return doc


def document(app: Flask) -> dict:
    """The app's document, built on first use and kept."""
    doc = app.extensions.get(KEY)
    if doc is None:
        doc = app.extensions[KEY] = build(app)
    return doc
