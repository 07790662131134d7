"""PATCH paths (RFC 7644 §3.5.2 "PATH = attrPath / valuePath [subAttr]") and the value-filter matcher."""
from __future__ import annotations

import pytest

from scim_authz.scim.errors import InvalidFilter, InvalidPath
from scim_authz.scim.paths import equalities, matches, parse_path, parse_value_filter
from scim_authz.scim.schema_defs import ENTERPRISE_USER, GROUP_SCHEMA, USER, USER_SCHEMA

EMAILS = USER_SCHEMA.lookup(None, "emails")
ADDRESSES = USER_SCHEMA.lookup(None, "addresses")
MEMBERS = GROUP_SCHEMA.lookup(None, "members")
GUID = "2819c223-7f76-453a-919d-413861904646"


# (schema, path) -> (urn, attr, sub, filter_text)
PARSED = [
    (USER_SCHEMA, "userName", (None, "userName", None, None)),
    (USER_SCHEMA, "USERNAME", (None, "userName", None, None)),
    (USER_SCHEMA, "name.givenName", (None, "name", "givenName", None)),
    (USER_SCHEMA, "Name.GivenName", (None, "name", "givenName", None)),
    (USER_SCHEMA, f"{USER}:name.givenName", (None, "name", "givenName", None)),
    (USER_SCHEMA, f"{USER.lower()}:userName", (None, "userName", None, None)),
    (USER_SCHEMA, f"{ENTERPRISE_USER}:employeeNumber", (ENTERPRISE_USER, "employeeNumber", None, None)),
    (USER_SCHEMA, f"{ENTERPRISE_USER}:manager", (ENTERPRISE_USER, "manager", None, None)),
    (USER_SCHEMA, f"{ENTERPRISE_USER}:manager.value", (ENTERPRISE_USER, "manager", "value", None)),
    (USER_SCHEMA, ENTERPRISE_USER, (ENTERPRISE_USER, None, None, None)),
    (USER_SCHEMA, 'emails[type eq "work"]', (None, "emails", None, 'type eq "work"')),
    (USER_SCHEMA, 'emails[type eq "work"].value', (None, "emails", "value", 'type eq "work"')),
    (USER_SCHEMA, 'addresses[type eq "work"].locality', (None, "addresses", "locality", 'type eq "work"')),
    (USER_SCHEMA, 'emails[type eq "work" and value ew "example.com"]',
     (None, "emails", None, 'type eq "work" and value ew "example.com"')),
    (USER_SCHEMA, 'emails[value eq "a]b"]', (None, "emails", None, 'value eq "a]b"')),  # "]" inside a string
    (USER_SCHEMA, "x509Certificates", (None, "x509Certificates", None, None)),
    (USER_SCHEMA, "meta.created", (None, "meta", "created", None)),
    (USER_SCHEMA, "  active ", (None, "active", None, None)),
    (GROUP_SCHEMA, f'members[value eq "{GUID}"]', (None, "members", None, f'value eq "{GUID}"')),
    (GROUP_SCHEMA, "members", (None, "members", None, None)),
    (GROUP_SCHEMA, "displayname", (None, "displayName", None, None)),
]


@pytest.mark.parametrize("schema,text,expected", PARSED, ids=[p[1] for p in PARSED])
def test_parse_path_rfc7644_3_5_2(schema, text, expected):
    """RFC 7644 §3.5.2 PATH grammar; names canonicalised (RFC 7643 §2.1: case-insensitive)."""
    p = parse_path(schema, text)
    assert (p.urn, p.attr, p.sub, p.filter_text) == expected
    assert (p.value_filter is not None) == (expected[3] is not None)
    if p.attr is not None:
        assert p.attr_def["name"] == p.attr
    if p.sub is not None:
        assert p.sub_def["name"] == p.sub


def test_path_str_is_canonical():
    assert str(parse_path(USER_SCHEMA, 'EMAILS[type eq "work"].VALUE')) == 'emails[type eq "work"].value'
    assert str(parse_path(USER_SCHEMA, f"{ENTERPRISE_USER.upper()}:MANAGER")) == f"{ENTERPRISE_USER}:manager"


# (schema, path, fragment of the detail)
BAD_PATHS = [
    (USER_SCHEMA, "", "empty"),
    (USER_SCHEMA, "   ", "empty"),
    (USER_SCHEMA, "nope", "Unknown attribute 'nope'"),
    (USER_SCHEMA, "name.nope", "Unknown sub-attribute 'nope'"),
    (USER_SCHEMA, "userName.x", "no sub-attributes"),
    (USER_SCHEMA, f"{ENTERPRISE_USER}:userName", "Unknown attribute 'userName'"),
    (USER_SCHEMA, USER, "core schema"),
    (USER_SCHEMA, "urn:example:unknown:2.0:User:foo", "schema"),
    (USER_SCHEMA, 'emails[type eq "work"', "Unbalanced"),
    (USER_SCHEMA, 'emails[type eq "work"]x', "unexpected"),
    (USER_SCHEMA, "emails[]", "empty"),
    (USER_SCHEMA, 'emails[type eq "work"].', "sub-attribute"),
    (USER_SCHEMA, "emails.value.x", "sub-attribute"),
    (USER_SCHEMA, 'emails[type[value eq "x"]]', "Nested"),
    (USER_SCHEMA, '[type eq "work"]', "attribute name"),
    (USER_SCHEMA, 'name[givenName eq "x"]', "not a multi-valued"),
    (USER_SCHEMA, 'userName[value eq "x"]', "not a multi-valued"),
    (USER_SCHEMA, 'emails[type eq "work]', "Unbalanced"),
    (GROUP_SCHEMA, "userName", "Unknown attribute"),
    (GROUP_SCHEMA, f"{ENTERPRISE_USER}:employeeNumber", "schema"),
]


@pytest.mark.parametrize("schema,text,fragment", BAD_PATHS, ids=[b[1] or "<empty>" for b in BAD_PATHS])
def test_invalid_paths_are_invalid_path(schema, text, fragment):
    """RFC 7644 §3.12 invalidPath: "The "path" attribute was invalid or malformed"."""
    with pytest.raises(InvalidPath) as exc:
        parse_path(schema, text)
    assert fragment in exc.value.detail
    assert exc.value.body()["scimType"] == "invalidPath"


# (schema, path, fragment of the detail): what a value filter cannot say is invalidFilter, which
# RFC 7644 §3.12 applies to "PATCH (Path Filter)" as to searches.
BAD_VALUE_FILTERS = [
    (USER_SCHEMA, "emails[type eq]", 'type eq'),
    (USER_SCHEMA, "emails[type == 1]", "Invalid value filter"),
    (USER_SCHEMA, 'emails[nope eq "x"]', "'nope' is not a sub-attribute"),
    (USER_SCHEMA, 'emails[emails.type eq "x"]', "plain sub-attribute"),
    (USER_SCHEMA, "emails[primary gt true]", "cannot compare"),  # RFC 7644 Table 3: no order on booleans
    (USER_SCHEMA, 'emails[value eq "a\\q"]', "invalid string"),  # \q is no JSON escape
]


@pytest.mark.parametrize("schema,text,fragment", BAD_VALUE_FILTERS, ids=[b[1] for b in BAD_VALUE_FILTERS])
def test_invalid_value_filters_are_invalid_filter(schema, text, fragment):
    with pytest.raises(InvalidFilter) as exc:
        parse_path(schema, text)
    assert fragment in exc.value.detail
    assert exc.value.body()["scimType"] == "invalidFilter"


WORK = {"value": "bjensen@Example.com", "type": "work", "primary": True}
HOME = {"value": "babs@jensen.org", "type": "home"}
STRING_BOOL = {"value": "x@example.com", "type": "other", "primary": "True"}  # as Entra ID may store it

# (filter, element, expected)
MATCHES = [
    ('type eq "work"', WORK, True),
    ('type eq "WORK"', WORK, True),  # caseExact false
    ('Type eq "work"', WORK, True),  # sub-attribute names are case-insensitive
    ('type eq "home"', WORK, False),
    ('type ne "home"', WORK, True),
    ('type ne "work"', WORK, False),
    ('value co "example"', WORK, True),
    ('value sw "BJENSEN@"', WORK, True),
    ('value ew "example.com"', WORK, True),
    ('value ew "example.com"', HOME, False),
    ('display pr', WORK, False),
    ('value pr', WORK, True),
    ("primary eq true", WORK, True),
    ("primary eq false", WORK, False),
    ("primary eq true", HOME, False),
    ("primary ne true", HOME, True),
    ("primary eq true", STRING_BOOL, True),  # booleans compare as booleans
    ('primary eq "true"', WORK, True),
    ('value gt "a"', WORK, True),
    ('value lt "a"', WORK, False),
    ('value ge "bjensen@example.com"', WORK, True),
    ('value le "bjensen@example.com"', WORK, True),
    ('type eq "work" and value ew "example.com"', WORK, True),
    ('type eq "work" and value ew "example.org"', WORK, False),
    ('type eq "home" or value ew "example.com"', WORK, True),
    ('not (type eq "work")', WORK, False),
    ('not (type eq "work")', HOME, True),
    ('type eq "x" or type eq "y" or type eq "home"', HOME, True),
    # RFC 7644 §3.4.2.2: "and" binds tighter than "or" (the parser needs help here).
    ('type eq "home" or type eq "work" and value eq "nope"', HOME, True),
    ('type eq "home" or type eq "work" and value eq "nope"', WORK, False),
    ('(type eq "home" or type eq "work") and value eq "nope"', HOME, False),
    ('type eq "work" and value eq "nope" or type eq "home"', HOME, True),
    ('display eq null', WORK, True),
    ('type eq null', WORK, False),
    ('display ne "x"', WORK, True),
    ('display eq "x"', WORK, False),
]


@pytest.mark.parametrize("text,element,expected", MATCHES, ids=[f"{m[0]}|{m[1]['type']}" for m in MATCHES])
def test_matches_rfc7644_table3(text, element, expected):
    """RFC 7644 §3.4.2.2 Table 3/4 operators, evaluated on one value of a multi-valued attribute."""
    assert matches(element, parse_value_filter(EMAILS, text), EMAILS) is expected


def test_matches_respects_case_exact():
    case_exact = {"name": "things", "type": "complex", "multiValued": True, "subAttributes": [
        {"name": "value", "type": "string", "caseExact": True},
    ]}
    tree = parse_value_filter(case_exact, 'value eq "ABC"')
    assert matches({"value": "ABC"}, tree, case_exact)
    assert not matches({"value": "abc"}, tree, case_exact)


def test_filter_names_are_canonicalised_in_the_ast():
    tree = parse_value_filter(MEMBERS, 'TYPE eq "Group"')
    assert tree.expr.attr_path.attr_name == "type"


# (attr_def, filter) -> the element the filter describes, or None
EQUALITIES = [
    (EMAILS, 'type eq "work"', {"type": "work"}),
    (EMAILS, 'Type eq "work" and primary eq true', {"type": "work", "primary": True}),
    (ADDRESSES, 'type eq "work" and locality eq "Paris" and country eq "FR"',
     {"type": "work", "locality": "Paris", "country": "FR"}),
    (EMAILS, 'type eq "work" or type eq "home"', None),
    (EMAILS, 'type ne "work"', None),
    (EMAILS, 'value ew "example.com"', None),
    (EMAILS, 'not (type eq "work")', None),
    (EMAILS, 'type eq "work" and type eq "home"', None),
    (EMAILS, "type eq null", None),
]


@pytest.mark.parametrize("attr_def,text,expected", EQUALITIES, ids=[e[1] for e in EQUALITIES])
def test_equalities(attr_def, text, expected):
    assert equalities(parse_value_filter(attr_def, text), attr_def) == expected
