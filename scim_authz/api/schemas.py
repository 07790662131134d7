"""marshmallow schemas for /v1 request bodies; a failure is a 400 whose details name each field."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from scim_authz.api import check_items
from scim_authz.api.errors import InvalidRequest
from scim_authz.policy.vocabulary import (
    ACTION,
    CONDITION_MAX,
    NAME,
    OBJECT,
    OBJECT_ID_MAX,
    ROLE_DESCRIPTION_MAX,
    ROLE_KEY,
    ROLE_KEY_HINT,
    ROLE_MODES,
    ROLE_NAME_MAX,
    SUBJECT,
    permission_problem,
)


class UserRef(fields.Field):
    """A user: an id or userName string, or {"jwt": "<token>"}, or {"id": …} / {"userName": …}."""

    def _deserialize(self, value, attr, data, **kwargs):
        return _by_hand(check_items.parse_user, value)


class ResourceRef(fields.Field):
    """A resource: "type:id", or {"type", "id", "attributes"?}."""

    def _deserialize(self, value, attr, data, **kwargs):
        return _by_hand(check_items.parse_resource, value)


def _by_hand(parse, value):
    """A field the check path validates by hand (api/check_items.py): the same rules, one place."""
    errors: dict = {}
    out = parse(value, errors)
    if out is None:
        raise ValidationError(next(iter(errors.values())))
    return out


class Consistency(Schema):
    class Meta:
        unknown = RAISE

    at_least = fields.Integer(load_default=None, validate=validate.Range(min=0))


class LookupResourcesRequest(Schema):
    class Meta:
        unknown = RAISE

    user = UserRef(required=True)
    action = fields.String(required=True, validate=validate.Regexp(ACTION))
    resource_type = fields.String(required=True, validate=validate.Regexp(NAME))
    context = fields.Dict(load_default=dict)
    consistency = fields.Nested(Consistency, load_default=dict)
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1))


class LookupSubjectsRequest(Schema):
    class Meta:
        unknown = RAISE

    action = fields.String(required=True, validate=validate.Regexp(ACTION))
    resource = ResourceRef(required=True)
    context = fields.Dict(load_default=dict)
    consistency = fields.Nested(Consistency, load_default=dict)
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1))


def _permission(value: str) -> None:
    problem = permission_problem(value)
    if problem:
        raise ValidationError(problem)


class RoleSchema(Schema):
    class Meta:
        unknown = RAISE

    key = fields.String(required=True, validate=validate.Regexp(ROLE_KEY, error=ROLE_KEY_HINT))
    name = fields.String(load_default=None, validate=validate.Length(max=ROLE_NAME_MAX))
    description = fields.String(load_default="", validate=validate.Length(max=ROLE_DESCRIPTION_MAX))
    permissions = fields.List(fields.String(validate=_permission), load_default=list)
    extends = fields.List(fields.String(validate=validate.Regexp(ROLE_KEY)), load_default=list)
    condition = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=CONDITION_MAX))


class RolePatchSchema(RoleSchema):
    class Meta:
        unknown = RAISE

    key = fields.String(validate=validate.Regexp(ROLE_KEY))


class AssignmentSchema(Schema):
    class Meta:
        unknown = RAISE

    user = fields.String(required=True, validate=validate.Length(min=1))
    role = fields.String(required=True, validate=validate.Regexp(ROLE_KEY))
    resource = fields.String(load_default=None, validate=validate.Regexp(OBJECT, error='must be "type:id"'))


class MappingSchema(Schema):
    class Meta:
        unknown = RAISE

    group = fields.String(required=True, validate=validate.Length(min=1))
    role = fields.String(required=True, validate=validate.Regexp(ROLE_KEY))
    resource = fields.String(load_default=None, validate=validate.Regexp(OBJECT, error='must be "type:id"'))


class SchemaWrite(Schema):
    class Meta:
        unknown = RAISE

    source = fields.String(required=True)


class RelationshipSchema(Schema):
    class Meta:
        unknown = RAISE

    resource = fields.String(required=True, validate=validate.Regexp(OBJECT, error='must be "type:id"'))
    relation = fields.String(required=True, validate=validate.Regexp(NAME))
    subject = fields.String(required=True, validate=validate.Regexp(
        SUBJECT, error='must be "type:id" or "type:id#relation"'))


class RelationshipsWrite(Schema):
    class Meta:
        unknown = RAISE

    relationships = fields.List(fields.Nested(RelationshipSchema), required=True,
                                validate=validate.Length(min=1, max=10_000))


class ResourceWrite(Schema):
    """The attributes the server holds for one resource (replaced whole)."""

    class Meta:
        unknown = RAISE

    attributes = fields.Dict(keys=fields.String(), required=True)


class ResourceItem(ResourceWrite):
    type = fields.String(required=True, validate=validate.Regexp(NAME))
    id = fields.String(required=True, validate=validate.Regexp(rf"^[^\s#]{{1,{OBJECT_ID_MAX}}}$"))


class ResourcesWrite(Schema):
    class Meta:
        unknown = RAISE

    resources = fields.List(fields.Nested(ResourceItem), required=True, validate=validate.Length(min=1, max=10_000))


class SyncUserSchema(Schema):
    """syncUser: what the app knows about a user at the handoff point."""

    class Meta:
        unknown = RAISE

    userName = fields.String(load_default=None, validate=validate.Length(min=1, max=256))
    externalId = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=256))
    displayName = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=256))
    email = fields.Email(load_default=None, allow_none=True)
    active = fields.Boolean(load_default=None, allow_none=True)
    attributes = fields.Dict(load_default=None, allow_none=True)
    roles = fields.List(fields.String(validate=validate.Regexp(ROLE_KEY)), load_default=None, allow_none=True)


class BulkUserSchema(SyncUserSchema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=256))


class BulkUsersRequest(Schema):
    class Meta:
        unknown = RAISE

    users = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1, max=10_000))


class JWTSettings(Schema):
    class Meta:
        unknown = RAISE

    issuer = fields.String(load_default=None, allow_none=True)
    audience = fields.String(load_default=None, allow_none=True)
    # Where it may point (https, public addresses) depends on the app's settings: policy/tenants.py.
    jwks_url = fields.Url(load_default=None, allow_none=True, require_tld=False, schemes={"http", "https"})
    jwks = fields.Dict(load_default=None, allow_none=True)
    hs256_secret = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=32))
    user_claim = fields.String(load_default="sub")
    username_claim = fields.String(load_default="email")
    leeway_seconds = fields.Integer(load_default=30, validate=validate.Range(min=0, max=300))


class TenantSettingsSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(validate=validate.Length(min=1, max=200))
    role_mode = fields.String(validate=validate.OneOf(list(ROLE_MODES)))
    default_role = fields.String(allow_none=True, validate=validate.Regexp(ROLE_KEY))
    jwt = fields.Nested(JWTSettings, allow_none=True)
    # Each SCIM write in the administrative change log too, not only counted per token and day.
    log_directory_writes = fields.Boolean()

    @validates_schema
    def _one_key_source(self, data, **kwargs):
        jwt = data.get("jwt")
        if jwt and jwt.get("jwks_url") and jwt.get("jwks"):
            raise ValidationError({"jwt": ["give jwks_url or jwks, not both"]})


def load(schema: Schema, data, *, partial: bool = False):
    """Validate a body; errors become a 400 with the field messages as details."""
    try:
        return schema.load(data, partial=partial)
    except ValidationError as e:
        raise InvalidRequest("the request is not valid", details=e.messages) from e


LOOKUP_RESOURCES, LOOKUP_SUBJECTS = LookupResourcesRequest(), LookupSubjectsRequest()
ROLE, ROLE_PATCH, ASSIGNMENT, MAPPING = RoleSchema(), RolePatchSchema(), AssignmentSchema(), MappingSchema()
SCHEMA_WRITE, RELATIONSHIPS = SchemaWrite(), RelationshipsWrite()
RESOURCE_WRITE, RESOURCES_WRITE = ResourceWrite(), ResourcesWrite()
SYNC_USER, BULK_USER, BULK_USERS = SyncUserSchema(), BulkUserSchema(), BulkUsersRequest()
TENANT_SETTINGS = TenantSettingsSchema()
