"""Finding 12: errors that the app server would answer with its own HTML come back in the protocol's
shape, through a real gunicorn started as `make run` starts it (config/gunicorn.conf.py, wsgi:app)."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import DATABASE_URL

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

pytestmark = pytest.mark.skipif(DATABASE_URL.startswith("postgresql"),
                                reason="the app server's behaviour does not depend on the store")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    """Start gunicorn on a fresh SQLite database; yield (origin, SCIM token, env) and stop it."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", "SCIM_AUTHZ_INSTANCE": str(tmp_path),
           "WEB_CONCURRENCY": "1", "ACCESS_LOG": "", "SQLITE_SYNCHRONOUS": "OFF"}
    env.pop("PUBLIC_BASE_URL", None)
    flask = [str(BIN / "flask"), "--app", "wsgi"]

    def run(*args):
        return subprocess.run([*flask, *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout

    run("db", "upgrade")
    run("tenants", "create", "acme")
    token = run("tokens", "issue", "acme").strip().splitlines()[-1]
    servers = []

    def start(**extra):
        port = _free_port()
        proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                                env={**env, "BIND": f"127.0.0.1:{port}", **extra}, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append(proc)
        origin = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{origin}/scim/v2/ServiceProviderConfig", headers={"Authorization": f"Bearer {token}"})
                return origin
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)

    yield start, token
    for proc in servers:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_finding_12_an_over_long_request_line_gets_a_scim_414_not_an_html_page(served):
    start, token = served
    origin = start()
    long_filter = " or ".join(f'userName eq "user{n}@example.com"' for n in range(3000))  # ~100 KB
    conn = http.client.HTTPConnection(origin.removeprefix("http://"), timeout=30)  # (httpx caps URLs at 64 KB)
    conn.request("GET", "/scim/v2/Users?" + urlencode({"filter": long_filter}),
                 headers={"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    assert r.status == 414, r.read()[:300]
    body = json.loads(r.read())
    conn.close()
    assert body["schemas"] == [SCIM_ERROR] and body["status"] == "414" and "POST /.search" in body["detail"]
    # Within the cap, a long filter is read: 200 items of a realistic IdP filter.
    ok_filter = " or ".join(f'userName eq "user{n}@example.com"' for n in range(200))
    r = httpx.get(f"{origin}/scim/v2/Users", params={"filter": ok_filter},
                  headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200 and r.json()["totalResults"] == 0


def test_finding_12_a_request_past_its_deadline_gets_a_503_in_its_protocol_not_an_html_500(served):
    start, token = served
    origin = start(REQUEST_DEADLINE_SECONDS="0.000001")  # every request overruns it
    r = httpx.post(f"{origin}/scim/v2/Users", json={"userName": "ada"},
                   headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 503, r.text[:300]
    body = r.json()
    assert body["schemas"] == [SCIM_ERROR] and body["status"] == "503" and "nothing was written" in body["detail"]
    r = httpx.post(f"{origin}/v1/check", json={"user": "a", "action": "view", "resource": "document:1"},
                   headers={"Authorization": "Bearer x"}, timeout=30)
    assert r.status_code == 503 and r.json()["error"]["status"] == 503


def test_finding_6_the_default_binding_is_loopback_and_the_proxy_is_part_of_the_topology(monkeypatch):
    """Sync workers are held by slow clients; the answer is a buffering proxy in front, so the
    server listens on loopback unless told otherwise and the deployment notes put the proxy in."""
    import runpy

    monkeypatch.delenv("BIND", raising=False)
    conf = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    assert conf["bind"].startswith("127.0.0.1:")
    from gunicorn.util import load_class
    from gunicorn.workers.sync import SyncWorker
    assert issubclass(load_class(conf["worker_class"]), SyncWorker)  # (one woken per connection: ops/sync_worker.py)
    security = (ROOT / "docs" / "security.md").read_text()
    assert "## A proxy in front" in security and "proxy_request_buffering on" in security
    assert "never to a public" in security
