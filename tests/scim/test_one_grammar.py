"""One filter grammar for searches and PATCH paths, and case-insensitive matching in every script.

A value filter means the same in `GET /Users?filter=emails[...]` as in a PATCH path `emails[...]`:
each case below is sent both ways, over HTTP, and the elements the search says match are the
elements the PATCH removes.
"""
from __future__ import annotations

import pytest

from scim_authz.scim.filter_parse import parse_filter
from scim_authz.scim.paths import parse_value_filter
from scim_authz.scim.schema_defs import USER_SCHEMA
from tests.conftest import patch_op

EMAILS = [
    {"value": 'a"b@example.com', "type": "work", "primary": True},
    {"value": "babs@Example.org", "type": "home"},
    {"value": "ZOË.Ångström@example.net", "type": "other", "display": "ZOË ÅNGSTRÖM"},
]
ADDRESSES = [
    {"type": "work", "postalCode": "12345", "locality": "Århus"},
    {"type": "home", "postalCode": "98765", "locality": "ΑΘΉΝΑ"},
]

# (attribute, value filter, indexes of the elements it selects)
CASES = [
    ("addresses", "postalCode eq 12345", [0]),  # a multi-digit number, compared as its text
    ("addresses", "postalCode gt 50000", [1]),
    ("addresses", 'postalCode sw "123"', [0]),
    ("emails", r'value eq "a\"b@example.com"', [0]),  # an escaped quote
    ("emails", r'value co "\""', [0]),
    ("emails", 'value eq "a]b"', []),  # a bracket inside a string
    ("emails", 'type eq "work" and value co "@example.com"', [0]),  # RFC 7644 §3.4.2.2
    ("emails", 'value co "example.com" or value co "EXAMPLE.ORG"', [0, 1]),
    ("emails", 'not (type eq "work")', [1, 2]),
    ("emails", 'type eq "home" or type eq "work" and value eq "nope"', [1]),  # and binds tighter
    ("emails", "primary eq true", [0]),
    ("emails", "display pr", [2]),
    ("emails", 'value eq "zoë.ångström@EXAMPLE.NET"', [2]),  # case folded in every script
    ("emails", 'display eq "zoë ångström"', [2]),
    ("emails", 'display sw "zoë"', [2]),
    ("addresses", 'locality eq "århus"', [0]),
    ("addresses", 'locality eq "αθήνα"', [1]),
    ("addresses", 'locality ew "ΉΝΑ"', [1]),
]
IDS = [f"{a}[{f}]" for a, f, _ in CASES]


def _user(scim, name: str) -> dict:
    r = scim.post("/Users", {"userName": name, "emails": EMAILS, "addresses": ADDRESSES})
    assert r.status_code == 201, r.get_json(force=True)
    return r.get_json(force=True)


@pytest.mark.parametrize("attr,text,selected", CASES, ids=IDS)
def test_a_value_filter_selects_the_same_elements_in_a_search_and_in_a_patch_path(scim, attr, text, selected):
    user = _user(scim, "bjensen")
    others = _user(scim, "other")  # the same elements, removed by nobody: the search must not depend on order
    r = scim.get("/Users", query_string={"filter": f'userName eq "bjensen" and {attr}[{text}]'})
    assert r.status_code == 200, r.get_json(force=True)
    assert r.get_json(force=True)["totalResults"] == (1 if selected else 0)

    r = scim.patch(f"/Users/{user['id']}", patch_op({"op": "remove", "path": f"{attr}[{text}]"}))
    if not selected:  # removing what is not there is a no-op, as an IdP retrying a removal expects
        assert r.status_code in (200, 204), r.get_json(force=True)
        assert scim.get(f"/Users/{user['id']}").get_json(force=True)[attr] == user[attr]
        return
    assert r.status_code in (200, 204), r.get_json(force=True)
    source = EMAILS if attr == "emails" else ADDRESSES
    kept = [e for i, e in enumerate(source) if i not in selected]
    assert scim.get(f"/Users/{user['id']}").get_json(force=True).get(attr, []) == kept
    assert scim.get(f"/Users/{others['id']}").get_json(force=True)[attr] == source


@pytest.mark.parametrize("attr,text,selected", CASES, ids=IDS)
def test_a_patch_path_filter_parses_as_the_search_filter_does(attr, text, selected):
    defn = USER_SCHEMA.lookup(None, attr)
    assert repr(parse_value_filter(defn, text)) == repr(parse_filter(text))


@pytest.mark.parametrize("text", [
    'emails[type eq "work" and value co "@example.com"]',  # RFC 7644 §3.4.2.2's examples with [...]
    'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
])
def test_rfc_value_filter_examples_are_searches(scim, text):
    _user(scim, "bjensen")
    r = scim.get("/Users", query_string={"filter": text})
    assert r.status_code == 200, r.get_json(force=True)


def test_a_replace_through_a_numeric_value_filter_updates_that_element(scim):
    user = _user(scim, "bjensen")
    r = scim.patch(f"/Users/{user['id']}", patch_op(
        {"op": "replace", "path": "addresses[postalCode eq 12345].locality", "value": "Aarhus"}))
    assert r.status_code in (200, 204)
    got = scim.get(f"/Users/{user['id']}").get_json(force=True)["addresses"]
    assert [a["locality"] for a in got] == ["Aarhus", "ΑΘΉΝΑ"]


# Names from several scripts, each with upper-case letters outside ASCII.
NAMES = [
    ("Zoë Ångström", "Zoë", "Ångström"),
    ("Ωμέγα Αλφάδη", "Ωμέγα", "Αλφάδη"),
    ("Дмитрий Шостакович", "Дмитрий", "Шостакович"),
    ("Ագնես Դավթյան", "Ագնես", "Դավթյան"),
    ("ÉLODIE Œuvré", "ÉLODIE", "Œuvré"),
]


@pytest.mark.parametrize("display,given,family", NAMES, ids=[n[0] for n in NAMES])
def test_case_insensitive_attributes_match_in_every_script(scim, display, given, family):
    r = scim.post("/Users", {"userName": f"{given}@example.com", "displayName": display, "nickName": given,
                             "title": f"Head of {family}", "name": {"givenName": given, "familyName": family},
                             "emails": [{"value": f"{given}.{family}@example.com", "type": "work"}]})
    assert r.status_code == 201
    uid = r.get_json(force=True)["id"]
    scim.post("/Users", {"userName": "someone.else@example.com", "displayName": "Someone Else"})
    filters = []
    for spelled in (str.upper, str.lower, lambda s: s):
        filters += [f'displayName eq "{spelled(display)}"', f'name.givenName eq "{spelled(given)}"',
                    f'name.familyName eq "{spelled(family)}"', f'nickName eq "{spelled(given)}"',
                    f'title eq "{spelled("Head of " + family)}"',
                    f'emails.value eq "{spelled(given + "." + family + "@example.com")}"',
                    f'emails[value sw "{spelled(given)}"]', f'title co "{spelled(family)}"',
                    f'displayName ew "{spelled(family)}"', f'userName eq "{spelled(given)}@example.com"']
    for f in filters:
        r = scim.get("/Users", query_string={"filter": f})
        assert r.status_code == 200, (f, r.get_json(force=True))
        assert [u["id"] for u in r.get_json(force=True)["Resources"]] == [uid], f


def test_sorting_folds_case_in_every_script(scim):
    for name in ("ängel", "Ärger", "ÅSA", "zed", "Zoë"):
        scim.post("/Users", {"userName": name, "displayName": name})
    r = scim.get("/Users", query_string={"sortBy": "displayName"})
    names = [u["displayName"] for u in r.get_json(force=True)["Resources"]]
    assert names == sorted(names, key=str.lower)
