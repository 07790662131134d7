"""The PATCH engine (RFC 7644 §3.5.2): RFC examples, Entra ID and Okta request bodies, errors, atomicity."""
from __future__ import annotations

import copy

import pytest

from scim_authz.scim.errors import InvalidFilter, InvalidPath, InvalidSyntax, InvalidValue, Mutability, NoTarget
from scim_authz.scim.patch import MembersChange, apply_patch
from scim_authz.scim.paths import matches
from scim_authz.scim.schema_defs import ENTERPRISE_USER as ENT
from scim_authz.scim.schema_defs import GROUP_SCHEMA, USER_SCHEMA

GUID = "2819c223-7f76-453a-919d-413861904646"
GUID2 = "902c246b-6245-4190-8e05-00816be7344a"
MANAGER = "26118915-6090-4610-87e4-49d8ca9f808d"
CERT = "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"
GONE = object()

WORK_EMAIL = {"value": "bjensen@example.com", "type": "work", "primary": True}
HOME_EMAIL = {"value": "babs@jensen.org", "type": "home"}
WORK_ADDRESS = {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
                "region": "CA", "postalCode": "91608", "country": "US", "primary": True}
HOME_ADDRESS = {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood"}
MINIMAL = {"userName": "bjensen"}
BJENSEN = {
    "userName": "bjensen",
    "name": {"givenName": "Barbara", "familyName": "Jensen"},
    "active": True,
    "emails": [WORK_EMAIL, HOME_EMAIL],
    "addresses": [WORK_ADDRESS, HOME_ADDRESS],
    ENT: {"employeeNumber": "701984", "manager": {"value": MANAGER}},
}
TOUR_GUIDES = {"displayName": "Tour Guides", "externalId": "okta-00g1"}


def like(base: dict, changes: dict) -> dict:
    """`base` with top-level keys replaced (or dropped, for GONE)."""
    out = copy.deepcopy(base)
    for k, v in changes.items():
        if v is GONE:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def op(name, path=None, value=GONE):
    o = {"op": name}
    if path is not None:
        o["path"] = path
    if value is not GONE:
        o["value"] = value
    return o


# (id, doc, operations, expected doc) on a User
USER_CASES = [
    # ---- RFC 7644 §3.5.2.1 add ----
    ("rfc7644-3.5.2.1-pathless-add-emails-and-nickname", MINIMAL,
     [op("add", value={"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickname": "Babs"})],
     {"userName": "bjensen", "emails": [HOME_EMAIL], "nickName": "Babs"}),
    ("rfc7644-3.5.2.1-add-emails-appends", BJENSEN,
     [op("add", "emails", [{"value": "babs@example.org", "type": "other"}])],
     like(BJENSEN, {"emails": [WORK_EMAIL, HOME_EMAIL, {"value": "babs@example.org", "type": "other"}]})),
    ("rfc7644-3.5.2.1-add-existing-value-is-no-change", BJENSEN,
     [op("add", "emails", [dict(HOME_EMAIL)])], BJENSEN),
    ("rfc7644-3.5.2.1-add-single-value-not-in-a-list", MINIMAL,
     [op("add", "emails", {"value": "b@x.com", "Type": "work"})],
     {"userName": "bjensen", "emails": [{"value": "b@x.com", "type": "work"}]}),
    ("rfc7644-3.5.2.1-add-singular-replaces", like(MINIMAL, {"nickName": "B"}),
     [op("add", "nickName", "Babs")], {"userName": "bjensen", "nickName": "Babs"}),
    ("rfc7644-3.5.2.1-add-complex-merges-sub-attributes", BJENSEN,
     [op("add", "name", {"middleName": "Ann", "givenName": "Babs"})],
     like(BJENSEN, {"name": {"givenName": "Babs", "familyName": "Jensen", "middleName": "Ann"}})),
    ("rfc7644-3.5.2.1-add-sub-attribute-creates-parent", MINIMAL,
     [op("add", "name.givenName", "Barbara")], {"userName": "bjensen", "name": {"givenName": "Barbara"}}),
    ("rfc7644-3.5.2.1-add-extension-attribute-creates-extension", MINIMAL,
     [op("add", f"{ENT}:employeeNumber", "42")], {"userName": "bjensen", ENT: {"employeeNumber": "42"}}),
    ("rfc7644-3.5.2.1-add-extension-urn-merges", BJENSEN,
     [op("add", ENT, {"costCenter": "4130", "manager": {"value": GUID}})],
     like(BJENSEN, {ENT: {"employeeNumber": "701984", "manager": {"value": GUID}, "costCenter": "4130"}})),
    ("extension-urn-value-ignores-its-schemas", MINIMAL,
     [op("replace", ENT, {"schemas": [ENT], "employeeNumber": "42"})],
     {"userName": "bjensen", ENT: {"employeeNumber": "42"}}),
    ("rfc7644-3.5.2-add-primary-demotes-the-others", BJENSEN,
     [op("add", "emails", [{"value": "new@example.com", "type": "other", "primary": True}])],
     like(BJENSEN, {"emails": [dict(WORK_EMAIL, primary=False), HOME_EMAIL,
                               {"value": "new@example.com", "type": "other", "primary": True}]})),
    ("rfc7644-3.5.2-core-urn-path", MINIMAL,
     [op("replace", "urn:ietf:params:scim:schemas:core:2.0:User:userName", "babs")], {"userName": "babs"}),
    # ---- RFC 7644 §3.5.2.3 replace ----
    ("rfc7644-3.5.2.3-pathless-replace-emails-and-nickname", BJENSEN,
     [op("replace", value={"emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
                                      {"value": "babs@jensen.org", "type": "home"}],
                           "nickname": "Babs"})],
     like(BJENSEN, {"nickName": "Babs"})),
    ("rfc7644-3.5.2.3-replace-multi-valued-without-filter-replaces-all", BJENSEN,
     [op("replace", "emails", [{"value": "only@example.com", "type": "work"}])],
     like(BJENSEN, {"emails": [{"value": "only@example.com", "type": "work"}]})),
    ("rfc7644-3.5.2.3-replace-work-address-by-filter", BJENSEN,
     [op("replace", 'addresses[type eq "work"]',
         {"type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood", "region": "CA",
          "postalCode": "91608", "country": "US", "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
          "primary": True})],
     like(BJENSEN, {"addresses": [
         dict(WORK_ADDRESS, streetAddress="911 Universal City Plaza",
              formatted="911 Universal City Plaza\nHollywood, CA 91608 US"), HOME_ADDRESS]})),
    ("rfc7644-3.5.2.3-replace-streetAddress-by-filter", BJENSEN,
     [op("replace", 'addresses[type eq "work"].streetAddress', "1010 Broadway Ave")],
     like(BJENSEN, {"addresses": [dict(WORK_ADDRESS, streetAddress="1010 Broadway Ave"), HOME_ADDRESS]})),
    ("rfc7644-3.5.2.3-replace-emails-by-and-filter", BJENSEN,
     [op("replace", 'emails[type eq "work" and value ew "example.com"]', {"value": "barbara@example.com"})],
     like(BJENSEN, {"emails": [dict(WORK_EMAIL, value="barbara@example.com"), HOME_EMAIL]})),
    ("rfc7644-3.5.2.3-replace-complex-leaves-unspecified-sub-attributes", BJENSEN,
     [op("replace", "name", {"givenName": "Babs"})],
     like(BJENSEN, {"name": {"givenName": "Babs", "familyName": "Jensen"}})),
    ("rfc7644-3.5.2.3-replace-sub-attribute", BJENSEN,
     [op("replace", "name.familyName", "Jensen-Smith")],
     like(BJENSEN, {"name": {"givenName": "Barbara", "familyName": "Jensen-Smith"}})),
    ("rfc7643-2.5-replace-with-null-or-empty-list-unassigns", like(BJENSEN, {"nickName": "Babs"}),
     [op("replace", "nickName", None), op("replace", "emails", []), op("replace", "name.givenName", None)],
     like(BJENSEN, {"emails": GONE, "name": {"familyName": "Jensen"}})),
    ("rfc7644-3.5.1-readonly-sub-attribute-in-a-value-is-ignored", BJENSEN,
     [op("replace", f"{ENT}:manager", {"value": GUID, "displayName": "Boss"})],
     like(BJENSEN, {ENT: {"employeeNumber": "701984", "manager": {"value": GUID}}})),
    ("rfc7644-3.5.2.3-replace-primary-by-filter-demotes-the-other", BJENSEN,
     [op("replace", 'emails[type eq "home"].primary', True)],
     like(BJENSEN, {"emails": [dict(WORK_EMAIL, primary=False), dict(HOME_EMAIL, primary=True)]})),
    # ---- RFC 7644 §3.5.2.2 remove ----
    ("rfc7644-3.5.2.2-remove-emails-by-and-filter", BJENSEN,
     [op("remove", 'emails[type eq "work" and value ew "example.com"]')],
     like(BJENSEN, {"emails": [HOME_EMAIL]})),
    ("rfc7644-3.5.2.2-remove-x509Certificates", like(MINIMAL, {"x509Certificates": [{"value": CERT}]}),
     [op("remove", "x509Certificates")], MINIMAL),
    ("rfc7644-3.5.2.2-remove-one-x509Certificate-by-filter",
     like(MINIMAL, {"x509Certificates": [{"value": CERT}, {"value": "MIIB"}]}),
     [op("remove", f'x509Certificates[value eq "{CERT}"]')],
     like(MINIMAL, {"x509Certificates": [{"value": "MIIB"}]})),
    ("rfc7644-3.5.2.2-remove-last-value-unassigns-the-attribute", BJENSEN,
     [op("remove", 'emails[type eq "work"]'), op("remove", 'emails[type eq "home"]')],
     like(BJENSEN, {"emails": GONE})),
    ("rfc7644-3.5.2.2-remove-filter-without-match-is-no-op", BJENSEN,
     [op("remove", 'emails[type eq "other"]')], BJENSEN),
    ("rfc7644-3.5.2.2-remove-sub-attribute-of-matching-values", BJENSEN,
     [op("remove", 'emails[type eq "work"].primary')],
     like(BJENSEN, {"emails": [{"value": "bjensen@example.com", "type": "work"}, HOME_EMAIL]})),
    ("rfc7644-3.5.2.2-remove-singular-sub-attribute", BJENSEN,
     [op("remove", "name.givenName")], like(BJENSEN, {"name": {"familyName": "Jensen"}})),
    ("rfc7644-3.5.2.2-remove-last-sub-attribute-unassigns-parent", like(MINIMAL, {"name": {"givenName": "B"}}),
     [op("remove", "name.givenName")], MINIMAL),
    ("rfc7644-3.5.2.2-remove-singular-attribute", BJENSEN,
     [op("remove", "active")], like(BJENSEN, {"active": GONE})),
    ("rfc7644-3.5.2.2-remove-absent-attribute-is-no-op", BJENSEN, [op("remove", "nickName")], BJENSEN),
    ("rfc7644-3.5.2.2-remove-extension-attribute", BJENSEN,
     [op("remove", f"{ENT}:employeeNumber")], like(BJENSEN, {ENT: {"manager": {"value": MANAGER}}})),
    ("rfc7644-3.5.2.2-remove-whole-extension", BJENSEN, [op("remove", ENT)], like(BJENSEN, {ENT: GONE})),
    ("rfc7644-3.5.2.2-remove-last-extension-attribute-drops-extension",
     like(MINIMAL, {ENT: {"employeeNumber": "1"}}), [op("remove", f"{ENT}:employeeNumber")], MINIMAL),
    ("entra-remove-multi-valued-with-value-list", BJENSEN,
     [op("Remove", "emails", [{"value": "BABS@jensen.org"}])], like(BJENSEN, {"emails": [WORK_EMAIL]})),
    # ---- Microsoft Entra ID ----
    ("entra-pathless-replace-with-path-keys", BJENSEN,
     [op("Replace", value={"displayName": "Babs Jensen", "name.givenName": "Babs", "name.familyName": "Jensen",
                           f"{ENT}:employeeNumber": "99", "urn:ietf:params:scim:schemas:core:2.0:User:title": "CEO"})],
     like(BJENSEN, {"displayName": "Babs Jensen", "name": {"givenName": "Babs", "familyName": "Jensen"},
                    "title": "CEO", ENT: {"employeeNumber": "99", "manager": {"value": MANAGER}}})),
    ("entra-pathless-extension-urn-key-merges", BJENSEN,
     [op("Replace", value={ENT: {"department": "Tour Operations"}})],
     like(BJENSEN, {ENT: {"employeeNumber": "701984", "manager": {"value": MANAGER},
                          "department": "Tour Operations"}})),
    ("entra-add-work-email-value-creates-the-element", MINIMAL,
     [op("Add", 'emails[type eq "work"].value', "bjensen@contoso.com")],
     like(MINIMAL, {"emails": [{"type": "work", "value": "bjensen@contoso.com"}]})),
    ("entra-replace-work-email-value-updates-it", BJENSEN,
     [op("Replace", 'emails[type eq "work"].value', "updatedEmail@microsoft.com"),
      op("Replace", "name.familyName", "updatedFamilyName")],
     like(BJENSEN, {"emails": [dict(WORK_EMAIL, value="updatedEmail@microsoft.com"), HOME_EMAIL],
                    "name": {"givenName": "Barbara", "familyName": "updatedFamilyName"}})),
    ("entra-several-adds-on-one-filter-fill-one-address", MINIMAL,
     [op("Add", 'addresses[type eq "work"].formatted', "1 Main St\nRedmond, WA 98052 US"),
      op("Add", 'addresses[type eq "work"].streetAddress', "1 Main St"),
      op("Add", 'addresses[type eq "work"].locality', "Redmond"),
      op("Add", 'addresses[type eq "work"].region', "WA"),
      op("Add", 'addresses[type eq "work"].postalCode', "98052"),
      op("Add", 'addresses[type eq "work"].country', "US")],
     like(MINIMAL, {"addresses": [{"type": "work", "formatted": "1 Main St\nRedmond, WA 98052 US",
                                   "streetAddress": "1 Main St", "locality": "Redmond", "region": "WA",
                                   "postalCode": "98052", "country": "US"}]})),
    ("entra-add-on-pure-eq-and-filter-creates-element", MINIMAL,
     [op("Add", 'phoneNumbers[type eq "mobile" and primary eq true].value', "+1 555 0100")],
     like(MINIMAL, {"phoneNumbers": [{"type": "mobile", "primary": True, "value": "+1 555 0100"}]})),
    ("entra-replace-active-string-false-kept-as-sent", BJENSEN,
     [op("Replace", "active", "False")], like(BJENSEN, {"active": "False"})),
    ("entra-add-on-single-valued-attribute", BJENSEN,
     [op("Add", "userName", "babs"), op("Add", "externalId", "e-1")],
     like(BJENSEN, {"userName": "babs", "externalId": "e-1"})),
    ("entra-replace-manager", BJENSEN,
     [op("Replace", f"{ENT}:manager", {"value": GUID})],
     like(BJENSEN, {ENT: {"employeeNumber": "701984", "manager": {"value": GUID}}})),
    # ---- Okta ----
    ("okta-pathless-replace-active-false", BJENSEN,
     [op("replace", value={"active": False})], like(BJENSEN, {"active": False})),
    ("okta-pathless-value-ignores-schemas-and-meta", BJENSEN,
     [op("replace", value={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                           "meta": {"resourceType": "User"}, "active": False})],
     like(BJENSEN, {"active": False})),
    # ---- general ----
    ("op-and-member-names-are-case-insensitive", MINIMAL,
     [{"OP": "ADD", "Path": "NickName", "Value": "Babs"}], like(MINIMAL, {"nickName": "Babs"})),
    ("empty-path-is-pathless", MINIMAL, [op("add", "", {"nickName": "Babs"})], like(MINIMAL, {"nickName": "Babs"})),
]


@pytest.mark.parametrize("doc,operations,expected", [c[1:] for c in USER_CASES], ids=[c[0] for c in USER_CASES])
def test_user_patch(doc, operations, expected):
    before = copy.deepcopy(doc)
    result = apply_patch(USER_SCHEMA, doc, operations, resource_id="u-1")
    assert result.doc == expected
    assert result.members == []
    assert result.changed is (expected != doc)
    assert doc == before  # the input is never mutated


MEMBER = {"display": "Babs Jensen", "$ref": f"https://example.com/v2/Users/{GUID}", "value": GUID}
MEMBER2 = {"display": "Mandy Pepperidge", "$ref": f"https://example.com/v2/Users/{GUID2}", "value": GUID2}

# (id, operations, expected doc, expected member changes) on TOUR_GUIDES, whose id is "g-1"
GROUP_CASES = [
    ("rfc7644-3.5.2.1-add-member", [op("add", "members", [MEMBER])], TOUR_GUIDES,
     [MembersChange("add", [MEMBER])]),
    ("rfc7644-3.5.2.2-remove-member-by-filter", [op("remove", f'members[value eq "{GUID}"]')], TOUR_GUIDES,
     [MembersChange("remove", [{"value": GUID}])]),
    ("rfc7644-3.5.2.2-remove-all-members", [op("remove", "members")], TOUR_GUIDES,
     [MembersChange("remove_all", [])]),
    ("rfc7644-3.5.2.2-remove-all-then-add", [op("remove", "members"), op("add", "members", [MEMBER, MEMBER2])],
     TOUR_GUIDES, [MembersChange("remove_all", []), MembersChange("add", [MEMBER, MEMBER2])]),
    ("rfc7644-3.5.2.3-replace-members", [op("replace", "members", [MEMBER, MEMBER2])], TOUR_GUIDES,
     [MembersChange("replace", [MEMBER, MEMBER2])]),
    ("rfc7644-3.5.2.3-replace-members-with-empty-list", [op("replace", "members", [])], TOUR_GUIDES,
     [MembersChange("replace", [])]),
    ("remove-members-or-filter-lists-ids",
     [op("remove", f'members[value eq "{GUID}" or Value eq "{GUID2}"]')], TOUR_GUIDES,
     [MembersChange("remove", [{"value": GUID}, {"value": GUID2}])]),
    ("add-empty-member-list-is-no-change", [op("add", "members", [])], TOUR_GUIDES, []),
    ("single-member-not-in-a-list-and-canonical-keys", [op("add", "members", {"Value": GUID, "TYPE": "User"})],
     TOUR_GUIDES, [MembersChange("add", [{"value": GUID, "type": "User"}])]),
    ("pathless-replace-with-members", [op("replace", value={"displayName": "Guides", "members": [{"value": GUID}]})],
     like(TOUR_GUIDES, {"displayName": "Guides"}), [MembersChange("replace", [{"value": GUID}])]),
    ("pathless-add-with-members", [op("add", value={"members": [{"value": GUID}]})],
     TOUR_GUIDES, [MembersChange("add", [{"value": GUID}])]),
    # ---- Microsoft Entra ID ----
    ("entra-add-members-with-null-ref",
     [op("Add", "members", [{"$ref": None, "value": GUID}])], TOUR_GUIDES,
     [MembersChange("add", [{"$ref": None, "value": GUID}])]),
    ("entra-remove-members-with-value-list",
     [op("Remove", "members", [{"value": GUID}, {"$ref": None, "value": GUID2}])], TOUR_GUIDES,
     [MembersChange("remove", [{"value": GUID}, {"value": GUID2}])]),
    ("entra-replace-displayName", [op("Replace", "displayName", "Guides")],
     like(TOUR_GUIDES, {"displayName": "Guides"}), []),
    # ---- Okta ----
    ("okta-rename-group-pathless-with-own-id", [op("replace", value={"id": "g-1", "displayName": "Test SCIMv2"})],
     like(TOUR_GUIDES, {"displayName": "Test SCIMv2"}), []),
    ("okta-remove-then-add-members",
     [op("remove", f'members[value eq "{GUID}"]'),
      op("add", "members", [{"value": GUID2, "display": "test.user@okta.local"}])], TOUR_GUIDES,
     [MembersChange("remove", [{"value": GUID}]),
      MembersChange("add", [{"value": GUID2, "display": "test.user@okta.local"}])]),
]


@pytest.mark.parametrize("operations,expected,changes", [c[1:] for c in GROUP_CASES], ids=[c[0] for c in GROUP_CASES])
def test_group_patch(operations, expected, changes):
    """Group members never touch the document: they come out as MembersChange, in operation order."""
    result = apply_patch(GROUP_SCHEMA, TOUR_GUIDES, operations, resource_id="g-1")
    assert result.doc == expected
    assert "members" not in result.doc
    assert result.members == changes
    assert result.changed is (expected != TOUR_GUIDES or bool(changes))


def test_remove_members_by_other_filter_is_remove_where():
    """RFC 7644 §3.5.2.2: members[type eq "Group"] cannot become a list of ids; the caller gets the filter."""
    result = apply_patch(GROUP_SCHEMA, TOUR_GUIDES, [op("remove", 'members[Type eq "Group"]')])
    [change] = result.members
    assert (change.kind, change.members) == ("remove_where", [])
    members_def = GROUP_SCHEMA.lookup(None, "members")
    assert change.filter.expr.attr_path.attr_name == "type"  # canonical name in the AST
    assert matches({"value": GUID, "type": "Group"}, change.filter, members_def)
    assert not matches({"value": GUID, "type": "User"}, change.filter, members_def)
    assert result.changed and result.doc == TOUR_GUIDES


# (id, schema, doc, operations, error class, fragment of the detail)
ERRORS = [
    ("unknown-attribute", USER_SCHEMA, BJENSEN, [op("replace", "nope", 1)], InvalidPath, "nope"),
    ("bad-filter", USER_SCHEMA, BJENSEN, [op("replace", "emails[type eq].value", "x")], InvalidFilter, "type eq"),
    ("filter-on-singular", USER_SCHEMA, BJENSEN, [op("replace", 'name[givenName eq "B"]', {})],
     InvalidPath, "multi-valued"),
    ("path-not-a-string", USER_SCHEMA, BJENSEN, [op("replace", ["userName"], "x")], InvalidPath, "string"),
    ("rfc7644-3.5.2.3-replace-no-match-non-eq-filter", USER_SCHEMA, BJENSEN,
     [op("replace", 'emails[value ew "nope.org"].value', "x")], NoTarget, "matches"),
    ("rfc7644-3.5.2.3-replace-filter-without-sub-no-match", USER_SCHEMA, BJENSEN,
     [op("replace", 'emails[type eq "other"]', {"value": "x@example.com"})], NoTarget, "matches"),
    ("add-no-match-or-filter", USER_SCHEMA, MINIMAL,
     [op("add", 'emails[type eq "work" or type eq "home"].value', "x")], NoTarget, "matches"),
    ("sub-on-empty-multi-valued", USER_SCHEMA, MINIMAL, [op("replace", "emails.value", "x")], NoTarget, "emails"),
    ("rfc7644-3.5.2.2-remove-without-path", USER_SCHEMA, BJENSEN, [op("remove")], NoTarget, "path"),
    ("replace-id", USER_SCHEMA, BJENSEN, [op("replace", "id", "x")], Mutability, "read-only"),
    ("remove-id", USER_SCHEMA, BJENSEN, [op("remove", "id")], Mutability, "read-only"),
    ("replace-meta-created", USER_SCHEMA, BJENSEN, [op("replace", "meta.created", "2020-01-01T00:00:00Z")],
     Mutability, "meta.created"),
    ("replace-groups", USER_SCHEMA, BJENSEN, [op("replace", "groups", [{"value": GUID}])], Mutability, "groups"),
    ("pathless-groups", USER_SCHEMA, BJENSEN, [op("add", value={"groups": [{"value": GUID}]})],
     Mutability, "groups"),
    ("manager-displayName", USER_SCHEMA, BJENSEN, [op("replace", f"{ENT}:manager.displayName", "Boss")],
     Mutability, "read-only"),
    ("pathless-other-id", GROUP_SCHEMA, TOUR_GUIDES, [op("replace", value={"id": "g-2", "displayName": "x"})],
     Mutability, "id"),
    ("members-type-in-place", GROUP_SCHEMA, TOUR_GUIDES,
     [op("replace", f'members[value eq "{GUID}"].type', "Group")], Mutability, "Members"),
    ("members-replace-selected", GROUP_SCHEMA, TOUR_GUIDES,
     [op("replace", f'members[value eq "{GUID}"]', {"value": GUID2})], Mutability, "Members"),
    ("members-remove-sub-attribute", GROUP_SCHEMA, TOUR_GUIDES,
     [op("remove", f'members[value eq "{GUID}"].type')], Mutability, "Member"),
    ("members-value-in-place", GROUP_SCHEMA, TOUR_GUIDES, [op("replace", "members.value", "x")],
     Mutability, "Members"),
    ("unknown-op", USER_SCHEMA, BJENSEN, [op("frobnicate", "userName", "x")], InvalidSyntax, "frobnicate"),
    ("missing-op", USER_SCHEMA, BJENSEN, [{"path": "userName", "value": "x"}], InvalidSyntax, "op"),
    ("operation-not-an-object", USER_SCHEMA, BJENSEN, ["add"], InvalidSyntax, "object"),
    ("no-operations", USER_SCHEMA, BJENSEN, [], InvalidSyntax, "Operations"),
    ("add-without-value", USER_SCHEMA, BJENSEN, [op("add", "nickName")], InvalidValue, "value"),
    ("pathless-value-not-an-object", USER_SCHEMA, BJENSEN, [op("replace", value=[1])], InvalidValue, "object"),
    ("pathless-unknown-key", USER_SCHEMA, BJENSEN, [op("replace", value={"nope": 1})], InvalidValue, "nope"),
    ("unknown-sub-attribute-in-value", USER_SCHEMA, BJENSEN, [op("add", "name", {"nope": "x"})],
     InvalidValue, "nope"),
    ("remove-required-userName", USER_SCHEMA, BJENSEN, [op("remove", "userName")], InvalidValue, "required"),
    ("replace-required-with-null", USER_SCHEMA, BJENSEN, [op("replace", "userName", None)], InvalidValue, "required"),
    ("remove-required-displayName", GROUP_SCHEMA, TOUR_GUIDES, [op("remove", "displayName")],
     InvalidValue, "required"),
    ("member-without-value", GROUP_SCHEMA, TOUR_GUIDES, [op("add", "members", [{"display": "x"}])],
     InvalidValue, "value"),
    ("member-not-an-object", GROUP_SCHEMA, TOUR_GUIDES, [op("add", "members", [GUID])], InvalidValue, "object"),
    ("remove-member-without-value", GROUP_SCHEMA, TOUR_GUIDES, [op("remove", "members", [{"$ref": None}])],
     InvalidValue, "value"),
    ("two-primaries-in-one-operation", USER_SCHEMA, MINIMAL,
     [op("add", "emails", [{"value": "a@x", "primary": True}, {"value": "b@x", "primary": True}])],
     InvalidValue, "primary"),
    ("filtered-replace-with-non-object", USER_SCHEMA, BJENSEN, [op("replace", 'emails[type eq "work"]', "x")],
     InvalidValue, "object"),
]


@pytest.mark.parametrize("schema,doc,operations,error,fragment", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors(schema, doc, operations, error, fragment):
    """RFC 7644 §3.12 error types; the detail names the failing operation."""
    with pytest.raises(error) as exc:
        apply_patch(schema, doc, operations, resource_id="g-1")
    assert fragment in exc.value.detail
    if operations:
        assert exc.value.detail.startswith("Operations[0]: ")


def test_atomicity_second_operation_fails():
    """RFC 7644 §3.5.2: "If ... any operation fails, the original resource is unchanged"."""
    doc = copy.deepcopy(BJENSEN)
    with pytest.raises(Mutability) as exc:
        apply_patch(USER_SCHEMA, doc, [
            op("replace", "name.givenName", "Babs"),
            op("replace", "meta.created", "2020-01-01T00:00:00Z"),
            op("add", "nickName", "Babs"),
        ])
    assert exc.value.detail.startswith("Operations[1]: ")
    assert doc == BJENSEN


def test_atomicity_with_member_changes():
    with pytest.raises(InvalidValue):
        apply_patch(GROUP_SCHEMA, TOUR_GUIDES, [op("add", "members", [{"value": GUID}]), op("remove", "displayName")])
    assert TOUR_GUIDES == {"displayName": "Tour Guides", "externalId": "okta-00g1"}


def test_result_shares_nothing_with_the_input():
    doc = copy.deepcopy(BJENSEN)
    result = apply_patch(USER_SCHEMA, doc, [op("replace", "nickName", "Babs")])
    result.doc["emails"][0]["value"] = "changed"
    result.doc[ENT]["manager"]["value"] = "changed"
    assert doc == BJENSEN


@pytest.mark.parametrize("operations", [
    [op("add", "emails", [dict(HOME_EMAIL)])],
    [op("replace", "userName", "bjensen")],
    [op("replace", value={"name": {"givenName": "Barbara"}, "active": True})],
    [op("remove", 'emails[type eq "other"]')],
    [op("remove", "nickName")],
    [op("add", "nickName", "x"), op("remove", "nickName")],
], ids=["add-existing", "same-value", "pathless-same", "remove-no-match", "remove-absent", "add-then-remove"])
def test_unchanged(operations):
    """RFC 7644 §3.5.2.1: an add of an existing value "SHALL NOT change the modify timestamp"."""
    result = apply_patch(USER_SCHEMA, BJENSEN, operations)
    assert result.changed is False
    assert result.doc == BJENSEN
