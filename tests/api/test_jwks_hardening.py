"""A tenant's jwks_url, as a tenant's API key sees it: it cannot tell open, closed, unknown and silent
hosts apart (the answer to a JWT check is one generic message; the detail is in the server log), a
name resolving into the private network is refused before any connection is made, the key cache is
bounded, and the URL is checked when it is written. Every listener is on 127.0.0.1."""
from __future__ import annotations

import logging
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from scim_authz.credentials import end_user_jwt as auth_jwt
from tests.api._api_helpers import error
from tests.credentials._net import closed_port, connections_made, fake_dns, http_server, silent_listener

ISS = "https://idp.example.test/"
AUD = "api://acme-app"
GENERIC = "the user's token was refused: the identity provider's keys could not be fetched"
IDP = "idp.example.test"  # answered by the test's resolver with 127.0.0.1


@pytest.fixture(scope="module")
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(autouse=True)
def _fresh_cache():
    auth_jwt.clear_jwks_cache()
    yield
    auth_jwt.clear_jwks_cache()


@pytest.fixture
def dns(monkeypatch):
    """idp.example.test (and idp-N.example.test) resolve to 127.0.0.1; *.invalid names do not exist."""
    return fake_dns(monkeypatch, {IDP: ["127.0.0.1"], **{f"idp-{i}.example.test": ["127.0.0.1"] for i in range(50)}})


@pytest.fixture
def private_ok(app, monkeypatch):
    """The operator has set AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS (its IdP is inside its network)."""
    monkeypatch.setitem(app.config, "AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS", True)
    monkeypatch.setitem(auth_jwt.NETWORK, "allow_private", True)


def token(k, kid="k1") -> str:
    now = int(time.time())
    return jwt.encode({"iss": ISS, "aud": AUD, "sub": "idp|1", "iat": now, "exp": now + 600}, k,
                      algorithm="RS256", headers={"kid": kid})


def jwk_of(k, kid="k1") -> dict:
    d = RSAAlgorithm.to_jwk(k.public_key(), as_dict=True)
    d.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return d


def set_url(api, url: str):
    return api.patch("/tenant", {"jwt": {"issuer": ISS, "audience": AUD, "jwks_url": url}})


def use_url(api, url: str) -> None:
    r = set_url(api, url)
    assert r.status_code == 200, r.get_json()


def jwt_check(api, k):
    return api.post("/check", {"user": {"jwt": token(k)}, "action": "view", "resource": "document:1"})


def refused_body(api, k) -> dict:
    r = jwt_check(api, k)
    error(r, 401, "invalid_user_token")
    return r.get_json()


# --- finding 2: the 401 of a JWT check is not a port scanner ------------------------------------

def test_finding_2_jwks_url_cannot_scan_ports(app, api, key, dns):
    """Default settings: a name that resolves to 127.0.0.1 is refused before any TCP connection,
    and an open port, a closed port and an unknown name all read the same to the caller."""
    with silent_listener() as listening:
        open_port = listening.getsockname()[1]
        bodies = {}
        for what, url in [("open", f"http://{IDP}:{open_port}/jwks"),
                          ("closed", f"http://{IDP}:{closed_port()}/jwks"),
                          ("unknown name", "http://no-such-host.invalid/jwks")]:
            use_url(api, url)
            bodies[what] = refused_body(api, key)
        # the address was vetted before connecting: the open port never saw a connection
        assert connections_made(listening) == 0
    for what, body in bodies.items():
        assert body["error"]["message"] == GENERIC, (what, body)
        assert body == bodies["open"], what


def test_finding_2_jwks_fetch_failures_read_the_same_whatever_the_network_answered(
        app, api, key, dns, private_ok, monkeypatch):
    """Even with private networks allowed, the caller learns only that the keys could not be fetched:
    HTTP errors, non-HTTP services, non-JWKS answers, closed ports, unknown names and timeouts alike."""
    monkeypatch.setattr(auth_jwt, "FETCH_TIMEOUT_SECONDS", 0.3)
    with http_server() as http_404, http_server() as not_http, http_server() as not_jwks, \
            silent_listener() as silent:
        http_404.status = 404
        not_http.raw = b"SSH-2.0-OpenSSH_9.6\r\n"
        not_jwks.body = b'{"hello": "world"}'
        cases = [("HTTP 404", f"http://127.0.0.1:{http_404.port}/jwks"),
                 ("not HTTP", f"http://{IDP}:{not_http.port}/jwks"),
                 ("not a JWKS", f"http://127.0.0.1:{not_jwks.port}/jwks"),
                 ("closed port", f"http://127.0.0.1:{closed_port()}/jwks"),
                 ("unknown name", "http://no-such-host.invalid/jwks"),
                 ("timeout", f"http://127.0.0.1:{silent.getsockname()[1]}/jwks")]
        bodies = {}
        for what, url in cases:
            use_url(api, url)
            bodies[what] = refused_body(api, key)
        assert http_404.requests == not_http.requests == not_jwks.requests == 1  # they were reached
    assert {what: b["error"]["message"] for what, b in bodies.items()} == {what: GENERIC for what, _ in cases}
    assert all(b == bodies["HTTP 404"] for b in bodies.values()), bodies


def test_finding_2_jwks_fetch_detail_goes_to_the_server_log_with_the_tenant(
        app, api, tenant, key, private_ok, caplog):
    use_url(api, f"http://127.0.0.1:{closed_port()}/jwks")
    with caplog.at_level(logging.WARNING):
        body = refused_body(api, key)
    assert body["error"]["message"] == GENERIC
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(f"tenant {tenant[0]}" in line and "Connection refused" in line for line in lines), lines


def test_finding_2_a_working_jwks_url_still_verifies(app, api, key, dns, private_ok):
    with http_server() as idp:
        idp.jwks({"keys": [jwk_of(key)]})
        use_url(api, f"http://{IDP}:{idp.port}/jwks")
        r = jwt_check(api, key)
        assert r.status_code == 200, r.get_json()
        assert idp.hosts == [f"{IDP}:{idp.port}"]  # the request names the host, not the address
        # an unknown kid is still reported as such: it is not a fetch failure
        r = api.post("/check", {"user": {"jwt": token(key, kid="k9")}, "action": "view", "resource": "document:1"})
        assert "unknown key id" in error(r, 401, "invalid_user_token")["message"]


# --- finding 2: the per-URL key cache is bounded ---------------------------------------------------

def test_finding_2_jwks_cache_is_bounded(app, api, key, private_ok, monkeypatch):
    assert getattr(auth_jwt, "JWKS_CACHE_MAX_URLS", None) == 1000
    monkeypatch.setattr(auth_jwt, "JWKS_CACHE_MAX_URLS", 4, raising=False)
    port = closed_port()
    for i in range(12):
        use_url(api, f"http://127.0.0.1:{port}/jwks?n={i}")
        error(jwt_check(api, key), 401, "invalid_user_token")
        assert len(auth_jwt._cache) <= 4


def test_finding_2_jwks_cache_keeps_the_urls_in_use(app, api, key, private_ok, monkeypatch):
    """Least recently used goes first: a tenant's IdP in steady use keeps its cached keys while other
    URLs come and go, and is fetched again only once it has gone unused for a while."""
    monkeypatch.setattr(auth_jwt, "JWKS_CACHE_MAX_URLS", 4, raising=False)
    port = closed_port()

    def junk(n: int, start: int) -> None:
        for i in range(start, start + n):
            use_url(api, f"http://127.0.0.1:{port}/jwks?n={i}")
            error(jwt_check(api, key), 401)

    with http_server() as idp:
        idp.jwks({"keys": [jwk_of(key)]})
        good = f"http://127.0.0.1:{idp.port}/jwks"
        for start in (0, 3, 6):  # three other URLs between uses: the IdP's keys stay cached
            use_url(api, good)
            assert jwt_check(api, key).status_code == 200
            junk(3, start)
        assert idp.requests == 1
        junk(4, 100)  # four URLs more recent than the IdP's: it has been evicted
        use_url(api, good)
        assert jwt_check(api, key).status_code == 200
        assert idp.requests == 2


# --- finding 2: jwks_url is checked when it is written -----------------------------------------------

@pytest.mark.parametrize("url", [
    "ftp://idp.example.test/jwks", "file:///etc/passwd", "http:///jwks", "https://user:pw@idp.example.test/jwks",
    "http://127.0.0.1:5432/", "http://localhost:6379/", "http://LOCALHOST./", "http://db.localhost/",
    "http://[::1]/jwks", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/jwks",
    "http://192.168.1.1/", "http://[::ffff:127.0.0.1]/", "http://2130706433/", "http://0x7f.1/",
    "https://idp.example.test/" + "a" * 3000,
])
def test_finding_2_jwks_url_validated_at_write(api, url):
    err = error(set_url(api, url), 400)
    assert "jwks_url" in err["details"]["jwt"], err
    assert api.get("/tenant").get_json()["tenant"]["jwt"] is None


def test_finding_2_jwks_url_private_addresses_allowed_at_write_when_configured(api, private_ok):
    for url in ("http://127.0.0.1:8080/jwks", "http://localhost/jwks", "http://10.0.0.5/jwks"):
        use_url(api, url)
        assert api.get("/tenant").get_json()["tenant"]["jwt"]["jwks_url"] == url


def test_finding_2_jwks_url_must_be_https_when_the_config_says_so(app, api, monkeypatch):
    use_url(api, "http://idp.example.test/jwks")  # not required in development and tests
    monkeypatch.setitem(app.config, "AUTHZ_JWKS_REQUIRE_HTTPS", True)
    err = error(set_url(api, "http://idp.example.test/jwks"), 400)
    assert "https" in str(err["details"]["jwt"]["jwks_url"])
    use_url(api, "https://idp.example.test/jwks")
    assert api.get("/tenant").get_json()["tenant"]["jwt"]["jwks_url"] == "https://idp.example.test/jwks"


def test_finding_2_https_is_required_in_production_by_default():
    import os

    from scim_authz.config import DevelopmentConfig, ProductionConfig, TestingConfig
    if os.environ.get("AUTHZ_JWKS_REQUIRE_HTTPS"):
        pytest.skip("AUTHZ_JWKS_REQUIRE_HTTPS is set in this environment")
    assert getattr(ProductionConfig, "AUTHZ_JWKS_REQUIRE_HTTPS", None) is True
    assert DevelopmentConfig.AUTHZ_JWKS_REQUIRE_HTTPS is False and TestingConfig.AUTHZ_JWKS_REQUIRE_HTTPS is False
