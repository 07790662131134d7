"""Scripted conversations in the shape Microsoft Entra ID's SCIM provisioning guide documents.

Each test replays what the Entra provisioning service sends for one documented behaviour
(test connection, matching queries, capitalised PATCH ops, "True"/"False" strings, filtered
paths that create elements, the manager as a bare id, the Microsoft group schema, member
removal by value, the ?aadOptscim062020 flag) and checks the exact answers and the database.
"""
from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import pytest

from scim_authz.db.extensions import db
from scim_authz.db.models import Group
from tests.conftest import patch_op
from tests.integration.conversation import body_of, db_members, db_user

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
MS_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = "application/scim+json"
FLAG = "aadOptscim062020"


# ---- helpers ---------------------------------------------------------------------------------

def qs(**params) -> str:
    return "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())


def assert_error(r, status: int, scim_type: str | None = None):
    assert r.status_code == status, (r.status_code, r.data[:500])
    b = body_of(r)
    assert b["schemas"] == [ERROR]
    assert b["status"] == str(status)
    if scim_type is not None:
        assert b.get("scimType") == scim_type, b


def entra_user(user_name: str | None = None, **overrides) -> dict:
    """The body Entra POSTs to /Users (Entra SCIM guide, "Create User")."""
    tag = uuid.uuid4()
    body = {
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": str(uuid.uuid4()),
        "userName": user_name or f"Test_User_{tag}",
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": f"Test_User_{tag}@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
    }
    body.update(overrides)
    return body


def create_user(scim, user_name: str | None = None, **overrides) -> dict:
    r = scim.post("/Users", entra_user(user_name, **overrides))
    assert r.status_code == 201, r.data
    return body_of(r)


def create_group(scim, name: str, member_ids=()) -> dict:
    body = {"schemas": [CORE_GROUP, MS_GROUP], "externalId": str(uuid.uuid4()), "displayName": name,
            "meta": {"resourceType": "Group"}}
    if member_ids:
        body["members"] = [{"value": m} for m in member_ids]
    r = scim.post("/Groups", body)
    assert r.status_code == 201, r.data
    return body_of(r)


def find(scim, resource: str, filter_text: str, **extra) -> dict:
    r = scim.get(f"/{resource}?" + qs(filter=filter_text, **extra))
    assert r.status_code == 200, r.data
    return body_of(r)


def patch_user(scim, uid: str, *ops, path_suffix: str = "") -> dict:
    r = scim.patch(f"/Users/{uid}{path_suffix}", patch_op(*ops))
    assert r.status_code == 200, r.data
    return body_of(r)


# ---- test connection and matching -----------------------------------------------------------

def test_test_connection_random_guid_without_content_headers(client, tenant):
    """Entra "Test Connection": GET /Users?filter=userName eq "<random guid>" with no Content-Type or
    Accept header -> 200 with an empty ListResponse."""
    url = "/scim/v2/Users?" + qs(filter=f'userName eq "{uuid.uuid4()}"')
    r = client.get(url, headers={"Authorization": f"Bearer {tenant[1]}"})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith(SCIM_JSON)
    b = body_of(r)
    assert b["schemas"] == [LIST_RESPONSE]
    assert b["totalResults"] == 0 and type(b["totalResults"]) is int
    assert b["startIndex"] == 1 and b["itemsPerPage"] == 0
    assert b["Resources"] == []


def test_create_user_with_entra_body(app, scim):
    """Entra "Create User": POST with the core and enterprise schemas, meta.resourceType and roles: []
    -> 201 with the user."""
    body = entra_user("Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
                      externalId="0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")
    r = scim.post("/Users", body)
    assert r.status_code == 201, r.data
    u = body_of(r)
    assert u["userName"] == "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
    assert u["externalId"] == "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
    assert u["active"] is True
    assert u["emails"] == body["emails"]
    assert u["name"] == body["name"]
    assert CORE_USER in u["schemas"]
    assert u["meta"]["resourceType"] == "User"
    assert r.headers["Location"] == u["meta"]["location"]
    row = db_user(app, u["id"])
    assert row.external_id == "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
    assert row.active is True


def test_match_by_user_name_external_id_and_work_email(scim):
    """Entra matches users by userName, externalId or emails[type eq "work"].value, with eq filters."""
    target = create_user(scim, "Match.Me@contoso.com", externalId="ext-0001",
                         emails=[{"type": "work", "value": "match.me@contoso.com", "primary": True},
                                 {"type": "home", "value": "home@example.org"}])
    create_user(scim, "other@contoso.com", externalId="ext-0002",
                emails=[{"type": "work", "value": "other@contoso.com"}])
    for flt in ('userName eq "Match.Me@contoso.com"',
                'userName eq "match.me@CONTOSO.com"',
                'externalId eq "ext-0001"',
                'emails[type eq "work"].value eq "match.me@contoso.com"'):
        b = find(scim, "Users", flt)
        assert b["totalResults"] == 1, flt
        assert [u["id"] for u in b["Resources"]] == [target["id"]], flt
    for flt in ('externalId eq "ext-9999"',
                'emails[type eq "work"].value eq "home@example.org"',
                'emails[type eq "home"].value eq "match.me@contoso.com"'):
        b = find(scim, "Users", flt)
        assert (b["totalResults"], b["Resources"]) == (0, []), flt


def test_get_user_by_query_and_by_id(scim):
    """Entra reads the matched user back by id: GET /Users/{id} -> 200 with the same resource."""
    u = create_user(scim)
    b = find(scim, "Users", f'userName eq "{u["userName"]}"')
    assert b["Resources"] == [u]
    r = scim.get(f"/Users/{u['id']}")
    assert r.status_code == 200
    assert body_of(r) == u


# ---- PATCH users -----------------------------------------------------------------------------

def test_capitalised_ops(app, scim):
    """Entra sends op values "Add", "Replace" and "Remove" capitalised."""
    u = create_user(scim, nickName="Nick", displayName="Before")
    b = patch_user(scim, u["id"],
                   {"op": "Add", "path": "title", "value": "Engineer"},
                   {"op": "Replace", "path": "displayName", "value": "After"},
                   {"op": "Remove", "path": "nickName"})
    assert b["title"] == "Engineer"
    assert b["displayName"] == "After"
    assert "nickName" not in b
    row = db_user(app, u["id"])
    assert row.doc["title"] == "Engineer" and "nickName" not in row.doc
    assert row.display_name == "After"


def test_update_multi_and_single_valued_properties(app, scim):
    """Entra "Update User [Multi-valued properties]" (Replace emails[type eq "work"].value and
    name.familyName) and "[Single-valued properties]" (Replace userName) -> 200 with the user."""
    u = create_user(scim)
    b = patch_user(scim, u["id"],
                   {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updatedEmail@microsoft.com"},
                   {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"})
    assert b["emails"] == [{"primary": True, "type": "work", "value": "updatedEmail@microsoft.com"}]
    assert b["name"] == {"formatted": "givenName familyName", "familyName": "updatedFamilyName",
                         "givenName": "givenName"}
    new_name = f"{uuid.uuid4()}@testuser.com"
    b = patch_user(scim, u["id"], {"op": "Replace", "path": "userName", "value": new_name})
    assert b["userName"] == new_name
    row = db_user(app, u["id"])
    assert row.user_name == new_name and row.user_name_ci == new_name.lower()
    assert find(scim, "Users", f'userName eq "{new_name}"')["totalResults"] == 1
    assert find(scim, "Users", f'userName eq "{u["userName"]}"')["totalResults"] == 0


@pytest.mark.parametrize("false_value,true_value", [("False", "True"), (False, True), ("false", "true")])
def test_active_as_strings_or_booleans(app, scim, false_value, true_value):
    """Entra disables with Replace active "False" (a string, before aadOptscim062020) or false; the
    server stores a boolean and returns a JSON boolean."""
    u = create_user(scim)
    b = patch_user(scim, u["id"], {"op": "Replace", "path": "active", "value": false_value})
    assert b["active"] is False
    assert db_user(app, u["id"]).active is False
    assert db_user(app, u["id"]).doc["active"] is False
    assert body_of(scim.get(f"/Users/{u['id']}"))["active"] is False
    b = patch_user(scim, u["id"], {"op": "Replace", "path": "active", "value": true_value})
    assert b["active"] is True
    assert db_user(app, u["id"]).active is True
    assert db_user(app, u["id"]).doc["active"] is True


def test_active_string_in_pathless_replace_and_in_post(app, scim):
    """Entra's "False"/"True" strings also arrive in pathless values and in POST bodies."""
    u = create_user(scim, active="False")
    assert u["active"] is False
    assert db_user(app, u["id"]).active is False
    b = patch_user(scim, u["id"], {"op": "Replace", "value": {"active": "True"}})
    assert b["active"] is True
    assert db_user(app, u["id"]).active is True
    assert [x["id"] for x in find(scim, "Users", "active eq true")["Resources"]] == [u["id"]]


def test_add_work_email_creates_the_element(app, scim):
    """Entra: Add emails[type eq "work"].value on a user with no work email creates that email."""
    u = create_user(scim, emails=[{"type": "home", "value": "home@example.org"}])
    b = patch_user(scim, u["id"], {"op": "Add", "path": 'emails[type eq "work"].value', "value": "work@contoso.com"})
    emails = sorted(b["emails"], key=lambda e: e["type"])
    assert emails == [{"type": "home", "value": "home@example.org"}, {"type": "work", "value": "work@contoso.com"}]
    stored = sorted(db_user(app, u["id"]).doc["emails"], key=lambda e: e["type"])
    assert stored == emails
    # A second Add on the same path updates the element instead of adding another.
    b = patch_user(scim, u["id"], {"op": "Add", "path": 'emails[type eq "work"].value', "value": "new@contoso.com"})
    work = [e for e in b["emails"] if e["type"] == "work"]
    assert work == [{"type": "work", "value": "new@contoso.com"}]
    assert len(b["emails"]) == 2


def test_add_work_email_on_user_without_emails(scim):
    """Entra: the same Add on a user that has no emails at all creates the emails attribute."""
    u = create_user(scim)
    assert scim.patch(f"/Users/{u['id']}", patch_op({"op": "Remove", "path": "emails"})).status_code == 200
    assert "emails" not in body_of(scim.get(f"/Users/{u['id']}"))
    b = patch_user(scim, u["id"], {"op": "Add", "path": 'emails[type eq "work"].value', "value": "w@contoso.com"})
    assert b["emails"] == [{"type": "work", "value": "w@contoso.com"}]
    assert find(scim, "Users", 'emails[type eq "work"].value eq "w@contoso.com"')["totalResults"] == 1


def test_several_adds_fill_one_work_address(app, scim):
    """Entra sends one Add per address field (addresses[type eq "work"].locality, .postalCode, .country);
    together they make ONE work address."""
    u = create_user(scim)
    b = patch_user(scim, u["id"],
                   {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Redmond"},
                   {"op": "Add", "path": 'addresses[type eq "work"].postalCode', "value": "98052"},
                   {"op": "Add", "path": 'addresses[type eq "work"].country', "value": "US"})
    assert b["addresses"] == [{"type": "work", "locality": "Redmond", "postalCode": "98052", "country": "US"}]
    # A later request with one more field still touches the same address.
    b = patch_user(scim, u["id"],
                   {"op": "Add", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Microsoft Way"})
    assert b["addresses"] == [{"type": "work", "locality": "Redmond", "postalCode": "98052", "country": "US",
                               "streetAddress": "1 Microsoft Way"}]
    assert db_user(app, u["id"]).doc["addresses"] == b["addresses"]


def test_pathless_replace_with_dotted_and_urn_keys(app, scim):
    """Entra (aadOptscim062020) sends pathless Replace values keyed by attribute paths: "name.givenName"
    and "urn:...:enterprise:2.0:User:employeeNumber"; only those sub-attributes change."""
    u = create_user(scim, **{ENTERPRISE: {"department": "Sales", "employeeNumber": "0001"}})
    b = patch_user(scim, u["id"], {"op": "Replace", "value": {
        "displayName": "Jane Doe",
        "name.givenName": "Jane",
        f"{ENTERPRISE}:employeeNumber": "1234",
    }})
    assert b["displayName"] == "Jane Doe"
    assert b["name"] == {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "Jane"}
    assert b[ENTERPRISE] == {"department": "Sales", "employeeNumber": "1234"}
    assert ENTERPRISE in b["schemas"]
    doc = db_user(app, u["id"]).doc
    assert doc["name"]["givenName"] == "Jane" and doc["name"]["familyName"] == "familyName"
    assert doc[ENTERPRISE] == {"department": "Sales", "employeeNumber": "1234"}


def test_pathless_replace_urn_key_on_user_without_extension(scim):
    """The enterprise URN key creates the extension when the user had none."""
    u = create_user(scim, schemas=[CORE_USER])
    assert ENTERPRISE not in u
    b = patch_user(scim, u["id"], {"op": "Replace", "value": {f"{ENTERPRISE}:employeeNumber": "42"}})
    assert b[ENTERPRISE] == {"employeeNumber": "42"}
    assert b["schemas"] == [CORE_USER, ENTERPRISE]


def test_add_on_single_valued_attribute_replaces(app, scim):
    """Entra uses Add on single-valued attributes (displayName, title): it behaves as replace."""
    u = create_user(scim, displayName="First", title="Intern")
    b = patch_user(scim, u["id"],
                   {"op": "Add", "path": "displayName", "value": "Second"},
                   {"op": "Add", "path": "title", "value": "Engineer"})
    assert b["displayName"] == "Second"
    assert b["title"] == "Engineer"
    row = db_user(app, u["id"])
    assert row.display_name == "Second" and row.doc["title"] == "Engineer"


def test_manager_as_bare_id(app, scim):
    """Entra sets the manager with {"op":"Add","path":"urn:...:enterprise:2.0:User:manager","value":"<id>"};
    it is stored and returned as {"value": "<id>"}; Remove clears it."""
    boss = create_user(scim, "boss@contoso.com")["id"]
    boss2 = create_user(scim, "boss2@contoso.com")["id"]
    u = create_user(scim, "report@contoso.com")
    b = patch_user(scim, u["id"], {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": boss})
    assert b[ENTERPRISE]["manager"] == {"value": boss}
    assert db_user(app, u["id"]).doc[ENTERPRISE]["manager"] == {"value": boss}
    assert body_of(scim.get(f"/Users/{u['id']}"))[ENTERPRISE]["manager"] == {"value": boss}
    b = patch_user(scim, u["id"], {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": boss2})
    assert b[ENTERPRISE]["manager"] == {"value": boss2}
    b = patch_user(scim, u["id"], {"op": "Remove", "path": f"{ENTERPRISE}:manager"})
    assert "manager" not in b.get(ENTERPRISE, {})
    assert "manager" not in db_user(app, u["id"]).doc.get(ENTERPRISE, {})


def test_manager_as_bare_id_in_post(app, scim):
    """A manager sent as a bare id in a POST body is stored as {"value": id} as well."""
    boss = create_user(scim, "chief@contoso.com")["id"]
    u = create_user(scim, "staff@contoso.com", **{ENTERPRISE: {"manager": boss}})
    assert u[ENTERPRISE]["manager"] == {"value": boss}
    assert db_user(app, u["id"]).doc[ENTERPRISE]["manager"] == {"value": boss}


def test_delete_user(app, scim):
    """Entra "Delete User": DELETE /Users/{id} -> 204 with no body; the user and its memberships are gone."""
    u = create_user(scim)
    g = create_group(scim, "Gone Member", [u["id"]])
    r = scim.delete(f"/Users/{u['id']}")
    assert r.status_code == 204
    assert r.data == b""
    assert_error(scim.get(f"/Users/{u['id']}"), 404)
    assert db_user(app, u["id"]) is None
    assert db_members(app, g["id"]) == set()


# ---- groups ----------------------------------------------------------------------------------

def test_create_group_with_microsoft_schema(app, scim):
    """Entra "Create Group": schemas lists the core Group schema and Microsoft's ADSCIM Group schema;
    the extra URN is tolerated -> 201."""
    r = scim.post("/Groups", {
        "schemas": [CORE_GROUP, MS_GROUP],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"},
    })
    assert r.status_code == 201, r.data
    g = body_of(r)
    assert g["displayName"] == "displayName"
    assert g["externalId"] == "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    assert g["schemas"] == [CORE_GROUP]
    assert g.get("members", []) == []
    assert r.headers["Location"] == g["meta"]["location"]
    with app.app_context():
        row = db.session.get(Group, g["id"])
        assert row.display_name == "displayName"
        assert row.external_id == "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"


def test_get_group_by_display_name_excluding_members(scim):
    """Entra "Get Group by displayName": GET /Groups?excludedAttributes=members&filter=displayName eq "..."
    returns the group without members; GET /Groups/{id}?excludedAttributes=members likewise."""
    u1, u2 = create_user(scim)["id"], create_user(scim)["id"]
    g = create_group(scim, "Excluded Members", [u1, u2])
    assert {m["value"] for m in g["members"]} == {u1, u2}
    r = scim.get("/Groups?" + qs(excludedAttributes="members", filter='displayName eq "Excluded Members"'))
    assert r.status_code == 200
    b = body_of(r)
    assert b["totalResults"] == 1
    res = b["Resources"][0]
    assert res["id"] == g["id"] and res["displayName"] == "Excluded Members"
    assert "members" not in res
    r = scim.get(f"/Groups/{g['id']}?excludedAttributes=members")
    assert r.status_code == 200
    one = body_of(r)
    assert "members" not in one and one["displayName"] == "Excluded Members"
    full = body_of(scim.get(f"/Groups/{g['id']}"))
    assert {m["value"] for m in full["members"]} == {u1, u2}


def test_update_group_display_name(app, scim):
    """Entra "Update Group [Non-member attributes]": Replace displayName -> 204."""
    g = create_group(scim, "Before Rename")
    r = scim.patch(f"/Groups/{g['id']}", patch_op({"op": "Replace", "path": "displayName", "value": "After Rename"}))
    assert r.status_code == 204, r.data
    assert body_of(scim.get(f"/Groups/{g['id']}"))["displayName"] == "After Rename"
    with app.app_context():
        assert db.session.get(Group, g["id"]).display_name_ci == "after rename"


def test_add_members_with_null_ref(app, scim):
    """Entra "Update Group [Add Members]": Add members with values [{"$ref": null, "value": id}] -> 204."""
    u1, u2 = create_user(scim)["id"], create_user(scim)["id"]
    g = create_group(scim, "Null Ref")
    r = scim.patch(f"/Groups/{g['id']}", patch_op({"op": "Add", "path": "members",
                                                  "value": [{"$ref": None, "value": u1}]}))
    assert r.status_code == 204, r.data
    assert db_members(app, g["id"]) == {u1}
    r = scim.patch(f"/Groups/{g['id']}", patch_op({"op": "Add", "path": "members",
                                                  "value": [{"$ref": None, "value": u2}]}))
    assert r.status_code == 204, r.data
    assert db_members(app, g["id"]) == {u1, u2}
    # Adding a present member again changes nothing.
    r = scim.patch(f"/Groups/{g['id']}", patch_op({"op": "Add", "path": "members",
                                                  "value": [{"$ref": None, "value": u1}]}))
    assert r.status_code == 204, r.data
    assert db_members(app, g["id"]) == {u1, u2}
    u = body_of(scim.get(f"/Users/{u1}"))
    assert [(x["value"], x["display"], x["type"]) for x in u["groups"]] == [(g["id"], "Null Ref", "direct")]


def test_remove_members_by_value_list_removes_only_those(app, scim):
    """Entra "Update Group [Remove Members]": Remove with path members and value [{"$ref": null, "value": id}]
    removes only the listed members, not all of them."""
    u1, u2, u3 = (create_user(scim)["id"] for _ in range(3))
    g = create_group(scim, "Remove By Value", [u1, u2, u3])
    r = scim.patch(f"/Groups/{g['id']}", patch_op({"op": "Remove", "path": "members",
                                                  "value": [{"$ref": None, "value": u1}]}))
    assert r.status_code == 204, r.data
    assert db_members(app, g["id"]) == {u2, u3}
    assert {m["value"] for m in body_of(scim.get(f"/Groups/{g['id']}"))["members"]} == {u2, u3}
    # By path filter.
    r = scim.patch(f"/Groups/{g['id']}", patch_op({"op": "Remove", "path": f'members[value eq "{u2}"]'}))
    assert r.status_code == 204, r.data
    assert db_members(app, g["id"]) == {u3}
    # Removing a member that is not there is not an error and changes nothing.
    r = scim.patch(f"/Groups/{g['id']}", patch_op({"op": "Remove", "path": "members",
                                                  "value": [{"$ref": None, "value": u1}]}))
    assert r.status_code == 204, r.data
    assert db_members(app, g["id"]) == {u3}
    assert body_of(scim.get(f"/Users/{u1}")).get("groups", []) == []


def test_remove_several_members_in_one_operation(app, scim):
    """Entra batches removals: one Remove whose value lists several members."""
    ids = [create_user(scim)["id"] for _ in range(4)]
    g = create_group(scim, "Batch", ids)
    r = scim.patch(f"/Groups/{g['id']}", patch_op({"op": "Remove", "path": "members",
                                                  "value": [{"$ref": None, "value": ids[0]},
                                                            {"$ref": None, "value": ids[2]}]}))
    assert r.status_code == 204, r.data
    assert db_members(app, g["id"]) == {ids[1], ids[3]}


def test_delete_group(app, scim):
    """Entra "Delete Group": DELETE /Groups/{id} -> 204."""
    u = create_user(scim)["id"]
    g = create_group(scim, "Delete Me", [u])
    r = scim.delete(f"/Groups/{g['id']}")
    assert r.status_code == 204
    assert_error(scim.get(f"/Groups/{g['id']}"), 404)
    with app.app_context():
        assert db.session.get(Group, g["id"]) is None
    assert db_members(app, g["id"]) == set()
    assert scim.get(f"/Users/{u}").status_code == 200


# ---- the Tenant URL flag, media types --------------------------------------------------------

def test_aad_opt_flag_ignored_on_every_verb(app, scim):
    """The Tenant URL may carry ?aadOptscim062020; the flag is ignored on GET, POST, PUT, PATCH and DELETE."""
    r = scim.get(f"/Users?{FLAG}&" + qs(filter=f'userName eq "{uuid.uuid4()}"'))
    assert r.status_code == 200, r.data
    assert body_of(r)["totalResults"] == 0

    r = scim.post(f"/Users?{FLAG}", entra_user("flag.user@contoso.com"))
    assert r.status_code == 201, r.data
    u = body_of(r)
    uid = u["id"]

    r = scim.get(f"/Users?{FLAG}&" + qs(filter='userName eq "flag.user@contoso.com"'))
    assert [x["id"] for x in body_of(r)["Resources"]] == [uid]
    r = scim.get(f"/Users/{uid}?{FLAG}")
    assert r.status_code == 200 and body_of(r)["id"] == uid

    r = scim.patch(f"/Users/{uid}?{FLAG}", patch_op({"op": "replace", "path": "active", "value": False}))
    assert r.status_code == 200, r.data
    assert body_of(r)["active"] is False

    put_body = entra_user("flag.user@contoso.com", externalId=u["externalId"], title="Flagged")
    r = scim.put(f"/Users/{uid}?{FLAG}", put_body)
    assert r.status_code == 200, r.data
    assert body_of(r)["title"] == "Flagged"

    r = scim.post(f"/Groups?{FLAG}", {"schemas": [CORE_GROUP, MS_GROUP], "displayName": "Flag Group"})
    assert r.status_code == 201, r.data
    gid = body_of(r)["id"]
    r = scim.get(f"/Groups?{FLAG}&" + qs(excludedAttributes="members", filter='displayName eq "Flag Group"'))
    assert r.status_code == 200 and body_of(r)["totalResults"] == 1
    r = scim.patch(f"/Groups/{gid}?{FLAG}", patch_op({"op": "Add", "path": "members", "value": [{"value": uid}]}))
    assert r.status_code == 204, r.data
    assert db_members(app, gid) == {uid}
    r = scim.get(f"/Groups/{gid}?{FLAG}")
    assert r.status_code == 200 and {m["value"] for m in body_of(r)["members"]} == {uid}

    assert scim.delete(f"/Groups/{gid}?{FLAG}").status_code == 204
    assert scim.delete(f"/Users/{uid}?{FLAG}").status_code == 204
    assert db_user(app, uid) is None


@pytest.mark.parametrize("content_type", ["application/scim+json; charset=utf-8", "application/json",
                                          "application/json; charset=utf-8"])
def test_bodies_with_charset_content_type(app, scim, content_type):
    """Entra sends bodies as application/scim+json; charset=utf-8 (and some requests as application/json);
    non-ASCII text arrives intact."""
    h = {"Content-Type": content_type}
    body = entra_user("zoë.ångström@contoso.com", name={"givenName": "Zoë", "familyName": "Ångström"})
    r = scim.request("POST", "/Users", raw=json.dumps(body, ensure_ascii=False).encode("utf-8"), headers=h)
    assert r.status_code == 201, r.data
    assert r.headers["Content-Type"].startswith(SCIM_JSON)
    u = body_of(r)
    assert u["userName"] == "zoë.ångström@contoso.com"
    assert u["name"] == {"givenName": "Zoë", "familyName": "Ångström"}
    r = scim.request("PATCH", f"/Users/{u['id']}", headers=h, raw=json.dumps(
        patch_op({"op": "Replace", "path": "displayName", "value": "Zoë Å"}), ensure_ascii=False).encode("utf-8"))
    assert r.status_code == 200, r.data
    assert body_of(r)["displayName"] == "Zoë Å"
    assert db_user(app, u["id"]).display_name == "Zoë Å"
    b = find(scim, "Users", 'userName eq "ZOË.ÅNGSTRÖM@contoso.com"')
    assert [x["id"] for x in b["Resources"]] == [u["id"]]


def test_every_response_is_scim_json(scim, client):
    """Every SCIM response carries Content-Type application/scim+json: successes, errors, and 204s
    (which may also carry no Content-Type at all, having no body)."""
    responses = []

    def keep(r):
        responses.append(r)
        return r

    u = body_of(keep(scim.post("/Users", entra_user("ct@contoso.com"))))
    keep(scim.get(f"/Users/{u['id']}"))
    keep(scim.get("/Users?" + qs(filter='userName eq "ct@contoso.com"')))
    keep(scim.patch(f"/Users/{u['id']}", patch_op({"op": "Replace", "path": "title", "value": "T"})))
    keep(scim.put(f"/Users/{u['id']}", entra_user("ct@contoso.com")))
    g = body_of(keep(scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "CT"})))
    no_body = [keep(scim.patch(f"/Groups/{g['id']}", patch_op({"op": "Add", "path": "members",
                                                               "value": [{"value": u["id"]}]})))]
    keep(scim.post("/Users", entra_user("CT@contoso.com")))  # 409
    keep(scim.get(f"/Users/{uuid.uuid4()}"))  # 404
    keep(scim.get("/Users?" + qs(filter='userName eq')))  # 400
    keep(client.get("/scim/v2/Users"))  # 401
    keep(scim.patch(f"/Users/{u['id']}", raw="not json"))  # 400
    no_body.append(keep(scim.delete(f"/Groups/{g['id']}")))
    no_body.append(keep(scim.delete(f"/Users/{u['id']}")))
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 200, 201, 204, 409, 404, 400, 401, 400,
                                                  204, 204]
    for r in responses:
        if r in no_body:
            assert r.data == b""
            ct = r.headers.get("Content-Type")
            assert ct is None or ct.startswith(SCIM_JSON), (r.status_code, ct)
        else:
            assert r.headers["Content-Type"].startswith(SCIM_JSON), (r.status_code, r.headers["Content-Type"])
            r.get_json(force=True)


def test_tenant_isolation_of_groups(app, scim, other_scim):
    """Entra's token for one tenant sees nothing of another tenant's groups or users."""
    u = create_user(scim, "acme.only@contoso.com")
    g = create_group(scim, "Acme Group", [u["id"]])
    assert_error(other_scim.get(f"/Groups/{g['id']}?excludedAttributes=members"), 404)
    assert_error(other_scim.patch(f"/Groups/{g['id']}", patch_op(
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": u["id"]}]})), 404)
    assert_error(other_scim.patch(f"/Users/{u['id']}", patch_op(
        {"op": "Replace", "path": "active", "value": "False"})), 404)
    assert_error(other_scim.delete(f"/Users/{u['id']}"), 404)
    b = find(other_scim, "Groups", 'displayName eq "Acme Group"', excludedAttributes="members")
    assert (b["totalResults"], b["Resources"]) == (0, [])
    for flt in ('userName eq "acme.only@contoso.com"', f'externalId eq "{u["externalId"]}"'):
        assert find(other_scim, "Users", flt)["totalResults"] == 0
    assert db_members(app, g["id"]) == {u["id"]}
    assert db_user(app, u["id"]).active is True
