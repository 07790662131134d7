"""The look-up IdPs send before each create (`userName eq "…"`) runs a statement built once
(filters.indexed_eq); it must find exactly what the general filter compiler finds.

The general path is taken for the same filter when a sortBy is given, so each case is searched both
ways over HTTP and the answers compared, on whichever database the suite runs on.
"""
from __future__ import annotations

import pytest

from scim_authz.scim.filters import indexed_eq

USERS = [("Bjensen@Example.com", "EXT-1"), ("bjensen2@example.com", "ext-1"), ("zoë.ÅNGSTRÖM", None),
         ("o'brien", "ext 2"), ("tab\there", None)]
GROUPS = [("Admins", "G-1"), ("ÉQUIPE Ω", "g-1"), ("admins-eu", None)]

USER_FILTERS = [
    'userName eq "bjensen@example.com"', 'USERNAME EQ "BJENSEN@EXAMPLE.COM"', 'userName eq "Zoë.Ångström"',
    'userName eq "nobody"', 'externalId eq "EXT-1"', 'externalId eq "ext-1"', 'externalId eq "EXT-2"',
    'externalId eq "ext 2"', '  userName   eq   "o\'brien"  ', 'userName eq "tab\\there"',
]
GROUP_FILTERS = ['displayName eq "admins"', 'displayName eq "ÉQUIPE ω"', 'displayName eq "équipe Ω"',
                 'externalId eq "G-1"', 'externalId eq "g-1"', 'displayName eq "admins-EU"', 'displayName eq "x"']


def _ids(scim, resource: str, params: dict) -> list[str]:
    r = scim.get(f"/{resource}", query_string=params)
    assert r.status_code == 200, r.get_json(force=True)
    body = r.get_json(force=True)
    assert body["totalResults"] == len(body["Resources"])
    return sorted(x["id"] for x in body["Resources"])


@pytest.fixture
def directory(scim):
    users = {}
    for name, ext in USERS:
        r = scim.post("/Users", {"userName": name, **({"externalId": ext} if ext else {})})
        assert r.status_code == 201, r.get_json(force=True)
        users[name] = r.get_json(force=True)["id"]
    for name, ext in GROUPS:
        r = scim.post("/Groups", {"displayName": name, **({"externalId": ext} if ext else {})})
        assert r.status_code == 201, r.get_json(force=True)
    return users


@pytest.mark.parametrize("resource,text", [("Users", f) for f in USER_FILTERS] + [("Groups", f) for f in GROUP_FILTERS])
def test_an_indexed_look_up_finds_what_the_general_filter_finds(scim, directory, resource, text):
    rtype = resource[:-1]
    fast = _ids(scim, resource, {"filter": text})
    general = _ids(scim, resource, {"filter": text, "sortBy": "meta.created"})
    assert fast == general
    # The id look-up too: the same user found by the id the other path returned.
    for rid in fast:
        assert _ids(scim, resource, {"filter": f'id eq "{rid}"'}) == [rid]
    if "\\" not in text:
        assert indexed_eq(text, rtype) is not None


def test_the_expected_resources_are_found(scim, directory):
    assert len(_ids(scim, "Users", {"filter": 'userName eq "BJENSEN@example.COM"'})) == 1
    assert len(_ids(scim, "Users", {"filter": 'externalId eq "ext-1"'})) == 1  # caseExact
    assert _ids(scim, "Users", {"filter": 'userName eq "ZOË.ångström"'}) == [directory["zoë.ÅNGSTRÖM"]]
    assert len(_ids(scim, "Groups", {"filter": 'displayName eq "équipe ω"'})) == 1


def test_a_full_page_is_counted(scim, directory):
    r = scim.get("/Users", query_string={"filter": 'userName eq "o\'brien"', "count": 1})
    body = r.get_json(force=True)
    assert body["totalResults"] == 1 and len(body["Resources"]) == 1
    r = scim.get("/Users", query_string={"filter": 'userName eq "o\'brien"', "count": 0})
    assert r.get_json(force=True)["totalResults"] == 1
    r = scim.get("/Users", query_string={"filter": 'userName eq "o\'brien"', "startIndex": 2})
    body = r.get_json(force=True)
    assert body["totalResults"] == 1 and body["Resources"] == []


@pytest.mark.parametrize("text,rtype", [
    ('userName eq "a\\"b"', "User"),          # an escape: the lexer decodes it
    ('displayName eq "x"', "User"),           # a user's displayName is folded in SQL
    ('title eq "x"', "User"),                 # kept in the document
    ('userName ne "x"', "User"),
    ('userName eq "a" or userName eq "b"', "User"),
    ('meta.created eq "2024-01-01T00:00:00Z"', "User"),
    ("userName eq 12345", "User"),
    ('userName\u00a0eq "x"', "User"),         # a space the lexer does not skip
    ('nosuch eq "x"', "User"),
    ('members eq "x"', "Group"),
])
def test_other_filters_are_left_to_the_compiler(text, rtype):
    assert indexed_eq(text, rtype) is None


def test_an_unknown_attribute_is_still_an_invalid_filter(scim):
    r = scim.get("/Users", query_string={"filter": 'nosuch eq "x"'})
    assert r.status_code == 400
    assert r.get_json(force=True)["scimType"] == "invalidFilter"
