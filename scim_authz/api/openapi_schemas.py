"""JSON Schemas for the OpenAPI description (scim_authz/api/openapi.py) of what marshmallow does not
state: the requests validated by hand (checks in api/check_items.py, AuthZEN in
api/authzen_requests.py) and every response body. Each says what that code accepts or returns; when
the code changes, change these with it (tests/api/test_openapi.py runs the app against them)."""
from __future__ import annotations

from scim_authz.policy.vocabulary import ACTION, NAME, OBJECT, OBJECT_ID_MAX, USER_KEY_MAX


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict, required: tuple = (), *, closed: bool = True, **extra) -> dict:
    """An object schema; `closed` refuses members not named (marshmallow's RAISE, check_items' FIELDS)."""
    out = {"type": "object", "properties": properties, **extra}
    if required:
        out["required"] = list(required)
    if closed:
        out["additionalProperties"] = False
    return out


STRING, INTEGER, BOOLEAN = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
NULLABLE_STRING = {"type": ["string", "null"]}
ANY_OBJECT = {"type": "object"}
OBJECT_OR_NULL = {"type": ["object", "null"]}
TIME = {"type": "string", "format": "date-time"}
REVISION = {"type": "integer", "minimum": 0, "description": "the tenant's revision that the answer reflects"}
STALE = {"const": True, "description": "present when answered from memory while the database was out of reach"}
NEXT_CURSOR = {"type": ["string", "null"], "description": "pass as `cursor` for the next page; null on the last"}
# A user key as check_items.parse_user takes it: trimmed, 1..USER_KEY_MAX characters once trimmed.
_TRIMMED_KEY = rf"^\s*\S([\s\S]{{0,{USER_KEY_MAX - 2}}}\S)?\s*$"
_KEY = {"type": "string", "minLength": 1, "maxLength": USER_KEY_MAX}

# ---- errors ---------------------------------------------------------------------------------------

ERROR = obj({"error": obj({
    "status": {"type": "integer", "description": "the HTTP status, again"},
    "code": {"type": "string", "minLength": 1, "description": "stable, for programs: invalid_request, "
             "unauthorized, not_found, conflict, invalid_user_token, revision_not_known, …"},
    "message": {"type": "string", "description": "for people"},
    "details": {"type": ["object", "array"], "description": "what was wrong, by field (or by line)"},
}, ("status", "code", "message"))}, ("error",), description='Every error of /v1 and /access/v1: '
    '`{"error": {"status", "code", "message", "details"?}}`. A request that fails changes nothing.')

# ---- checks (api/check_items.py) --------------------------------------------------------------------

USER_REF = {
    "description": 'a user id or userName, or {"jwt": "<the end user\'s token>"} (verified against the '
                   'tenant\'s JWT settings), or {"id": …} or {"userName": …}',
    "anyOf": [
        {"type": "string", "pattern": _TRIMMED_KEY},
        {"type": "object", "properties": {"jwt": {"type": "string", "minLength": 1}}, "required": ["jwt"]},
        {"type": "object", "properties": {"id": _KEY}, "required": ["id"]},
        {"type": "object", "properties": {"userName": _KEY}, "required": ["userName"]},
    ],
}
RESOURCE_REF = {
    "description": '"type:id", or {"type", "id", "attributes"?}; attributes are `resource.*` in conditions',
    "oneOf": [
        {"type": "string", "pattern": OBJECT.pattern},
        {"type": "object", "required": ["type", "id"], "properties": {
            "type": {"type": "string", "pattern": NAME.pattern},
            "id": {"oneOf": [{"type": "string", "minLength": 1, "maxLength": OBJECT_ID_MAX},
                             {"type": "integer"}]},
            "attributes": {"type": ["object", "null"]},
        }},
    ],
}
CHECK_REQUEST = obj({
    "user": ref("UserRef"),
    "action": {"type": "string", "pattern": ACTION.pattern},
    "resource": ref("ResourceRef"),
    "context": {"type": ["object", "null"], "description": "`context.*` in conditions"},
    "consistency": {"oneOf": [ref("Consistency"), {"type": "null"}]},
    "explain": {"type": "boolean", "default": False},
    "schema_version": {"type": ["integer", "null"], "minimum": 1},
}, ("user", "action", "resource"))


def bulk_check_request(max_checks: int) -> dict:
    """The bulk body; its size limit is the app's AUTHZ_BULK_MAX_CHECKS."""
    return obj({"checks": {"type": "array", "items": ref("CheckRequest"), "minItems": 1, "maxItems": max_checks},
                "consistency": {"oneOf": [ref("Consistency"), {"type": "null"}]}}, ("checks",))


CHECK_RESULT = obj({
    "allowed": BOOLEAN, "decision_id": STRING, "revision": REVISION, "stale": STALE,
    "explanation": {"type": "string", "description": "with explain"},
    "path": {"type": "array", "items": STRING, "description": "with explain: the grants that decided"},
}, ("allowed", "decision_id", "revision"))
BULK_CHECK_RESULT = obj({"results": {"type": "array", "items": ref("CheckResult")}, "revision": REVISION,
                         "stale": STALE}, ("results", "revision"))
PERMISSIONS = obj({
    "user": obj({"id": STRING, "userName": NULLABLE_STRING, "active": {"type": ["boolean", "null"]}},
                ("id",)),
    "revision": REVISION, "role_mode": STRING, "stale": STALE,
    "roles": {"type": "array", "items": obj({
        "role": STRING, "name": NULLABLE_STRING, "resource": NULLABLE_STRING, "source": {"enum": ["idp", "app"]},
        "group": obj({"id": STRING, "displayName": NULLABLE_STRING}, closed=False),
        "assigned_by": NULLABLE_STRING, "assigned_at": {"type": ["string", "null"]},
        "condition": NULLABLE_STRING, "permissions": {"type": "array", "items": STRING}, "explanation": STRING,
    }, ("role", "source", "permissions"), closed=False)},
    "permissions": {"type": "array", "items": STRING},
    "conditional_permissions": {"type": "array", "items": STRING},
}, ("user", "revision", "roles", "permissions"))
LOOKUP_RESOURCES_RESULT = obj({
    "resource_type": STRING, "resources": {"type": "array", "items": STRING}, "next_cursor": NEXT_CURSOR,
    "total": {"type": "integer", "minimum": 0}, "revision": REVISION, "stale": STALE,
}, ("resource_type", "resources", "next_cursor", "total", "revision"))
LOOKUP_SUBJECTS_RESULT = obj({
    "users": {"type": "array", "items": obj({"id": STRING, "userName": NULLABLE_STRING}, ("id",))},
    "next_cursor": NEXT_CURSOR, "total": {"type": "integer", "minimum": 0}, "revision": REVISION, "stale": STALE,
}, ("users", "next_cursor", "total", "revision"))

# ---- policy -------------------------------------------------------------------------------------------

ROLE = obj({"key": STRING, "name": NULLABLE_STRING, "description": NULLABLE_STRING,
            "permissions": {"type": "array", "items": STRING}, "extends": {"type": "array", "items": STRING},
            "condition": NULLABLE_STRING, "created": TIME, "updated": TIME}, ("key", "permissions", "extends"))
ROLES = obj({"roles": {"type": "array", "items": ref("Role")}}, ("roles",))
ROLE_WRITTEN = obj({"role": ref("Role"), "revision": REVISION}, ("role", "revision"))
ROLE_ONE = obj({"role": ref("Role")}, ("role",))
ASSIGNMENT = obj({"id": INTEGER, "user": STRING, "userName": STRING, "role": STRING, "resource": NULLABLE_STRING,
                  "assigned_by": NULLABLE_STRING, "created": TIME, "source": {"const": "app"}},
                 ("id", "user", "role", "resource", "source"))
ASSIGNMENTS = obj({"assignments": {"type": "array", "items": ref("Assignment")}}, ("assignments",))
ASSIGNMENT_WRITTEN = obj({"assignment": ref("Assignment"), "revision": REVISION}, ("assignment", "revision"))
MAPPING = obj({"id": INTEGER, "group": obj({"id": STRING, "displayName": NULLABLE_STRING}, ("id",)),
               "role": STRING, "resource": NULLABLE_STRING, "created_by": NULLABLE_STRING, "created": TIME,
               "source": {"const": "idp"}}, ("id", "group", "role", "resource", "source"))
MAPPINGS = obj({"mappings": {"type": "array", "items": ref("Mapping")}}, ("mappings",))
MAPPING_WRITTEN = obj({"mapping": ref("Mapping"), "revision": REVISION}, ("mapping", "revision"))
DELETED = obj({"deleted": {"type": ["string", "integer"], "description": "the key or id deleted"},
               "revision": REVISION}, ("deleted", "revision"))
_SCHEMA_VERSION = {"version": {"type": "integer", "minimum": 1}, "created": TIME, "created_by": NULLABLE_STRING,
                   "entities": {"type": "array", "items": STRING}}
SCHEMA_VERSION = obj(_SCHEMA_VERSION, ("version", "entities"))
SCHEMA_DOCUMENT = obj({**_SCHEMA_VERSION, "source": STRING}, ("version", "source", "entities"))
SCHEMA_ONE = obj({"schema": ref("SchemaDocument")}, ("schema",))
SCHEMA_WRITTEN = obj({"schema": ref("SchemaDocument"), "revision": REVISION}, ("schema", "revision"))
SCHEMA_VERSIONS = obj({"versions": {"type": "array", "items": ref("SchemaVersion")}}, ("versions",))
SCHEMA_VALIDATION = obj({"valid": BOOLEAN, "errors": {"type": "array", "items": obj(
    {"line": INTEGER, "column": INTEGER, "message": STRING}, ("message",))}}, ("valid", "errors"))
RELATIONSHIPS_WRITTEN = obj({"written": {"type": "integer", "minimum": 0}, "revision": REVISION},
                            ("written", "revision"))
RELATIONSHIPS_DELETED = obj({"deleted": {"type": "integer", "minimum": 0}, "revision": REVISION},
                            ("deleted", "revision"))
RELATIONSHIP_PAGE = obj({"relationships": {"type": "array", "items": obj(
    {"resource": STRING, "relation": STRING, "subject": STRING, "revision": INTEGER},
    ("resource", "relation", "subject"))}, "next_cursor": NEXT_CURSOR}, ("relationships", "next_cursor"))

RESOURCE = obj({"type": STRING, "id": STRING, "attributes": ANY_OBJECT, "updated": TIME, "revision": INTEGER},
               ("type", "id", "attributes", "updated", "revision"))
RESOURCE_ONE = obj({"resource": ref("Resource")}, ("resource",))
RESOURCE_WRITTEN = obj({"resource": ref("Resource"), "created": BOOLEAN, "revision": REVISION},
                       ("resource", "created", "revision"))
RESOURCE_DELETED = obj({"deleted": BOOLEAN, "revision": REVISION}, ("deleted", "revision"))
RESOURCES_WRITTEN = obj({"created": {"type": "integer", "minimum": 0}, "replaced": {"type": "integer", "minimum": 0},
                         "revision": REVISION}, ("created", "replaced", "revision"))
RESOURCE_PAGE = obj({"resources": {"type": "array", "items": ref("Resource")}, "next_cursor": NULLABLE_STRING},
                    ("resources", "next_cursor"))

ADMIN_CHANGE = obj({"id": INTEGER, "at": TIME, "actor": obj({"kind": STRING, "name": STRING}, ("kind", "name")),
                   "surface": STRING, "action": STRING, "target": STRING,
                   "before": {"type": ["object", "null"]}, "after": {"type": ["object", "null"]},
                   "request_id": NULLABLE_STRING}, ("id", "at", "actor", "surface", "action", "target"))
ADMIN_CHANGES = obj({"changes": {"type": "array", "items": ref("AdminChange")}, "next_cursor": NULLABLE_STRING},
                    ("changes", "next_cursor"))
DIRECTORY_WRITES = obj({"directory_writes": {"type": "array", "items": obj(
    {"day": STRING, "token": obj({"id": INTEGER, "prefix": NULLABLE_STRING, "name": NULLABLE_STRING}, ("id",)),
     "writes": INTEGER}, ("day", "token", "writes"))}}, ("directory_writes",))

ACCESS_REVIEW = obj({"access_review": {"type": "array", "items": obj({
    "user_id": STRING, "userName": STRING, "externalId": NULLABLE_STRING, "active": BOOLEAN,
    "role": NULLABLE_STRING, "resource": NULLABLE_STRING, "source": {"enum": ["idp", "app", None]},
    "provenance": NULLABLE_STRING, "group_chain": {"type": ["array", "null"], "items": STRING},
    "assigned_by": NULLABLE_STRING, "since": {"type": ["string", "null"]},
    "last_checked": {"type": ["string", "null"]}}, ("user_id", "userName", "role", "source"))}},
    ("access_review",))

_REVIEW_CHANGE = {"type": "array", "items": obj({"user_id": STRING, "userName": STRING, "role": STRING,
                                                "resource": NULLABLE_STRING, "source": STRING,
                                                "provenance": STRING}, ("user_id", "role", "provenance"),
                                               closed=False)}
ACCESS_REVIEW_DIFF = obj({"from": TIME, "to": TIME, "gained": _REVIEW_CHANGE, "lost": _REVIEW_CHANGE},
                         ("from", "to", "gained", "lost"))

# ---- users, tenant, audit --------------------------------------------------------------------------

USER = obj({"id": STRING, "userName": STRING, "externalId": NULLABLE_STRING, "displayName": NULLABLE_STRING,
            "active": {"type": ["boolean", "null"]}, "attributes": ANY_OBJECT, "created": TIME,
            "lastModified": TIME}, ("id", "userName"))
USER_ONE = obj({"user": ref("User")}, ("user",))
USER_SYNCED = obj({"user": ref("User"), "created": BOOLEAN, "revision": REVISION}, ("user", "created", "revision"))
BULK_USERS_RESULT = obj({
    "results": {"type": "array", "items": obj({
        "index": {"type": "integer", "minimum": 0}, "key": NULLABLE_STRING,
        "status": {"enum": [200, 201, 400, 404, 409]}, "user": ref("User"),
        "error": ERROR["properties"]["error"]}, ("index", "status"))},
    "succeeded": {"type": "integer", "minimum": 0}, "failed": {"type": "integer", "minimum": 0}, "revision": REVISION,
}, ("results", "succeeded", "failed", "revision"))
TENANT = obj({"key": STRING, "name": STRING, "role_mode": {"enum": ["idp", "app", "hybrid"]},
              "role_mode_meaning": STRING, "default_role": NULLABLE_STRING,
              "jwt": {"type": ["object", "null"], "description": "hs256_secret, when set, is shown as ********"},
              "log_directory_writes": BOOLEAN, "revision": REVISION}, ("key", "name", "role_mode"))
TENANT_ONE = obj({"tenant": ref("Tenant")}, ("tenant",))
TENANT_WRITTEN = obj({"tenant": ref("Tenant"), "revision": REVISION}, ("tenant", "revision"))
DECISIONS = obj({"decisions": {"type": "array", "items": obj({
    "id": STRING, "at": TIME, "asked_by": NULLABLE_STRING, "user": NULLABLE_STRING, "user_key": NULLABLE_STRING,
    "action": STRING, "resource": STRING, "allowed": BOOLEAN, "reason": NULLABLE_STRING,
    "revision": {"type": ["integer", "null"]}}, ("id", "at", "action", "resource", "allowed"))},
    "next_cursor": NEXT_CURSOR}, ("decisions", "next_cursor"))
USAGE = obj({"usage": {"type": "array", "items": obj({
    "month": {"type": "string", "pattern": r"^\d{4}-\d{2}$"}, "monthly_active_users": {"type": "integer", "minimum": 0},
    "checks": {"type": "integer", "minimum": 0}}, ("month", "monthly_active_users", "checks"))}}, ("usage",))

# ---- AuthZEN (api/authzen_requests.py): members not named are ignored, so nothing is closed --------

_NON_EMPTY = {"type": "string", "minLength": 1}
_PROPERTIES = {"type": ["object", "null"]}
AZ_SUBJECT = obj({"type": _NON_EMPTY, "id": _NON_EMPTY, "properties": _PROPERTIES}, ("type", "id"), closed=False,
                 description="`id` is a user's id, userName or externalId; `properties` are `user.claims.*`")
AZ_RESOURCE = obj({"type": _NON_EMPTY, "id": _NON_EMPTY, "properties": _PROPERTIES}, ("type", "id"), closed=False,
                  description="`properties` are `resource.*` in conditions")
AZ_ACTION = obj({"name": _NON_EMPTY, "properties": _PROPERTIES}, ("name",), closed=False,
                description="`properties` are `context.action.*` in conditions")
_AZ_ENTITIES = {"subject": ref("AuthZENSubject"), "action": ref("AuthZENAction"),
                "resource": ref("AuthZENResource"), "context": {"type": ["object", "null"]}}
AZ_EVALUATION = obj(_AZ_ENTITIES, ("subject", "action", "resource"), closed=False)
AZ_EVALUATIONS = obj({
    **{k: ({"oneOf": [v, {"type": "null"}]} if "$ref" in v else v) for k, v in _AZ_ENTITIES.items()},
    "evaluations": {"type": ["array", "null"], "items": obj(_AZ_ENTITIES, closed=False),
                    "description": "each item's entities replace the top level's, whole; an item that is not a "
                                   "valid request is answered as a deny with an error in its context. Absent or "
                                   "empty: the top level is one evaluation, answered as one"},
    "options": {"type": ["object", "null"], "properties": {
        "evaluations_semantic": {"enum": ["execute_all", "deny_on_first_deny", "permit_on_first_permit"],
                                 "default": "execute_all"},
        "explain": {"description": "true: each decision carries its reason"}}},
}, closed=False, description="the top-level entities are defaults for the items")
AZ_DECISION = obj({"decision": BOOLEAN, "context": {"type": "object", "description": "with explain, or an "
                   "item's error: {decision_id, revision, reason_admin: {en}} or {error: {status, message}}"}},
                  ("decision",))
AZ_DECISIONS = {"oneOf": [ref("AuthZENDecision"), obj(
    {"evaluations": {"type": "array", "items": ref("AuthZENDecision")}}, ("evaluations",))]}
_URI = {"type": "string", "format": "uri"}
_AZ_ENDPOINTS = ("access_evaluation_endpoint", "access_evaluations_endpoint", "search_subject_endpoint",
                 "search_resource_endpoint", "search_action_endpoint")
AZ_CONFIGURATION = obj({"policy_decision_point": _URI, **dict.fromkeys(_AZ_ENDPOINTS, _URI)},
                       ("policy_decision_point", *_AZ_ENDPOINTS), closed=False)
# Search: the searched-for entity needs only its type (an id is ignored); the others are whole.
_AZ_TYPED = obj({"type": _NON_EMPTY, "id": {"type": ["string", "null"]}, "properties": _PROPERTIES}, ("type",),
                closed=False)
_AZ_PAGE_IN = {"type": ["object", "null"], "properties": {
    "token": {"type": ["string", "null"], "description": "a next_token this server gave"},
    "limit": {"type": ["integer", "null"], "minimum": 0}}}
_AZ_PAGE_OUT = obj({"next_token": {"type": "string", "description": "empty on the last page"},
                    "count": {"type": "integer", "minimum": 0}, "total": {"type": "integer", "minimum": 0}},
                   ("next_token",))
_CTX = {"type": ["object", "null"]}
AZ_SUBJECT_SEARCH = obj({"subject": _AZ_TYPED, "action": ref("AuthZENAction"), "resource": ref("AuthZENResource"),
                         "context": _CTX, "page": _AZ_PAGE_IN}, ("subject", "action", "resource"), closed=False)
AZ_RESOURCE_SEARCH = obj({"subject": ref("AuthZENSubject"), "action": ref("AuthZENAction"), "resource": _AZ_TYPED,
                          "context": _CTX, "page": _AZ_PAGE_IN}, ("subject", "action", "resource"), closed=False)
AZ_ACTION_SEARCH = obj({"subject": ref("AuthZENSubject"), "resource": ref("AuthZENResource"), "context": _CTX,
                        "page": _AZ_PAGE_IN}, ("subject", "resource"), closed=False)


def _results(item: dict) -> dict:
    return obj({"page": _AZ_PAGE_OUT, "results": {"type": "array", "items": item}}, ("results",))


AZ_SUBJECTS = _results(obj({"type": STRING, "id": STRING}, ("type", "id")))
AZ_RESOURCES = _results(obj({"type": STRING, "id": STRING}, ("type", "id")))
AZ_ACTIONS = _results(obj({"name": STRING}, ("name",)))

# Components by name; the operations (api/openapi.py) refer to them. ("Consistency" is marshmallow's,
# scim_authz/api/schemas.py: the same rules as check_items._at_least.)
COMPONENTS = {
    "Error": ERROR, "UserRef": USER_REF, "ResourceRef": RESOURCE_REF,
    "CheckRequest": CHECK_REQUEST, "CheckResult": CHECK_RESULT,
    "BulkCheckResult": BULK_CHECK_RESULT, "Permissions": PERMISSIONS, "LookupResourcesResult": LOOKUP_RESOURCES_RESULT,
    "LookupSubjectsResult": LOOKUP_SUBJECTS_RESULT, "Role": ROLE, "Roles": ROLES, "RoleWritten": ROLE_WRITTEN,
    "RoleOne": ROLE_ONE, "Assignment": ASSIGNMENT, "Assignments": ASSIGNMENTS, "AssignmentWritten": ASSIGNMENT_WRITTEN,
    "Mapping": MAPPING, "Mappings": MAPPINGS, "MappingWritten": MAPPING_WRITTEN, "Deleted": DELETED,
    "SchemaDocument": SCHEMA_DOCUMENT, "SchemaVersion": SCHEMA_VERSION, "SchemaOne": SCHEMA_ONE,
    "SchemaWritten": SCHEMA_WRITTEN, "SchemaVersions": SCHEMA_VERSIONS, "SchemaValidation": SCHEMA_VALIDATION,
    "RelationshipsWritten": RELATIONSHIPS_WRITTEN, "RelationshipsDeleted": RELATIONSHIPS_DELETED,
    "RelationshipPage": RELATIONSHIP_PAGE, "Resource": RESOURCE, "ResourceOne": RESOURCE_ONE,
    "ResourceWritten": RESOURCE_WRITTEN, "ResourceDeleted": RESOURCE_DELETED, "ResourcesWritten": RESOURCES_WRITTEN,
    "ResourcePage": RESOURCE_PAGE, "AdminChange": ADMIN_CHANGE, "AdminChanges": ADMIN_CHANGES,
    "DirectoryWrites": DIRECTORY_WRITES, "AccessReview": ACCESS_REVIEW, "AccessReviewDiff": ACCESS_REVIEW_DIFF,
    "User": USER, "UserOne": USER_ONE,
    "UserSynced": USER_SYNCED,
    "BulkUsersResult": BULK_USERS_RESULT, "Tenant": TENANT, "TenantOne": TENANT_ONE, "TenantWritten": TENANT_WRITTEN,
    "Decisions": DECISIONS, "Usage": USAGE, "AuthZENSubject": AZ_SUBJECT, "AuthZENResource": AZ_RESOURCE,
    "AuthZENAction": AZ_ACTION, "AuthZENEvaluation": AZ_EVALUATION, "AuthZENEvaluations": AZ_EVALUATIONS,
    "AuthZENDecision": AZ_DECISION, "AuthZENDecisions": AZ_DECISIONS, "AuthZENConfiguration": AZ_CONFIGURATION,
    "AuthZENSubjectSearch": AZ_SUBJECT_SEARCH, "AuthZENResourceSearch": AZ_RESOURCE_SEARCH,
    "AuthZENActionSearch": AZ_ACTION_SEARCH, "AuthZENSubjects": AZ_SUBJECTS, "AuthZENResources": AZ_RESOURCES,
    "AuthZENActions": AZ_ACTIONS,
}
