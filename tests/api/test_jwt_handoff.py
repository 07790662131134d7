"""Checks that name the end user by a JWT: verified against the tenant's settings, the user created on
first sight with the default role, found again after; refused tokens are 401 and create nothing."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from scim_authz.db.models import RoleAssignment, User
from tests.api._api_helpers import check, count, error, rows, scim_user

ISS = "https://idp.example.test/"
AUD = "api://acme-app"


@pytest.fixture(scope="module")
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk_of(k, kid="k1") -> dict:
    d = RSAAlgorithm.to_jwk(k.public_key(), as_dict=True)
    d.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return d


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**over) -> dict:
    now = int(time.time())
    base = {"iss": ISS, "aud": AUD, "sub": "idp|123", "email": "jo@example.com", "name": "Jo", "iat": now,
            "exp": now + 600}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def token(k, kid="k1", **over) -> str:
    return jwt.encode(claims(**over), k, algorithm="RS256", headers={"kid": kid})


def hand_made(header: dict, payload: dict, secret: bytes | None) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    sig = b"" if secret is None else hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


@pytest.fixture
def configured(api, key):
    assert api.post("/roles", {"key": "member", "permissions": ["document:view"]}).status_code == 201
    r = api.patch("/tenant", {"default_role": "member", "jwt": {
        "issuer": ISS, "audience": AUD, "jwks": {"keys": [jwk_of(key)]}, "user_claim": "sub",
        "username_claim": "email"}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["tenant"]["jwt"]["issuer"] == ISS
    return r.get_json()["revision"]


def jwt_check(api, tok, action="view", resource="document:1", **extra):
    return api.post("/check?explain=true", {"user": {"jwt": tok}, "action": action, "resource": resource, **extra})


def test_first_check_creates_the_user_with_the_default_role(app, api, tenant, key, configured):
    r = jwt_check(api, token(key))
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["allowed"] is True, body
    assert "role member" in body["explanation"]
    users = rows(app, User, tenant_id=tenant[0])
    assert len(users) == 1
    u = users[0]
    assert (u.external_id, u.user_name, u.display_name, u.active) == ("idp|123", "jo@example.com", "Jo", True)
    assert count(app, RoleAssignment, tenant_id=tenant[0], user_id=u.id) == 1
    assert body["revision"] >= configured + 1

    # the second check finds the same user
    r = jwt_check(api, token(key))
    assert r.status_code == 200 and r.get_json()["allowed"] is True
    assert count(app, User, tenant_id=tenant[0]) == 1
    assert count(app, RoleAssignment, tenant_id=tenant[0]) == 1
    # and the decision log names that user
    log = api.get("/decisions").get_json()["decisions"]
    assert [d["user"] for d in log] == [u.id, u.id]
    # the user is an ordinary user now
    assert check(api, "jo@example.com", "view", "document:1")["allowed"] is True
    assert api.get("/users/idp|123").get_json()["user"]["id"] == u.id


def test_jwt_user_matching_a_scim_user_is_found_not_duplicated(app, api, scim, tenant, key, configured):
    sid = scim_user(scim, "jo@example.com")
    r = jwt_check(api, token(key))
    assert r.status_code == 200
    assert count(app, User, tenant_id=tenant[0]) == 1
    assert api.get("/decisions").get_json()["decisions"][0]["user"] == sid
    # found by userName, the SCIM user does not get the default role
    assert r.get_json()["allowed"] is False


def test_without_default_role_the_new_user_has_no_role(app, api, tenant, key, configured):
    api.patch("/tenant", {"default_role": None})
    r = jwt_check(api, token(key, sub="idp|456", email="kim@example.com"))
    assert r.status_code == 200 and r.get_json()["allowed"] is False
    assert rows(app, User, tenant_id=tenant[0])[0].external_id == "idp|456"
    assert count(app, RoleAssignment, tenant_id=tenant[0]) == 0


def test_claims_are_visible_to_conditions(app, api, tenant, key, configured):
    api.post("/roles", {"key": "gold", "permissions": ["report:export"], "condition": 'user.claims.tier == "gold"'})
    api.patch("/tenant", {"default_role": "gold"})
    r = jwt_check(api, token(key, tier="gold"), "export", "report:1")
    assert r.status_code == 200 and r.get_json()["allowed"] is True, r.get_json()
    # the same user with a silver token
    r = jwt_check(api, token(key, tier="silver"), "export", "report:1")
    assert r.get_json()["allowed"] is False
    # top-level claims are visible too
    api.post("/roles", {"key": "beta", "permissions": ["feature:use"], "condition": 'user.beta == true'})
    uid = rows(app, User, tenant_id=tenant[0])[0].id
    api.post("/role-assignments", {"user": uid, "role": "beta"})
    assert jwt_check(api, token(key, beta=True), "use", "feature:x").get_json()["allowed"] is True
    # without a token there are no claims
    assert check(api, uid, "export", "report:1")["allowed"] is False
    assert count(app, User, tenant_id=tenant[0]) == 1


def test_bulk_and_lookup_accept_a_jwt(app, api, tenant, key, configured):
    tok = token(key)
    r = api.post("/check/bulk", {"checks": [{"user": {"jwt": tok}, "action": "view", "resource": "document:1"},
                                            {"user": {"jwt": tok}, "action": "edit", "resource": "document:1"}]})
    assert r.status_code == 200, r.get_json()
    assert [x["allowed"] for x in r.get_json()["results"]] == [True, False]
    assert count(app, User, tenant_id=tenant[0]) == 1
    r = api.post("/lookup/resources", {"user": {"jwt": tok}, "action": "view", "resource_type": "document"})
    assert r.status_code == 200, r.get_json()


def _refused(app, api, tenant, tok, reason_part: str):
    r = jwt_check(api, tok)
    err = error(r, 401, "invalid_user_token")
    assert reason_part in err["message"], err
    assert count(app, User, tenant_id=tenant[0]) == 0
    return err


def test_expired_token(app, api, tenant, key, configured):
    now = int(time.time())
    _refused(app, api, tenant, token(key, iat=now - 3600, exp=now - 600), "token expired")


def test_wrong_audience(app, api, tenant, key, configured):
    _refused(app, api, tenant, token(key, aud="api://someone-else"), "wrong audience")


def test_wrong_issuer(app, api, tenant, key, configured):
    _refused(app, api, tenant, token(key, iss="https://evil.example/"), "wrong issuer")


def test_signed_by_another_key(app, api, tenant, other_key, configured):
    _refused(app, api, tenant, token(other_key), "signature does not verify")


def test_alg_none(app, api, tenant, configured):
    _refused(app, api, tenant, hand_made({"alg": "none", "typ": "JWT"}, claims(), None), "algorithm none")
    _refused(app, api, tenant, hand_made({"alg": "NONE", "typ": "JWT", "kid": "k1"}, claims(), None),
             "algorithm none")


def test_algorithm_confusion(app, api, tenant, key, configured):
    """HS256 signed with the RSA public key (as the attacker knows it) must not verify."""
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    _refused(app, api, tenant, hand_made({"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims(), pem),
             "algorithm HS256 is not allowed for this key")
    _refused(app, api, tenant, hand_made({"alg": "HS256", "typ": "JWT"}, claims(), pem), "not allowed")


def test_unknown_kid_and_garbage(app, api, tenant, key, configured):
    _refused(app, api, tenant, token(key, kid="k2"), "unknown key id")
    _refused(app, api, tenant, "not.a.jwt", "malformed token")
    _refused(app, api, tenant, token(key, sub=None), "sub")


def test_tenant_without_jwt_config_is_401(app, api, tenant, key):
    api.post("/roles", {"key": "member", "permissions": ["document:view"]})
    api.patch("/tenant", {"default_role": "member"})
    err = _refused(app, api, tenant, token(key), "no JWT verification configured")
    assert err["status"] == 401


def test_jwt_settings_are_validated(api, key):
    err = error(api.patch("/tenant", {"jwt": {"issuer": ISS, "audience": AUD}}), 400)
    assert "jwt" in err["details"]
    err = error(api.patch("/tenant", {"jwt": {"audience": AUD, "jwks": {"keys": [jwk_of(key)]}}}), 400)
    assert "jwt" in err["details"]
    err = error(api.patch("/tenant", {"jwt": {"issuer": ISS, "audience": AUD, "jwks": {"keys": []},
                                              "jwks_url": "https://idp.example.test/jwks"}}), 400)
    assert "jwt" in err["details"]
    assert api.get("/tenant").get_json()["tenant"]["jwt"] is None


def test_an_hs256_secret_is_never_echoed(api):
    secret = "x" * 40
    r = api.patch("/tenant", {"jwt": {"issuer": ISS, "audience": AUD, "hs256_secret": secret}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["tenant"]["jwt"]["hs256_secret"] == "********"
    assert secret not in api.get("/tenant").get_data(as_text=True)


def test_hs256_tokens_verify_with_the_configured_secret(app, api, tenant):
    secret = "y" * 40
    api.post("/roles", {"key": "member", "permissions": ["document:view"]})
    api.patch("/tenant", {"default_role": "member", "jwt": {"issuer": ISS, "audience": AUD, "hs256_secret": secret}})
    tok = jwt.encode(claims(sub="hs|1", email="hs@example.com"), secret, algorithm="HS256")
    r = jwt_check(api, tok)
    assert r.status_code == 200 and r.get_json()["allowed"] is True, r.get_json()
    assert rows(app, User, tenant_id=tenant[0])[0].external_id == "hs|1"
    bad = jwt.encode(claims(sub="hs|2"), "z" * 40, algorithm="HS256")
    error(jwt_check(api, bad), 401, "invalid_user_token")
    assert count(app, User, tenant_id=tenant[0]) == 1
