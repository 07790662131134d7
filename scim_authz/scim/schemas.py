"""marshmallow schemas for SCIM request messages: SearchRequest, PatchOp, BulkRequest
(RFC 7644 §3.4.3, §3.5.2, §3.7)."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from scim_authz.scim.errors import InvalidSyntax, InvalidValue


class _AttrList(fields.Field):
    """A list of attribute names, given as a JSON list or a comma-separated string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise ValidationError("must be a list of attribute names")


class SearchRequestSchema(Schema):
    """RFC 7644 §3.4.3: the body of POST …/.search; also the query parameters of GET."""

    class Meta:
        unknown = EXCLUDE  # schemas, and IdPs' own flags (Entra's ?aadOptscim062020)

    attributes = _AttrList(load_default=list)
    excludedAttributes = _AttrList(load_default=list)
    filter = fields.String(load_default=None)
    sortBy = fields.String(load_default=None)
    sortOrder = fields.String(load_default="ascending",
                              validate=validate.OneOf(["ascending", "descending"]))
    startIndex = fields.Integer(load_default=1, strict=False)
    count = fields.Integer(load_default=None, strict=False)

    @pre_load
    def _lower_sort_order(self, data, **kwargs):
        if isinstance(data, dict) and isinstance(data.get("sortOrder"), str):
            data = {**data, "sortOrder": data["sortOrder"].lower()}
        return data


class PatchOperationSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    op = fields.String(required=True)
    path = fields.String(load_default=None, allow_none=True)
    value = fields.Raw(load_default=None, allow_none=True)


class PatchOpSchema(Schema):
    """RFC 7644 §3.5.2: {"schemas": [PatchOp], "Operations": [...]}."""

    class Meta:
        unknown = EXCLUDE

    schemas = fields.List(fields.String(), load_default=list)
    Operations = fields.List(fields.Nested(PatchOperationSchema), required=True,
                             validate=validate.Length(min=1))

    @pre_load
    def _operations_any_case(self, data, **kwargs):
        if isinstance(data, dict) and "Operations" not in data:
            for k in list(data):
                if k.lower() == "operations":
                    data = {**data, "Operations": data[k]}
        return data


class BulkOperationSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    method = fields.String(required=True, validate=validate.OneOf(
        ["POST", "PUT", "PATCH", "DELETE", "post", "put", "patch", "delete"]))
    bulkId = fields.String(load_default=None)
    version = fields.String(load_default=None)
    path = fields.String(required=True)
    data = fields.Raw(load_default=None)


class BulkRequestSchema(Schema):
    """RFC 7644 §3.7: {"schemas": [BulkRequest], "failOnErrors": n, "Operations": [...]}."""

    class Meta:
        unknown = EXCLUDE

    schemas = fields.List(fields.String(), load_default=list)
    failOnErrors = fields.Integer(load_default=None, validate=validate.Range(min=1))
    Operations = fields.List(fields.Nested(BulkOperationSchema), required=True)


def _first_message(messages) -> str:
    if isinstance(messages, dict):
        for key, val in messages.items():
            return f"{key}: {_first_message(val)}"
    if isinstance(messages, list) and messages:
        return _first_message(messages[0])
    return str(messages)


def load(schema: Schema, data, *, error=InvalidSyntax):
    """Validate a message; marshmallow's errors become SCIM errors with the first problem as detail."""
    if not isinstance(data, dict):
        raise InvalidSyntax("the request body must be a JSON object")
    try:
        return schema.load(data)
    except ValidationError as e:
        raise error(_first_message(e.messages)) from e


SEARCH = SearchRequestSchema()
PATCH = PatchOpSchema()
BULK = BulkRequestSchema()


def load_search(data: dict) -> dict:
    """A validated SearchRequest (GET query or POST body); bad numbers are invalidValue."""
    if not data:  # (a resource's GET, POST or PUT without parameters: the most frequent case)
        return {**_NO_SEARCH, "attributes": [], "excludedAttributes": []}
    return load(SEARCH, data, error=InvalidValue)


_NO_SEARCH = SEARCH.load({})
