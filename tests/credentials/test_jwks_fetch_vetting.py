"""safe_fetch and the JWKS cache below the HTTP layer: the host is resolved once and vetted before any
connection, the connection goes to the vetted address while TLS still checks the host name, proxies
and redirects are not followed, and a fetch failure's detail is kept apart from what a caller is
told. Every listener is on 127.0.0.1."""
from __future__ import annotations

import socket

import pytest

from scim_authz.credentials import end_user_jwt as auth_jwt
from scim_authz.credentials import safe_fetch
from tests.credentials._net import closed_port, connections_made, fake_dns, http_server, silent_listener, tls_contexts

IDP = "idp.example.test"
PUBLIC = "93.184.216.34"  # a global address; no test ever connects to it


def fetch(url: str, *, allow_private: bool = False, timeout: float = 2):
    return safe_fetch.fetch_json(url, timeout=timeout, allow_private=allow_private)


@pytest.fixture(autouse=True)
def _fresh_cache():
    auth_jwt.clear_jwks_cache()
    yield
    auth_jwt.clear_jwks_cache()


def test_finding_2_a_name_resolving_into_the_private_network_is_refused_before_connecting(monkeypatch):
    fake_dns(monkeypatch, {IDP: ["127.0.0.1"]})
    with silent_listener() as listening:
        with pytest.raises(safe_fetch.FetchError) as info:
            fetch(f"http://{IDP}:{listening.getsockname()[1]}/jwks")
        assert connections_made(listening) == 0
    assert info.value.reason.startswith(f"{IDP} is at 127.0.0.1, which is not a public address")


def test_finding_2_every_address_of_the_name_must_be_public(monkeypatch):
    """A name with one public and one private address is refused: whichever the connection would
    have used, a tenant could aim at the private one."""
    fake_dns(monkeypatch, {IDP: [PUBLIC, "127.0.0.1"]})
    with silent_listener() as listening:
        with pytest.raises(safe_fetch.FetchError, match="not a public address"):
            fetch(f"http://{IDP}:{listening.getsockname()[1]}/jwks")
        assert connections_made(listening) == 0


def test_dns_rebinding_between_vetting_and_connect_gets_nowhere(monkeypatch):
    """The name is resolved once: the connection goes to the address that was vetted, so a DNS answer
    that changes to 127.0.0.1 after vetting is never used."""
    answers = iter([[PUBLIC]])
    dns = fake_dns(monkeypatch, {IDP: lambda: next(answers, ["127.0.0.1"])})
    tried = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        if address[0] == PUBLIC:  # stands in for the IdP, which is down
            tried.append(address)
            raise ConnectionRefusedError(111, "Connection refused")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    with silent_listener() as listening:
        port = listening.getsockname()[1]
        with pytest.raises(safe_fetch.FetchError, match="refused"):
            fetch(f"http://{IDP}:{port}/jwks")
        assert connections_made(listening) == 0
    assert tried == [(PUBLIC, port)]
    assert dns.asked.count(IDP) == 1


def test_the_request_and_tls_name_the_host_not_the_address(monkeypatch, tmp_path):
    """Connecting to the vetted address keeps the Host header, SNI and the certificate check on the
    host name: a certificate for the name verifies, one for another name does not."""
    fake_dns(monkeypatch, {IDP: ["127.0.0.1"]})
    server_ctx, ca_file = tls_contexts(tmp_path, IDP)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    with http_server(server_ctx) as idp:
        assert fetch(f"https://{IDP}:{idp.port}/jwks", allow_private=True) == {"keys": []}
        assert idp.sni == [IDP] and idp.hosts == [f"{IDP}:{idp.port}"]
    (tmp_path / "other").mkdir()
    other_ctx, other_ca = tls_contexts(tmp_path / "other", "other.example.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
    with http_server(other_ctx) as wrong:
        with pytest.raises(safe_fetch.FetchError, match="(?i)certificate"):
            fetch(f"https://{IDP}:{wrong.port}/jwks", allow_private=True)
        assert wrong.requests == 0


def test_proxies_from_the_environment_are_ignored(monkeypatch):
    dead = f"http://127.0.0.1:{closed_port()}"
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with http_server() as idp:
        assert fetch(f"http://127.0.0.1:{idp.port}/jwks", allow_private=True) == {"keys": []}
        assert idp.requests == 1


def test_an_unknown_name_is_a_fetch_error_naming_it(monkeypatch):
    fake_dns(monkeypatch, {})
    with pytest.raises(safe_fetch.FetchError) as info:
        fetch("http://no-such-host.invalid/jwks")
    assert "no-such-host.invalid" in info.value.reason


def test_finding_2_a_failed_fetch_keeps_its_detail_for_the_log_only(monkeypatch):
    """The JWTError of a failed fetch says what happened in .reason (for the server log) and only
    that the keys could not be fetched in .public (for the caller), from the network and from the
    backoff alike."""
    monkeypatch.setitem(auth_jwt.NETWORK, "allow_private", True)
    settings = {"issuer": "https://idp.example.test/", "audience": "a", "jwks_url":
                f"http://127.0.0.1:{closed_port()}/jwks"}
    token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.e30.AAAA"  # {"alg":"RS256","kid":"k1"}.{}.sig
    for _ in range(2):  # the second comes from the backoff
        with pytest.raises(auth_jwt.JWTError) as info:
            auth_jwt.verify_end_user_jwt(token, settings)
        assert "refused" in info.value.reason.lower()
        assert getattr(info.value, "public", None) == "the identity provider's keys could not be fetched"
    # a reason that says nothing about the network is shown as it is
    with pytest.raises(auth_jwt.JWTError) as info:
        auth_jwt.verify_end_user_jwt("not.a.jwt", settings)
    assert info.value.public == info.value.reason == "malformed token"


def test_finding_2_the_cache_holds_at_most_1000_urls(monkeypatch):
    def down(url, **kw):
        raise safe_fetch.FetchError("down")

    monkeypatch.setattr(safe_fetch, "fetch_json", down)
    token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.e30.AAAA"
    for i in range(1100):
        with pytest.raises(auth_jwt.JWTError):
            auth_jwt.verify_end_user_jwt(token, {"issuer": "i", "audience": "a",
                                                 "jwks_url": f"https://idp.example.test/{i}"})
    assert len(auth_jwt._cache) == 1000
    assert "https://idp.example.test/1099" in auth_jwt._cache and "https://idp.example.test/0" not in auth_jwt._cache


def test_what_a_server_sends_cannot_forge_log_lines():
    with http_server() as idp:
        idp.raw = b"SSH-2.0-x\r\n2024-01-01 WARNING forged line\r\n"
        with pytest.raises(safe_fetch.FetchError) as info:
            fetch(f"http://127.0.0.1:{idp.port}/jwks", allow_private=True)
    assert "\n" not in info.value.reason and "\r" not in info.value.reason
    assert "SSH-2.0-x" in info.value.reason
