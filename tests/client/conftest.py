"""Fixtures for the Python client's tests: the app served over real HTTP, and clients of it.

The client is its own distribution (clients/python/); it is imported from the source tree, not
installed, so these tests always run the code next to them.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))

from scim_authz_client import Client  # noqa: E402

from tests.integration.live import serving  # noqa: E402


class Counting(httpx.BaseTransport):
    """A transport that records every request it carries, to see what the client sent (or did not)."""

    def __init__(self):
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()

    def bodies(self, path: str) -> list[dict]:
        """The JSON bodies of the requests sent to `path`, in order."""
        return [json.loads(r.content) for r in self.requests if r.url.path == path]


class AsyncCounting(httpx.AsyncBaseTransport):
    """Counting for AsyncClient."""

    def __init__(self):
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def bodies(self, path: str) -> list[dict]:
        return [json.loads(r.content) for r in self.requests if r.url.path == path]


class _ThisTestsApp:
    """A WSGI app that hands each request to the current test's app: one server for the session,
    since stopping werkzeug's server costs half a second (its poll interval) per test."""

    app = None

    def __call__(self, environ, start_response):
        if self.app is None:
            raise RuntimeError("a request arrived between tests")
        return self.app(environ, start_response)


@pytest.fixture(scope="session")
def _server():
    target = _ThisTestsApp()
    with serving(target) as url:
        yield target, url


@pytest.fixture
def origin(_server, live_app):
    """The test app (a fresh one per test) on a real loopback port."""
    target, url = _server
    target.app = live_app
    yield url
    target.app = None


@pytest.fixture
def wire():
    return Counting()


@pytest.fixture
def async_wire():
    return AsyncCounting()


@pytest.fixture
def authz(origin, api, wire):
    """A Client of tenant acme's app key, whose requests `wire` records."""
    with Client(origin, api.key, transport=wire) as c:
        yield c


@pytest.fixture
def closed_port() -> str:
    """An origin on loopback where nothing listens (the port was bound, then released)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def roles(api):
    """Roles editor (edit and view documents) and viewer (view documents)."""
    for key, perms in (("editor", ["document:edit", "document:view"]), ("viewer", ["document:view"])):
        r = api.post("/roles", {"key": key, "name": key.title(), "permissions": perms})
        assert r.status_code == 201, r.get_json()


ISSUER = "https://idp.example.test/"
AUDIENCE = "api://acme-app"


@pytest.fixture(scope="session")
def _idp_key():
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def idp(api, _idp_key):
    """Tenant acme verifies end users' JWTs (RS256, inline JWKS, users by `sub` then `email`, as
    tests/api/test_jwt_handoff.py does); returns mint(sub, email, **claims) -> a token it accepts."""
    import time

    import jwt
    from jwt.algorithms import RSAAlgorithm

    jwk = {**RSAAlgorithm.to_jwk(_idp_key.public_key(), as_dict=True), "kid": "k1", "use": "sig", "alg": "RS256"}
    r = api.patch("/tenant", {"jwt": {"issuer": ISSUER, "audience": AUDIENCE, "jwks": {"keys": [jwk]},
                                      "user_claim": "sub", "username_claim": "email"}})
    assert r.status_code == 200, r.get_json()

    def mint(sub: str, email: str, **claims) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "email": email, "iat": now, "exp": now + 600, **claims}
        return jwt.encode(body, _idp_key, algorithm="RS256", headers={"kid": "k1"})

    return mint
