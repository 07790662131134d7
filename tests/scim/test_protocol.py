"""Protocol: authentication and tenant isolation, media types, errors, ETags (RFC 7644 §3.1, §3.12, §3.14)."""
from __future__ import annotations

import pytest

from scim_authz.db.extensions import db
from scim_authz.db.models import User
from tests.conftest import SCIMClient, patch_op


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "bearer scim_wrong"])
def test_no_valid_token_is_401_with_scim_body(client, tenant, header):
    headers = {"Authorization": header} if header else {}
    r = client.get("/scim/v2/Users", headers=headers)
    assert r.status_code == 401
    assert r.headers["Content-Type"].startswith("application/scim+json")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    body = r.get_json(force=True)
    assert body["status"] == "401" and body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_revoked_token_is_401(app, client, tenant):
    from scim_authz.credentials.keys import revoke_credential
    from scim_authz.db.models import Credential, Tenant
    with app.app_context():
        cred = db.session.query(Credential).one()
        revoke_credential(db.session.get(Tenant, tenant[0]), cred.id)
        db.session.commit()
    assert SCIMClient(client, tenant[1]).get("/Users").status_code == 401


def test_token_is_stored_as_hash_only(app, tenant):
    from scim_authz.db.models import Credential
    with app.app_context():
        cred = db.session.query(Credential).one()
        assert tenant[1] not in (cred.secret_hash, cred.prefix) and len(cred.secret_hash) == 64
        assert tenant[1].startswith(cred.prefix)


def test_tenants_are_isolated(app, scim, other_scim):
    uid = scim.post("/Users", {"userName": "alice"}).get_json(force=True)["id"]
    assert other_scim.get(f"/Users/{uid}").status_code == 404
    assert other_scim.put(f"/Users/{uid}", {"userName": "mallory"}).status_code == 404
    assert other_scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "active",
                                                        "value": False})).status_code == 404
    assert other_scim.delete(f"/Users/{uid}").status_code == 404
    assert other_scim.get('/Users?filter=userName eq "alice"').get_json(force=True)["totalResults"] == 0
    assert other_scim.get("/Users").get_json(force=True)["totalResults"] == 0
    # The same userName may exist in both tenants.
    assert other_scim.post("/Users", {"userName": "alice"}).status_code == 201
    with app.app_context():
        u = db.session.get(User, uid)
        assert u.user_name == "alice" and u.active is True


def test_unknown_endpoint_and_method_have_scim_bodies(scim):
    r = scim.get("/Widgets")
    assert r.status_code == 404 and r.get_json(force=True)["status"] == "404"
    r = scim.request("PATCH", "/Users")
    assert r.status_code == 405 and r.get_json(force=True)["status"] == "405"
    assert r.headers["Content-Type"].startswith("application/scim+json")


def test_charset_in_content_type_and_no_headers_at_all(scim, client, tenant):
    r = scim.post("/Users", {"userName": "x"}, headers={"Content-Type": "application/scim+json; charset=utf-8"})
    assert r.status_code == 201
    r = client.get("/scim/v2/Users?filter=userName eq \"x\"", headers={"Authorization": f"Bearer {tenant[1]}"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/scim+json")


def test_if_none_match_gives_304_and_if_match_mismatch_412(app, scim):
    """RFC 7644 §3.14."""
    u = scim.post("/Users", {"userName": "v"}).get_json(force=True)
    tag = u["meta"]["version"]
    assert scim.get(f"/Users/{u['id']}", headers={"If-None-Match": tag}).status_code == 304
    assert scim.get(f"/Users/{u['id']}", headers={"If-None-Match": 'W/"7"'}).status_code == 200
    r = scim.put(f"/Users/{u['id']}", {"userName": "v", "displayName": "D"}, headers={"If-Match": 'W/"9"'})
    assert r.status_code == 412 and r.get_json(force=True)["status"] == "412"
    r = scim.patch(f"/Users/{u['id']}", patch_op({"op": "replace", "path": "displayName", "value": "D"}),
                   headers={"If-Match": 'W/"9"'})
    assert r.status_code == 412
    assert scim.delete(f"/Users/{u['id']}", headers={"If-Match": 'W/"9"'}).status_code == 412
    with app.app_context():
        assert db.session.get(User, u["id"]).display_name is None
    r = scim.put(f"/Users/{u['id']}", {"userName": "v", "displayName": "D"}, headers={"If-Match": tag})
    assert r.status_code == 200 and r.headers["ETag"] == 'W/"2"'


def test_unknown_query_flags_are_ignored(scim):
    assert scim.post("/Users?aadOptscim062020", {"userName": "flag"}).status_code == 201
    r = scim.get('/Users?aadOptscim062020&filter=userName eq "flag"')
    assert r.get_json(force=True)["totalResults"] == 1


def test_me_is_not_implemented(scim):
    assert scim.get("/Me").status_code == 501


def test_tenant_revision_advances_with_every_write(app, scim, tenant):
    from scim_authz.db.models import Tenant
    with app.app_context():
        before = db.session.get(Tenant, tenant[0]).revision
    uid = scim.post("/Users", {"userName": "r"}).get_json(force=True)["id"]
    scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "active", "value": False}))
    with app.app_context():
        assert db.session.get(Tenant, tenant[0]).revision == before + 2
