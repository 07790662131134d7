"""Discovery: RFC 7644 §4 — ServiceProviderConfig, ResourceTypes, Schemas."""
from __future__ import annotations

from scim_authz.scim.schema_defs import ENTERPRISE_USER, GROUP, USER


def test_service_provider_config_says_what_is_supported(app, scim):
    spc = scim.get("/ServiceProviderConfig").get_json(force=True)
    assert spc["patch"]["supported"] and spc["filter"]["supported"] and spc["sort"]["supported"]
    assert spc["etag"]["supported"] and spc["bulk"]["supported"]
    assert spc["bulk"]["maxOperations"] == app.config["SCIM_BULK_MAX_OPERATIONS"]
    assert spc["bulk"]["maxPayloadSize"] == app.config["SCIM_BULK_MAX_PAYLOAD"]
    assert spc["changePassword"]["supported"] is False
    assert spc["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_resource_types(scim):
    body = scim.get("/ResourceTypes").get_json(force=True)
    assert {r["id"] for r in body["Resources"]} == {"User", "Group"}
    user = scim.get("/ResourceTypes/User").get_json(force=True)
    assert user["schema"] == USER and user["schemaExtensions"] == [{"schema": ENTERPRISE_USER, "required": False}]
    assert scim.get("/ResourceTypes/Widget").status_code == 404


def test_schemas(scim):
    body = scim.get("/Schemas").get_json(force=True)
    assert {s["id"] for s in body["Resources"]} == {USER, GROUP, ENTERPRISE_USER}
    user = scim.get(f"/Schemas/{USER}").get_json(force=True)
    names = {a["name"] for a in user["attributes"]}
    assert {"userName", "name", "emails", "active", "groups", "password"} <= names
    username = next(a for a in user["attributes"] if a["name"] == "userName")
    assert username["uniqueness"] == "server" and username["caseExact"] is False and username["required"]
    assert scim.get("/Schemas/urn:nope").status_code == 404


def test_discovery_needs_a_token(client):
    assert client.get("/scim/v2/ServiceProviderConfig").status_code == 401
