"""The shape of a policy file (docs/policy.schema.json says the same to editors and CI): marshmallow
schemas, with the same patterns as /v1 (policy/vocabulary.py), that load a parsed file into a
`Policy`. A problem becomes a Finding at its path and line.

Sections: a section the file names is what the tenant holds of that kind, exactly (what the file
lacks is removed); a section the file leaves out is left as it is in the tenant. `roles` is required."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from scim_authz.policy.as_code.source import Finding, dotted, line_of
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

VERSION = 1
# What a policy is, and what an application usually writes as it runs (copied only when asked).
POLICY_SECTIONS = ("role_mode", "default_role", "roles", "group_mappings", "schema")
DATA_SECTIONS = ("assignments", "relationships", "resources")
SECTIONS = POLICY_SECTIONS + DATA_SECTIONS
REF_MAX = 256  # a userName, displayName or externalId (their columns)
_OBJECT_HINT = 'must be "type:id"'
_RELATIONSHIP_HINT = 'must be "type:id#relation@type:id" or "type:id#relation@type:id#relation"'


def parse_relationship(text: str) -> tuple[str, str, str, str, str, str] | None:
    """'document:1#owner@user:ann' -> its six parts; None when it is not one."""
    resource, _, rest = text.partition("#")
    relation, _, subject = rest.partition("@")
    if not (OBJECT.match(resource) and NAME.match(relation) and SUBJECT.match(subject)):
        return None
    rtype, _, rid = resource.partition(":")
    subj, _, srel = subject.partition("#")
    stype, _, sid = subj.partition(":")
    return rtype, rid, relation, stype, sid, srel


def relationship_text(t: tuple) -> str:
    """The six parts of a relationship as the file writes it."""
    return f"{t[0]}:{t[1]}#{t[2]}@{t[3]}:{t[4]}" + (f"#{t[5]}" if t[5] else "")


def _permission(value: str) -> None:
    problem = permission_problem(value)
    if problem:
        raise ValidationError(problem)


class Ref(fields.Field):
    """A group or user as every environment knows it: text (its displayName / userName), or a
    mapping of exactly one of `kinds` ({externalId: "00g1"}). Loads as (kind, value)."""

    def __init__(self, kinds: tuple[str, str], **kwargs):
        super().__init__(**kwargs)
        self.kinds = kinds

    def _deserialize(self, value, attr, data, **kwargs):
        first, second = self.kinds
        if isinstance(value, str):
            kind, text = first, value
        elif isinstance(value, dict) and len(value) == 1 and next(iter(value)) in self.kinds:
            kind, text = next(iter(value.items()))
        else:
            raise ValidationError(f"a {first} as text, or {{{first}: …}} or {{{second}: …}}")
        if not isinstance(text, str) or not text.strip() or len(text) > REF_MAX:
            raise ValidationError(f"the {kind} must be 1 to {REF_MAX} characters")
        return kind, text


class RelationshipField(fields.Field):
    """A relationship as one line of text, loaded as its six parts."""

    def _deserialize(self, value, attr, data, **kwargs):
        parsed = parse_relationship(value) if isinstance(value, str) else None
        if parsed is None:
            raise ValidationError(_RELATIONSHIP_HINT)
        return parsed


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class RoleSpec(_Strict):
    key = fields.String(required=True, validate=validate.Regexp(ROLE_KEY, error=ROLE_KEY_HINT))
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=ROLE_NAME_MAX))
    description = fields.String(load_default="", allow_none=True, validate=validate.Length(max=ROLE_DESCRIPTION_MAX))
    permissions = fields.List(fields.String(validate=_permission), load_default=list)
    extends = fields.List(fields.String(validate=validate.Regexp(ROLE_KEY, error=ROLE_KEY_HINT)), load_default=list)
    condition = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=CONDITION_MAX))


class MappingSpec(_Strict):
    group = Ref(("displayName", "externalId"), required=True)
    role = fields.String(required=True, validate=validate.Regexp(ROLE_KEY, error=ROLE_KEY_HINT))
    resource = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(OBJECT, error=_OBJECT_HINT))


class AssignmentSpec(_Strict):
    user = Ref(("userName", "externalId"), required=True)
    role = fields.String(required=True, validate=validate.Regexp(ROLE_KEY, error=ROLE_KEY_HINT))
    resource = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(OBJECT, error=_OBJECT_HINT))


class ResourceSpec(_Strict):
    type = fields.String(required=True, validate=validate.Regexp(NAME))
    id = fields.String(required=True, validate=validate.Regexp(rf"^[^\s#]{{1,{OBJECT_ID_MAX}}}$",
                                                                 error=f"1 to {OBJECT_ID_MAX} characters, no "
                                                                       "whitespace or #"))
    attributes = fields.Dict(keys=fields.String(), required=True)


class FixtureUser(_Strict):
    userName = fields.String(required=True, validate=validate.Length(min=1, max=REF_MAX))
    id = fields.String(load_default=None, validate=validate.Regexp(rf"^[^\s#]{{1,{OBJECT_ID_MAX}}}$"))
    externalId = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=REF_MAX))
    displayName = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=REF_MAX))
    active = fields.Boolean(load_default=True, truthy={True}, falsy={False})
    groups = fields.List(fields.String(), load_default=list)
    attributes = fields.Dict(keys=fields.String(), load_default=dict)


class FixtureGroup(_Strict):
    displayName = fields.String(required=True, validate=validate.Length(min=1, max=REF_MAX))
    id = fields.String(load_default=None, validate=validate.Regexp(rf"^[^\s#]{{1,{OBJECT_ID_MAX}}}$"))
    externalId = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=REF_MAX))
    groups = fields.List(fields.String(), load_default=list)  # the groups this one is a member of


class Fixtures(_Strict):
    users = fields.List(fields.Nested(FixtureUser), load_default=list)
    groups = fields.List(fields.Nested(FixtureGroup), load_default=list)
    relationships = fields.List(RelationshipField(), load_default=list)
    resources = fields.List(fields.Nested(ResourceSpec), load_default=list)


class AssertionSpec(_Strict):
    name = fields.String(load_default=None)
    user = fields.String(required=True, validate=validate.Length(min=1, max=OBJECT_ID_MAX))
    action = fields.String(required=True, validate=validate.Regexp(ACTION))
    resource = fields.String(required=True, validate=validate.Regexp(OBJECT, error=_OBJECT_HINT))
    expect = fields.String(required=True, validate=validate.OneOf(["allow", "deny"]))
    context = fields.Dict(keys=fields.String(), load_default=dict)
    resource_attributes = fields.Dict(keys=fields.String(), load_default=None, allow_none=True)
    reason_contains = fields.String(load_default=None)


class PolicyFile(_Strict):
    version = fields.Integer(required=True, strict=True, validate=validate.OneOf([VERSION]))
    description = fields.String()
    role_mode = fields.String(validate=validate.OneOf(list(ROLE_MODES)))
    default_role = fields.String(allow_none=True, validate=validate.Regexp(ROLE_KEY, error=ROLE_KEY_HINT))
    roles = fields.List(fields.Nested(RoleSpec), required=True)
    group_mappings = fields.List(fields.Nested(MappingSpec))
    assignments = fields.List(fields.Nested(AssignmentSpec))
    dsl = fields.String(data_key="schema")
    relationships = fields.List(RelationshipField())
    resources = fields.List(fields.Nested(ResourceSpec))
    fixtures = fields.Nested(Fixtures, load_default=dict)
    assertions = fields.List(fields.Nested(AssertionSpec), load_default=list)


@dataclass
class Policy:
    """A policy file, loaded: `sections` holds each section the file names (SECTIONS), normalised;
    `raw` is the parsed file, which knows the lines."""

    sections: dict[str, Any]
    fixtures: dict = field(default_factory=dict)
    assertions: list[dict] = field(default_factory=list)
    raw: Any = None

    def line(self, *path) -> int | None:
        return line_of(self.raw, path)

    def finding(self, path: tuple, message: str) -> Finding:
        return Finding(dotted(path), message, self.line(*path))


_FILE = PolicyFile()


def load_policy(data: Any) -> tuple[Policy | None, list[Finding]]:
    """The file's data as a Policy, or None and what is wrong with its shape."""
    if not isinstance(data, dict):
        return None, [Finding("", "a policy file is a mapping: version, roles, group_mappings, …",
                              getattr(data, "line", None))]
    try:
        loaded = _FILE.load(data)
    except ValidationError as e:
        return None, [Finding(dotted(path), message, line_of(data, path)) for path, message in _flatten(e.messages)]
    sections = {}
    for name in SECTIONS:
        key = "dsl" if name == "schema" else name
        if key in loaded:
            sections[name] = loaded[key]
    sections["roles"] = [_role(r) for r in sections["roles"]]
    if "relationships" in sections:
        sections["relationships"] = list(dict.fromkeys(sections["relationships"]))
    return Policy(sections, loaded["fixtures"], loaded["assertions"], data), []


def _role(r: dict) -> dict:
    """A role as it is stored: the name defaults to the key, permissions are a sorted set."""
    return {"key": r["key"], "name": r.get("name") or r["key"], "description": r.get("description") or "",
            "permissions": sorted(set(r.get("permissions") or [])),
            "extends": list(dict.fromkeys(r.get("extends") or [])), "condition": r.get("condition") or None}


def _flatten(messages, path: tuple = ()):
    """marshmallow's nested messages as (path, message) pairs."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, path if key == "_schema" else (*path, key))
    elif isinstance(messages, list):
        for m in messages:
            if isinstance(m, (dict, list)):
                yield from _flatten(m, path)
            else:
                yield path, str(m)
    else:
        yield path, str(messages)
