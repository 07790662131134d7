"""End-user JWT verification: valid tokens per algorithm, the classic attacks, claims, and JWKS fetching."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from scim_authz.credentials import end_user_jwt as auth_jwt
from scim_authz.credentials import safe_fetch
from scim_authz.credentials.end_user_jwt import JWTError, jwt_configured, verify_end_user_jwt

ISS = "https://idp.example.test/"
AUD = "api://scim-authz"
NOW = 1_700_000_000
SECRET = "s" * 40


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**over) -> dict:
    base = {"iss": ISS, "aud": AUD, "sub": "user-1", "email": "u@example.test", "iat": NOW, "exp": NOW + 300}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def public_jwk(key, kid: str | None) -> dict:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk, alg = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "RS256"
    else:
        jwk, alg = ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "ES256"
    jwk.update({"use": "sig", "alg": alg})
    if kid is not None:
        jwk["kid"] = kid
    return jwk


def sign(key, alg: str, kid: str | None = None, **over) -> str:
    return jwt.encode(claims(**over), key, algorithm=alg, headers={"kid": kid} if kid else None)


def hand_made(header: dict, payload: dict, secret: bytes | None) -> str:
    """A token built by hand: HMAC-SHA256 with `secret`, or an empty signature when None."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    sig = b"" if secret is None else hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


def refused(token, settings, reason: str | None = None, **kw) -> str:
    with pytest.raises(JWTError) as info:
        verify_end_user_jwt(token, settings, now=kw.pop("now", NOW), **kw)
    if reason is not None:
        assert info.value.reason == reason
    return info.value.reason


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rsa_key2():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def settings(rsa_key, ec_key):
    return {"issuer": ISS, "audience": AUD, "jwks": {"keys": [public_jwk(rsa_key, "rsa1"), public_jwk(ec_key, "ec1")]},
            "jwks_url": None, "hs256_secret": None, "leeway_seconds": 30, "user_claim": "sub",
            "username_claim": "email"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    auth_jwt.clear_jwks_cache()
    yield
    auth_jwt.clear_jwks_cache()


# --- valid tokens --------------------------------------------------------------------------------

def test_valid_rs256(rsa_key, settings):
    got = verify_end_user_jwt(sign(rsa_key, "RS256", "rsa1"), settings, now=NOW)
    assert got["sub"] == "user-1" and got["email"] == "u@example.test"


def test_valid_es256(ec_key, settings):
    assert verify_end_user_jwt(sign(ec_key, "ES256", "ec1"), settings, now=NOW)["sub"] == "user-1"


def test_valid_hs256_when_configured():
    s = {"issuer": ISS, "audience": AUD, "hs256_secret": SECRET}
    assert verify_end_user_jwt(sign(SECRET, "HS256"), s, now=NOW)["sub"] == "user-1"


def test_hs256_alongside_jwks_verifies_with_the_secret_only(rsa_key, settings):
    settings["hs256_secret"] = SECRET
    assert verify_end_user_jwt(sign(SECRET, "HS256", "rsa1"), settings, now=NOW)["sub"] == "user-1"
    assert verify_end_user_jwt(sign(rsa_key, "RS256", "rsa1"), settings, now=NOW)["sub"] == "user-1"
    refused(sign("t" * 40, "HS256"), settings, "signature does not verify")


def test_audience_list_containing_ours_is_accepted(rsa_key, settings):
    token = sign(rsa_key, "RS256", "rsa1", aud=["other", AUD])
    assert verify_end_user_jwt(token, settings, now=NOW)["aud"] == ["other", AUD]


def test_no_kid_with_a_single_key_uses_it(rsa_key, settings):
    settings["jwks"] = {"keys": [public_jwk(rsa_key, None)]}
    assert verify_end_user_jwt(sign(rsa_key, "RS256"), settings, now=NOW)["sub"] == "user-1"


def test_no_kid_picks_the_only_key_of_the_tokens_algorithm(ec_key, settings):
    assert verify_end_user_jwt(sign(ec_key, "ES256"), settings, now=NOW)["sub"] == "user-1"


def test_default_now_is_the_clock(rsa_key, settings):
    token = sign(rsa_key, "RS256", "rsa1", iat=int(time.time()), exp=int(time.time()) + 60)
    assert verify_end_user_jwt(token, settings)["sub"] == "user-1"


# --- algorithms ---------------------------------------------------------------------------------

def test_hs256_refused_when_not_configured(settings):
    refused(sign(SECRET, "HS256", "rsa1"), settings, "algorithm HS256 is not allowed for this key")
    settings["jwks"]["keys"].pop()  # a single RSA key, token without kid
    refused(sign(SECRET, "HS256"), settings, "algorithm HS256 is not allowed for this key")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(settings, alg):
    refused(hand_made({"alg": alg, "typ": "JWT"}, claims(), None), settings, "algorithm none is never accepted")
    refused(hand_made({"alg": alg, "kid": "rsa1"}, claims(), None), settings, "algorithm none is never accepted")


def test_algorithm_confusion_hs256_with_rsa_public_key_is_refused(rsa_key, settings):
    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for header in ({"alg": "HS256", "kid": "rsa1"}, {"alg": "HS256", "typ": "JWT"}):
        if "kid" not in header:
            settings["jwks"] = {"keys": [public_jwk(rsa_key, "rsa1")]}
        refused(hand_made(header, claims(), pem), settings, "algorithm HS256 is not allowed for this key")


def test_algorithm_confusion_hs256_with_rsa_jwk_json_is_refused(rsa_key, settings):
    jwk = public_jwk(rsa_key, "rsa1")
    for secret in (json.dumps(jwk).encode(), json.dumps(settings["jwks"]).encode(), jwk["n"].encode()):
        refused(hand_made({"alg": "HS256", "kid": "rsa1"}, claims(), secret), settings,
                "algorithm HS256 is not allowed for this key")


def test_algorithm_confusion_with_an_hs256_secret_configured_is_refused(rsa_key, settings):
    # Even when HS256 is allowed, the public key is never the HMAC secret.
    settings["hs256_secret"] = SECRET
    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    refused(hand_made({"alg": "HS256", "kid": "rsa1"}, claims(), pem), settings, "signature does not verify")


def test_algorithm_confusion_es256_header_on_rsa_key_is_refused(ec_key, settings):
    refused(sign(ec_key, "ES256", "rsa1"), settings, "algorithm ES256 is not allowed for this key")


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256"])
def test_other_rsa_algorithms_are_refused(rsa_key, settings, alg):
    refused(sign(rsa_key, alg, "rsa1"), settings, f"algorithm {alg} is not allowed")


def test_es384_is_refused(settings):
    refused(sign(ec.generate_private_key(ec.SECP384R1()), "ES384", "ec1"), settings, "algorithm ES384 is not allowed")


def test_jwks_key_published_for_another_algorithm_is_not_used(rsa_key, settings):
    jwk = public_jwk(rsa_key, "rs384")
    jwk["alg"] = "RS384"
    settings["jwks"]["keys"].append(jwk)
    refused(sign(rsa_key, "RS256", "rs384"), settings, "unknown key id 'rs384'")


def test_symmetric_key_in_the_jwks_is_never_used(settings):
    settings["jwks"]["keys"].append({"kty": "oct", "kid": "oct1", "k": b64(SECRET.encode())})
    refused(sign(SECRET, "HS256", "oct1"), settings, "unknown key id 'oct1'")


def test_weird_alg_header_is_quoted_in_the_reason(settings):
    reason = refused(hand_made({"alg": "x\ny" * 20}, claims(), None), settings)
    assert "\n" not in reason and reason.startswith("algorithm 'x\\ny")


def test_only_hs256_configured_refuses_rs256(rsa_key):
    s = {"issuer": ISS, "audience": AUD, "hs256_secret": SECRET}
    refused(sign(rsa_key, "RS256", "rsa1"), s, "algorithm RS256 is not allowed for this key")


# --- signatures, keys and shape ------------------------------------------------------------------

def test_tampered_payload_is_refused(rsa_key, settings):
    header, _, sig = sign(rsa_key, "RS256", "rsa1").split(".")
    forged = b64(json.dumps(claims(sub="admin")).encode())
    refused(f"{header}.{forged}.{sig}", settings, "signature does not verify")


@pytest.mark.parametrize("alg,kid", [("RS256", "rsa1"), ("ES256", "ec1"), ("HS256", None)])
def test_tampered_signature_is_refused(rsa_key, ec_key, settings, alg, kid):
    settings["hs256_secret"] = SECRET
    token = sign({"RS256": rsa_key, "ES256": ec_key, "HS256": SECRET}[alg], alg, kid)
    head, payload, sig = token.split(".")
    middle = len(sig) // 2
    sig = sig[:middle] + ("A" if sig[middle] != "A" else "B") + sig[middle + 1:]
    refused(f"{head}.{payload}.{sig}", settings, "signature does not verify")


def test_signed_by_another_key_with_a_known_kid_is_refused(rsa_key2, settings):
    refused(sign(rsa_key2, "RS256", "rsa1"), settings, "signature does not verify")


def test_unknown_kid_is_refused(rsa_key, settings):
    refused(sign(rsa_key, "RS256", "abc"), settings, "unknown key id 'abc'")


def test_no_kid_with_two_keys_is_refused(rsa_key, rsa_key2, settings):
    settings["jwks"] = {"keys": [public_jwk(rsa_key, "a"), public_jwk(rsa_key2, "b")]}
    refused(sign(rsa_key, "RS256"), settings, "token has no kid and the JWKS has several keys")


def test_oversized_token_is_refused(rsa_key, settings):
    token = sign(rsa_key, "RS256", "rsa1", padding="x" * 20_000)
    refused(token, settings, "token too large")
    refused("a" * (16 * 1024 + 1), settings, "token too large")


@pytest.mark.parametrize("garbage", [
    "", "abc", "a.b", "a.b.c", "....", "..", "eyJ.eyJ.", "a.b.c.d.e", "ünïcode.x.y", " ", "Bearer x.y.z",
    b64(b"[1,2]") + "." + b64(b"{}") + ".",
    b64(b'{"alg":"RS256","kid":"rsa1"}') + ".!!!.AAAA", b64(b'{"alg":5}') + "." + b64(b"{}") + ".",
    b64(b'{"alg":"RS256","kid":7}') + "." + b64(b"{}") + ".", 123, None, b"a.b.c", ["a"],
])
def test_garbage_is_malformed(settings, garbage):
    refused(garbage, settings, "malformed token")


def test_signed_payload_that_is_not_an_object_is_malformed(rsa_key, settings):
    token = jwt.api_jws.encode(b"[1, 2]", rsa_key, algorithm="RS256", headers={"kid": "rsa1"})
    refused(token, settings, "malformed token")


# --- claims -------------------------------------------------------------------------------------

def test_expired_is_refused(rsa_key, settings):
    refused(sign(rsa_key, "RS256", "rsa1", exp=NOW - 31), settings, "token expired")


def test_expiry_within_leeway_is_accepted_and_leeway_comes_from_settings(rsa_key, settings):
    token = sign(rsa_key, "RS256", "rsa1", exp=NOW - 10)
    assert verify_end_user_jwt(token, settings, now=NOW)["sub"] == "user-1"
    settings["leeway_seconds"] = 0
    refused(token, settings, "token expired")


def test_not_yet_valid_nbf_is_refused(rsa_key, settings):
    refused(sign(rsa_key, "RS256", "rsa1", nbf=NOW + 120), settings, "token not yet valid")
    assert verify_end_user_jwt(sign(rsa_key, "RS256", "rsa1", nbf=NOW + 20), settings, now=NOW)


def test_issued_in_the_future_is_refused(rsa_key, settings):
    refused(sign(rsa_key, "RS256", "rsa1", iat=NOW + 120), settings, "token issued in the future")


def test_wrong_audience_is_refused(rsa_key, settings):
    refused(sign(rsa_key, "RS256", "rsa1", aud="someone-else"), settings, "wrong audience")
    refused(sign(rsa_key, "RS256", "rsa1", aud=["a", "b"]), settings, "wrong audience")


def test_wrong_issuer_is_refused(rsa_key, settings):
    refused(sign(rsa_key, "RS256", "rsa1", iss="https://evil.example.test/"), settings, "wrong issuer")


@pytest.mark.parametrize("claim", ["exp", "iss", "aud"])
def test_missing_required_claim_is_refused(rsa_key, settings, claim):
    refused(sign(rsa_key, "RS256", "rsa1", **{claim: None}), settings, f"token has no {claim} claim")


@pytest.mark.parametrize("exp", ["soon", True, 1e400])
def test_non_numeric_exp_is_refused(rsa_key, settings, exp):
    refused(sign(rsa_key, "RS256", "rsa1", exp=exp), settings)


# --- settings -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, {}, {"user_claim": "sub", "username_claim": "email", "leeway_seconds": 30}])
def test_no_settings_is_refused(rsa_key, value):
    assert not jwt_configured(value)
    refused(sign(rsa_key, "RS256", "rsa1"), value, "this tenant has no JWT verification configured")


@pytest.mark.parametrize("missing,reason", [("issuer", "no issuer set"), ("audience", "no audience set")])
def test_settings_missing_issuer_or_audience_are_refused(rsa_key, settings, missing, reason):
    del settings[missing]
    assert jwt_configured(settings)
    refused(sign(rsa_key, "RS256", "rsa1"), settings, f"JWT verification is misconfigured: {reason}")


@pytest.mark.parametrize("change,reason", [
    ({"jwks": None}, "no jwks, jwks_url or hs256_secret set"),
    ({"jwks_url": "http://127.0.0.1:9/jwks"}, "set either jwks or jwks_url, not both"),
    ({"jwks": None, "jwks_url": "file:///etc/passwd"}, "jwks_url must be an http(s) URL"),
    ({"jwks": None, "jwks_url": "ftp://127.0.0.1/jwks"}, "jwks_url must be an http(s) URL"),
    ({"jwks": {"nokeys": []}}, "jwks is not a JWKS (it needs a 'keys' list)"),
    ({"hs256_secret": "short"}, "hs256_secret must be at least 32 bytes"),
    ({"leeway_seconds": -1}, "leeway_seconds must be a non-negative number"),
    ({"leeway_seconds": "30"}, "leeway_seconds must be a non-negative number"),
])
def test_misconfigured_settings_are_refused(rsa_key, settings, change, reason):
    settings.update(change)
    refused(sign(rsa_key, "RS256", "rsa1"), settings, f"JWT verification is misconfigured: {reason}")


def test_jwks_without_usable_keys_is_refused(rsa_key, settings):
    settings["jwks"] = {"keys": [{"kty": "oct", "k": "abc"}, {"kty": "RSA", "use": "enc", "n": "x", "e": "AQAB"}]}
    refused(sign(rsa_key, "RS256"), settings, "the JWKS has no usable keys (RSA for RS256, or EC P-256 for ES256)")


def test_reasons_never_contain_the_token(rsa_key, settings):
    token = sign(rsa_key, "RS256", "rsa1", exp=NOW - 100)
    assert token not in refused(token, settings)


# --- JWKS over HTTP -----------------------------------------------------------------------------

class _JWKSState:
    def __init__(self):
        self.jwks: dict = {"keys": []}
        self.status = 200
        self.body: bytes | None = None
        self.requests = 0
        self.delay = 0.0
        self.url = ""
        self.location = ""


@pytest.fixture
def private_network(monkeypatch):
    """The test's JWKS server listens on 127.0.0.1: allow what AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS allows."""
    monkeypatch.setitem(auth_jwt.NETWORK, "allow_private", True)


@pytest.fixture
def jwks_server(private_network):
    state = _JWKSState()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            with lock:
                state.requests += 1
            time.sleep(state.delay)
            body = state.body if state.body is not None else json.dumps(state.jwks).encode()
            self.send_response(state.status)
            if state.location:
                self.send_header("Location", state.location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(auth_jwt, "_monotonic", lambda: now[0])
    return now


def url_settings(url: str) -> dict:
    return {"issuer": ISS, "audience": AUD, "jwks_url": url, "jwks": None}


def test_jwks_url_valid_token_verifies_and_keys_are_cached(rsa_key, jwks_server, clock):
    jwks_server.jwks = {"keys": [public_jwk(rsa_key, "rsa1")]}
    s = url_settings(jwks_server.url)
    assert verify_end_user_jwt(sign(rsa_key, "RS256", "rsa1"), s, now=NOW)["sub"] == "user-1"
    assert jwks_server.requests == 1
    for _ in range(3):
        verify_end_user_jwt(sign(rsa_key, "RS256", "rsa1"), s, now=NOW)
    assert jwks_server.requests == 1
    clock[0] += 301  # past the cache lifespan
    verify_end_user_jwt(sign(rsa_key, "RS256", "rsa1"), s, now=NOW)
    assert jwks_server.requests == 2


def test_jwks_url_rotated_key_triggers_one_refetch(rsa_key, rsa_key2, jwks_server, clock):
    jwks_server.jwks = {"keys": [public_jwk(rsa_key, "old")]}
    s = url_settings(jwks_server.url)
    verify_end_user_jwt(sign(rsa_key, "RS256", "old"), s, now=NOW)
    jwks_server.jwks = {"keys": [public_jwk(rsa_key, "old"), public_jwk(rsa_key2, "new")]}
    clock[0] += 1
    assert verify_end_user_jwt(sign(rsa_key2, "RS256", "new"), s, now=NOW)["sub"] == "user-1"
    assert jwks_server.requests == 2
    verify_end_user_jwt(sign(rsa_key2, "RS256", "new"), s, now=NOW)
    verify_end_user_jwt(sign(rsa_key, "RS256", "old"), s, now=NOW)
    assert jwks_server.requests == 2


def test_jwks_url_junk_kids_are_rate_limited(rsa_key, jwks_server, clock):
    jwks_server.jwks = {"keys": [public_jwk(rsa_key, "rsa1")]}
    s = url_settings(jwks_server.url)
    verify_end_user_jwt(sign(rsa_key, "RS256", "rsa1"), s, now=NOW)
    for i in range(20):
        clock[0] += 1
        refused(sign(rsa_key, "RS256", f"junk-{i}"), s, f"unknown key id 'junk-{i}'")
    assert jwks_server.requests == 2  # the first fetch and a single refetch
    clock[0] += 60  # the window has passed: one more refetch is allowed
    refused(sign(rsa_key, "RS256", "junk-late"), s, "unknown key id 'junk-late'")
    refused(sign(rsa_key, "RS256", "junk-later"), s, "unknown key id 'junk-later'")
    assert jwks_server.requests == 3


def test_jwks_url_first_fetch_does_not_count_as_a_refetch(rsa_key, jwks_server, clock):
    jwks_server.jwks = {"keys": [public_jwk(rsa_key, "rsa1")]}
    refused(sign(rsa_key, "RS256", "junk"), url_settings(jwks_server.url), "unknown key id 'junk'")
    assert jwks_server.requests == 1


def test_jwks_url_refetch_in_progress_does_not_block_known_kids(rsa_key, jwks_server, clock):
    jwks_server.jwks = {"keys": [public_jwk(rsa_key, "rsa1")]}
    s = url_settings(jwks_server.url)
    verify_end_user_jwt(sign(rsa_key, "RS256", "rsa1"), s, now=NOW)
    jwks_server.delay = 1.5
    reasons: list[str] = []
    junk = threading.Thread(target=lambda: reasons.append(refused(sign(rsa_key, "RS256", "junk"), s)))
    junk.start()
    for _ in range(200):  # wait (bounded) until the slow refetch has reached the server
        if jwks_server.requests == 2:
            break
        time.sleep(0.01)
    assert jwks_server.requests == 2
    started = time.monotonic()
    assert verify_end_user_jwt(sign(rsa_key, "RS256", "rsa1"), s, now=NOW)["sub"] == "user-1"
    assert time.monotonic() - started < 0.75
    junk.join(timeout=10)
    assert reasons == ["unknown key id 'junk'"]


def test_jwks_url_cold_cache_under_concurrency_fetches_once(rsa_key, jwks_server):
    jwks_server.jwks = {"keys": [public_jwk(rsa_key, "rsa1")]}
    s, token, results = url_settings(jwks_server.url), sign(rsa_key, "RS256", "rsa1"), []

    def worker():
        results.append(verify_end_user_jwt(token, s, now=NOW)["sub"])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert results == ["user-1"] * 8 and jwks_server.requests == 1


def test_jwks_url_unreachable_fails_closed(rsa_key, private_network):
    with socket.socket() as sock:  # find a free loopback port, then close it so nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reason = refused(sign(rsa_key, "RS256", "rsa1"), url_settings(f"http://127.0.0.1:{port}/jwks"))
    assert reason.startswith("could not fetch the JWKS: ") and "refused" in reason.lower()


def test_jwks_url_http_error_fails_closed_and_backs_off(rsa_key, jwks_server, clock):
    jwks_server.status, jwks_server.jwks = 500, {"keys": [public_jwk(rsa_key, "rsa1")]}
    s, token = url_settings(jwks_server.url), sign(rsa_key, "RS256", "rsa1")
    refused(token, s, "could not fetch the JWKS: HTTP status 500")
    refused(token, s, "could not fetch the JWKS: HTTP status 500")
    assert jwks_server.requests == 1  # the second failure came from the backoff, not the network
    jwks_server.status = 200
    clock[0] += 11
    assert verify_end_user_jwt(token, s, now=NOW)["sub"] == "user-1"
    assert jwks_server.requests == 2


@pytest.mark.parametrize("body,reason", [(b"<html>", "the response is not JSON"),
                                         (b"[1]", "the response is not a JWKS (no 'keys' list)"),
                                         (b'{"no": "keys"}', "the response is not a JWKS (no 'keys' list)")])
def test_jwks_url_bad_body_fails_closed(rsa_key, jwks_server, body, reason):
    jwks_server.body = body
    refused(sign(rsa_key, "RS256", "rsa1"), url_settings(jwks_server.url), f"could not fetch the JWKS: {reason}")


# --- where a jwks_url may point ------------------------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_jwks_url_into_the_private_network_is_refused_before_anything_is_sent(rsa_key, jwks_server, monkeypatch,
                                                                              host):
    monkeypatch.setitem(auth_jwt.NETWORK, "allow_private", False)  # the default
    jwks_server.jwks = {"keys": [public_jwk(rsa_key, "rsa1")]}
    url = jwks_server.url.replace("127.0.0.1", host)
    reason = refused(sign(rsa_key, "RS256", "rsa1"), url_settings(url))
    assert reason.startswith(f"could not fetch the JWKS: {host} is at ")
    assert "which is not a public address" in reason and "AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS" in reason
    assert jwks_server.requests == 0


@pytest.mark.parametrize("address,public", [
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.9", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("::1", False), ("fd00::1", False), ("fe80::1%eth0", False), ("::ffff:127.0.0.1", False),
    ("::ffff:10.0.0.1", False), ("8.8.8.8", True), ("2001:4860:4860::8888", True), ("::ffff:8.8.8.8", True),
])
def test_public_address(address, public):
    assert safe_fetch.public_address(address) is public


def test_jwks_url_redirect_is_refused(rsa_key, jwks_server):
    jwks_server.status, jwks_server.location, jwks_server.body = 302, "http://169.254.169.254/latest/", b""
    refused(sign(rsa_key, "RS256", "rsa1"), url_settings(jwks_server.url),
            "could not fetch the JWKS: the server redirected (HTTP status 302); give the final URL")
    assert jwks_server.requests == 1


def test_jwks_url_oversized_answer_is_refused(rsa_key, jwks_server):
    jwks_server.body = b" " * (safe_fetch.MAX_BYTES + 1)
    refused(sign(rsa_key, "RS256", "rsa1"), url_settings(jwks_server.url),
            "could not fetch the JWKS: the response is larger than 1024 KiB")


def test_the_app_sets_whether_private_networks_are_allowed(monkeypatch):
    from scim_authz import create_app
    monkeypatch.setitem(auth_jwt.NETWORK, "allow_private", None)
    create_app({"ENV_NAME": "testing"})
    assert auth_jwt.NETWORK["allow_private"] is False
    create_app({"ENV_NAME": "testing", "AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS": True})
    assert auth_jwt.NETWORK["allow_private"] is True
