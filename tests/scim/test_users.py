"""Users: RFC 7644 §3.3 create, §3.4.1 read, §3.5.1 replace, §3.6 delete, on real HTTP and real rows."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from scim_authz.db.extensions import db
from scim_authz.db.models import User
from scim_authz.scim.schema_defs import ENTERPRISE_USER, USER
from tests.conftest import patch_op

BJENSEN = {
    "schemas": [USER, ENTERPRISE_USER],
    "userName": "bjensen@example.com",
    "externalId": "701984",
    "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen III"},
    "displayName": "Babs Jensen",
    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
    "active": True,
    ENTERPRISE_USER: {"employeeNumber": "701984", "department": "Tour Operations"},
}


def create(scim, body=None, **overrides):
    r = scim.post("/Users", {**(body or BJENSEN), **overrides})
    assert r.status_code == 201, r.get_json(force=True)
    return r.get_json(force=True)


def test_create_returns_full_user_with_meta_and_headers(scim):
    """RFC 7644 §3.3: 201, the resource, Location and ETag; RFC 7643 §3.1 meta."""
    r = scim.post("/Users", BJENSEN)
    assert r.status_code == 201
    assert r.headers["Content-Type"].startswith("application/scim+json")
    u = r.get_json(force=True)
    assert u["userName"] == "bjensen@example.com"
    assert u["name"]["familyName"] == "Jensen"
    assert u[ENTERPRISE_USER]["employeeNumber"] == "701984"
    assert u["schemas"] == [USER, ENTERPRISE_USER]
    assert u["meta"]["resourceType"] == "User"
    assert u["meta"]["location"] == f"http://localhost/scim/v2/Users/{u['id']}"
    assert r.headers["Location"] == u["meta"]["location"]
    assert r.headers["ETag"] == u["meta"]["version"] == 'W/"1"'
    assert u["meta"]["created"].endswith("Z")


def test_rfc_full_user_sample_round_trips(scim, sample):
    """RFC 7643 §8.2: the full user representation is accepted and read back unchanged."""
    body = sample("rfc7643_8.2_full_user.json")
    for key in ("id", "meta", "groups"):
        body.pop(key, None)
    created = create(scim, body)
    got = scim.get(f"/Users/{created['id']}").get_json(force=True)
    for key in ("userName", "name", "emails", "addresses", "phoneNumbers", "ims", "photos", "x509Certificates"):
        if key in body:
            assert got[key] == body[key], key
    assert "password" not in got


def test_password_is_never_stored_or_returned(app, scim):
    u = create(scim, password="t1meMa$heen")
    assert "password" not in u
    assert "password" not in scim.get(f"/Users/{u['id']}").get_json(force=True)
    with app.app_context():
        assert "password" not in db.session.get(User, u["id"]).doc


@pytest.mark.parametrize("other", ["bjensen@example.com", "BJensen@Example.COM"])
def test_duplicate_username_is_409_uniqueness_case_insensitively(app, scim, other):
    """RFC 7643 §4.1.1: userName is unique, caseExact false; RFC 7644 §3.3: 409 uniqueness."""
    create(scim)
    r = scim.post("/Users", {**BJENSEN, "userName": other})
    assert r.status_code == 409
    body = r.get_json(force=True)
    assert body["scimType"] == "uniqueness" and body["status"] == "409"
    with app.app_context():
        assert db.session.query(User).count() == 1


@pytest.mark.parametrize("body,scim_type", [
    ({"schemas": [USER]}, "invalidValue"),
    ({"userName": ""}, "invalidValue"),
    ({"userName": 42}, "invalidValue"),
    ({"userName": "a", "active": "maybe"}, "invalidValue"),
    ({"userName": "a", "emails": "not-a-list-of-objects"}, "invalidValue"),
    ({"userName": "a", "meta": {"created": "x"}, "name": "Barbara"}, "invalidValue"),
    ([1, 2], "invalidSyntax"),
])
def test_bad_bodies_are_400_and_write_nothing(app, scim, body, scim_type):
    r = scim.post("/Users", body)
    assert r.status_code == 400
    assert r.get_json(force=True)["scimType"] == scim_type
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_malformed_json_is_invalid_syntax(scim):
    r = scim.post("/Users", raw='{"userName": "a",')
    assert r.status_code == 400
    body = r.get_json(force=True)
    assert body["scimType"] == "invalidSyntax"
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_read_only_attributes_in_post_are_ignored(scim):
    """RFC 7644 §3.3: the server ignores read-only attributes such as id, meta and groups."""
    u = create(scim, id="chosen-by-client", meta={"version": 'W/"99"'}, groups=[{"value": "x"}])
    assert u["id"] != "chosen-by-client"
    assert u["meta"]["version"] == 'W/"1"'
    assert "groups" not in u


def test_attribute_names_are_case_insensitive(scim):
    u = create(scim, {"USERNAME": "carol", "Name": {"GIVENNAME": "Carol"}, "DisplayName": "C"})
    assert u["userName"] == "carol" and u["name"] == {"givenName": "Carol"} and u["displayName"] == "C"


def test_put_replaces_and_bumps_version(app, scim):
    """RFC 7644 §3.5.1: PUT replaces the writable attributes; attributes left out are cleared."""
    u = create(scim)
    r = scim.put(f"/Users/{u['id']}", {"schemas": [USER], "userName": "bjensen@example.com",
                                         "displayName": "Barbara", "active": False})
    assert r.status_code == 200
    got = r.get_json(force=True)
    assert got["displayName"] == "Barbara" and got["active"] is False
    assert "emails" not in got and ENTERPRISE_USER not in got
    assert got["meta"]["version"] == 'W/"2"' == r.headers["ETag"]
    assert got["meta"]["created"] == u["meta"]["created"]
    with app.app_context():
        assert db.session.get(User, u["id"]).active is False


def test_put_with_another_id_is_mutability(scim):
    u = create(scim)
    r = scim.put(f"/Users/{u['id']}", {**BJENSEN, "id": "something-else"})
    assert r.status_code == 400 and r.get_json(force=True)["scimType"] == "mutability"


def test_put_renaming_onto_a_taken_username_is_409(scim):
    a = create(scim)
    create(scim, userName="other")
    r = scim.put(f"/Users/{a['id']}", {**BJENSEN, "userName": "OTHER"})
    assert r.status_code == 409


def test_delete_is_204_then_404(app, scim):
    u = create(scim)
    assert scim.delete(f"/Users/{u['id']}").status_code == 204
    r = scim.get(f"/Users/{u['id']}")
    assert r.status_code == 404 and r.get_json(force=True)["status"] == "404"
    with app.app_context():
        assert db.session.get(User, u["id"]) is None


def test_enterprise_manager_bare_id_is_stored_as_value(scim):
    boss = create(scim, userName="boss")
    u = create(scim, {"userName": "worker", ENTERPRISE_USER: {"manager": boss["id"]}})
    assert u[ENTERPRISE_USER]["manager"] == {"value": boss["id"]}
    filtered = scim.get(f'/Users?filter={ENTERPRISE_USER}:manager.value eq "{boss["id"]}"').get_json(force=True)
    assert [r["userName"] for r in filtered["Resources"]] == ["worker"]


@pytest.mark.parametrize("spelling", ["manager", f"{ENTERPRISE_USER}:manager"])
def test_entras_manager_check_compares_the_managers_value(scim, spelling):
    """Before it changes a manager, Entra ID asks whether the user already has that one:
    `id eq "<user>" and manager eq "<manager id>"` (no sub-attribute: the manager's value)."""
    boss, other = create(scim, userName="boss"), create(scim, userName="other")
    u = create(scim, {"userName": "worker", ENTERPRISE_USER: {"manager": {"value": boss["id"]}}})
    query = "/Users?attributes=id&filter=" + quote(f'id eq "{u["id"]}" and {spelling} eq "{boss["id"]}"')
    found = scim.get(query).get_json(force=True)
    assert found["totalResults"] == 1 and [r["id"] for r in found["Resources"]] == [u["id"]]
    query = "/Users?attributes=id&filter=" + quote(f'id eq "{u["id"]}" and {spelling} eq "{other["id"]}"')
    assert scim.get(query).get_json(force=True)["totalResults"] == 0
    bad = scim.get("/Users?filter=" + quote('name eq "x"'))  # a complex attribute with no value
    assert bad.status_code == 400 and bad.get_json(force=True)["scimType"] == "invalidFilter"


def test_patch_changes_one_attribute_atomically(app, scim):
    """RFC 7644 §3.5.2: a failing operation leaves the resource exactly as it was."""
    u = create(scim)
    r = scim.patch(f"/Users/{u['id']}", patch_op(
        {"op": "replace", "path": "displayName", "value": "New"},
        {"op": "replace", "path": "id", "value": "x"}))
    assert r.status_code == 400 and r.get_json(force=True)["scimType"] == "mutability"
    got = scim.get(f"/Users/{u['id']}").get_json(force=True)
    assert got["displayName"] == "Babs Jensen" and got["meta"]["version"] == 'W/"1"'
    r = scim.patch(f"/Users/{u['id']}", patch_op({"op": "replace", "path": "displayName", "value": "New"}))
    assert r.status_code == 200
    assert r.get_json(force=True)["displayName"] == "New"
    with app.app_context():
        assert db.session.get(User, u["id"]).display_name == "New"


@pytest.mark.parametrize("ops,scim_type", [
    ([{"op": "replace", "path": "nosuch", "value": 1}], "invalidPath"),
    ([{"op": "replace", "path": 'emails[type eq "work"', "value": 1}], "invalidPath"),
    ([{"op": "remove"}], "noTarget"),
    ([{"op": "replace", "path": "groups", "value": []}], "mutability"),
    ([{"op": "replace", "path": "active", "value": "perhaps"}], "invalidValue"),
    ([{"op": "jump", "path": "active", "value": True}], "invalidSyntax"),
    ([], "invalidSyntax"),
])
def test_patch_errors(scim, ops, scim_type):
    u = create(scim)
    r = scim.patch(f"/Users/{u['id']}", patch_op(*ops))
    assert r.status_code == 400
    assert r.get_json(force=True)["scimType"] == scim_type


def test_patch_unknown_user_is_404(scim):
    r = scim.patch("/Users/does-not-exist", patch_op({"op": "replace", "path": "active", "value": False}))
    assert r.status_code == 404
