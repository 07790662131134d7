"""X-Forwarded-For/-Proto/-Host are believed only from the proxies named in TRUSTED_PROXIES: then the
rate limits count the real client and the URLs the server gives out use the scheme and host the
client used; from anyone else (by default, everyone) they change nothing."""
from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from scim_authz import create_app
from scim_authz.db.extensions import db
from scim_authz.web.proxy import PEER_KEY, TrustedProxies, parse_trusted
from tests.conftest import (
    DATABASE_URL,
    APIClient,
    SCIMClient,
    _reset_postgres,
    app_config,
    close_app,
    issue_app_key,
    make_tenant,
)

ROOT = Path(__file__).resolve().parents[2]
PROXY, STRANGER = "10.0.0.1", "203.0.113.9"
CHECK = {"user": "ann", "action": "view", "resource": "document:1"}


@pytest.fixture
def make_app(tmp_path):
    """make(**config): a fresh app (as the suite's `app`) with TRUSTED_PROXIES and the rest given."""
    apps = []

    def make(**config):
        url = DATABASE_URL if DATABASE_URL.startswith("postgresql") else f"sqlite:///{tmp_path / f'{len(apps)}.db'}"
        app = create_app({**app_config(url), "PUBLIC_BASE_URL": "", **config})
        apps.append(app)
        with app.app_context():
            if url.startswith("postgresql"):
                _reset_postgres(app)
            else:
                db.create_all()
        return app

    yield make
    for app in apps:
        close_app(app)


def _api(app) -> APIClient:
    tid, _ = make_tenant(app, "acme")
    return APIClient(app.test_client(), issue_app_key(app, tid))


def _check(api: APIClient, peer: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return api.post("/check", CHECK, headers=headers, environ_base={"REMOTE_ADDR": peer}).status_code


def test_by_default_no_peer_is_believed_not_even_loopback(make_app):
    api = _api(make_app(RATE_LIMIT_API_ADDRESS="1/min,1"))
    assert _check(api, "127.0.0.1", "198.51.100.1") == 200
    assert _check(api, "127.0.0.1", "198.51.100.2") == 429  # one address, whatever the header says


def test_a_forwarded_client_from_an_untrusted_peer_is_ignored(make_app):
    api = _api(make_app(TRUSTED_PROXIES=PROXY, RATE_LIMIT_API_ADDRESS="1/min,1"))
    assert _check(api, STRANGER, "198.51.100.1") == 200
    assert _check(api, STRANGER, "198.51.100.2") == 429


def test_the_rate_limits_count_the_client_a_trusted_proxy_forwards(make_app):
    api = _api(make_app(TRUSTED_PROXIES=f"{PROXY}, 192.168.0.0/16", RATE_LIMIT_API_ADDRESS="1/min,1"))
    assert _check(api, PROXY, "198.51.100.1") == 200
    assert _check(api, PROXY, "198.51.100.2") == 200  # another client behind the same proxy
    assert _check(api, PROXY, "198.51.100.1") == 429  # the first one again
    # What a client wrote in front of its real address is not believed: counted as 198.51.100.2.
    assert _check(api, PROXY, "198.51.100.77, 198.51.100.2") == 429
    # Through two trusted proxies (192.168.1.5 forwarded to 10.0.0.1): the client left of them.
    assert _check(api, PROXY, "198.51.100.3, 192.168.1.5") == 200
    assert _check(api, PROXY, "198.51.100.3") == 429


def _location(app, peer: str, **headers) -> str:
    tid, token = make_tenant(app, f"t{peer.replace('.', '')}")
    scim = SCIMClient(app.test_client(), token)
    r = scim.post("/Users", {"userName": f"ada-{peer}"}, headers=headers, environ_base={"REMOTE_ADDR": peer})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()["meta"]["location"]


def test_a_trusted_proxy_sets_the_scheme_and_host_of_the_urls_given_out(make_app):
    app = make_app(TRUSTED_PROXIES=PROXY, TRUSTED_HOSTS=["localhost", "idp-facing.example.com"])
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "idp-facing.example.com"}
    assert _location(app, PROXY, **forwarded).startswith("https://idp-facing.example.com/scim/v2/Users/")
    assert _location(app, STRANGER, **forwarded).startswith("http://localhost/scim/v2/Users/")


def test_a_forwarded_host_is_still_checked_against_trusted_hosts(make_app):
    app = make_app(TRUSTED_PROXIES=PROXY, TRUSTED_HOSTS=["localhost"])
    tid, token = make_tenant(app, "acme")
    r = SCIMClient(app.test_client(), token).post("/Users", {"userName": "ada"},
                                                  headers={"X-Forwarded-Host": "evil.example"},
                                                  environ_base={"REMOTE_ADDR": PROXY})
    assert r.status_code == 400


# ---- the middleware alone, over a WSGI app that shows what it was given ---------------------------

def _seen(trusted: str, peer: str, **headers) -> dict:
    captured = {}

    def app(environ, start_response):
        captured.update(environ)
        start_response("204 No Content", [])
        return []

    environ = {"REMOTE_ADDR": peer, "wsgi.url_scheme": "http", "HTTP_HOST": "backend:8000"}
    environ.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    TrustedProxies(app, parse_trusted(trusted))(environ, lambda *a: None)
    return captured


@pytest.mark.parametrize("peer, forwarded_for, client", [
    ("10.0.0.1", "198.51.100.1", "198.51.100.1"),
    ("10.0.0.1", "198.51.100.9, 198.51.100.1", "198.51.100.1"),  # the rightmost untrusted address
    ("10.0.0.1", "198.51.100.1, 10.0.0.7", "198.51.100.1"),  # past a trusted hop
    ("10.0.0.1", "10.0.0.8, 10.0.0.7", "10.0.0.8"),  # all trusted: the leftmost
    ("10.0.0.1", "198.51.100.1, not-an-address", "10.0.0.1"),  # nothing left of garbage is believed
    ("10.0.0.1", "garbage, 198.51.100.1", "198.51.100.1"),
    ("10.0.0.1", "2001:db8::5", "2001:db8::5"),
    ("::ffff:10.0.0.1", "198.51.100.1", "198.51.100.1"),  # an IPv4 proxy seen through an IPv6 socket
    ("fd00::1", "198.51.100.1", "198.51.100.1"),
    ("10.0.0.2", "198.51.100.1", "10.0.0.2"),  # not a proxy of the list
    ("unix-socket", "198.51.100.1", "unix-socket"),
])
def test_x_forwarded_for(peer, forwarded_for, client):
    seen = _seen("10.0.0.1, 10.0.0.7, 10.0.0.8, fd00::/64", peer, x_forwarded_for=forwarded_for)
    assert seen["REMOTE_ADDR"] == client
    trusted = peer not in ("10.0.0.2", "unix-socket")
    assert seen.get(PEER_KEY) == (peer if trusted else None)  # the proxy's own address, kept aside


@pytest.mark.parametrize("peer, proto, host, scheme, seen_host", [
    ("10.0.0.1", "https", "a.example", "https", "a.example"),
    ("10.0.0.1", "http, https", "x.example, a.example", "https", "a.example"),  # the nearest proxy's: last
    ("10.0.0.1", "ftp", "", "http", "backend:8000"),
    ("10.0.0.2", "https", "a.example", "http", "backend:8000"),
])
def test_x_forwarded_proto_and_host(peer, proto, host, scheme, seen_host):
    seen = _seen("10.0.0.1", peer, x_forwarded_proto=proto, x_forwarded_host=host)
    assert (seen["wsgi.url_scheme"], seen["HTTP_HOST"]) == (scheme, seen_host)


@pytest.mark.parametrize("value", ["10.0.0.1/8", "ten.zero.zero.one", "10.0.0.0/33"])
def test_a_bad_trusted_proxies_value_stops_the_app_naming_the_setting(tmp_path, value):
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        create_app({**app_config(f"sqlite:///{tmp_path / 'x.db'}"), "TRUSTED_PROXIES": value})


def test_gunicorn_believes_the_same_proxies(monkeypatch):
    """gunicorn reads X-Forwarded-Proto itself (its forwarded_allow_ips, loopback by default): it is
    told the same list, so neither believes a peer the other does not."""
    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    assert runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))["forwarded_allow_ips"] == ""
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8,::1")
    assert runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))["forwarded_allow_ips"] == "10.0.0.0/8,::1"
