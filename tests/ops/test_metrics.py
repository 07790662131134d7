"""GET /metrics: the counters move with real checks and SCIM writes, in one process and summed over
two gunicorn workers; scraping is refused to other networks unless the token is presented; a metrics
directory left by an earlier run is never summed in."""
from __future__ import annotations

import base64
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from scim_authz import create_app, pdp
from scim_authz.credentials import end_user_jwt
from scim_authz.ops import multiproc
from tests.conftest import DATABASE_URL, app_config, close_app, issue_app_key, make_tenant
from tests.credentials._net import closed_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OKTA = {"User-Agent": "Okta SCIM Client 1.0.0"}
ENTRA = {"User-Agent": "Microsoft Azure AD SCIM provisioning"}
SCHEMA = """
entity document {
  relation owner @user
  permission edit = owner
}
"""


def parse(text: str) -> dict:
    """{(sample name, frozenset of labels): value} of an exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    """The sum of the samples named `name` whose labels include `labels` (0 when there is none)."""
    want = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and want <= lab)


def scrape(client, **kw) -> dict:
    r = client.get("/metrics", **kw)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.content_type.startswith("text/plain")
    return parse(r.get_data(as_text=True))


def moved(before: dict, after: dict, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


# ---- one process ----------------------------------------------------------------------------

def test_checks_and_scim_writes_move_the_counters(app, client, scim, api):
    before = scrape(client)
    r = scim.post("/Users", {"userName": "ann"}, headers=OKTA)
    assert r.status_code == 201
    ann = r.get_json()["id"]
    assert scim.post("/Groups", {"displayName": "Engineering"}, headers=ENTRA).status_code == 201
    assert scim.get("/ServiceProviderConfig", headers={"User-Agent": "curl/8.5"}).status_code == 200
    assert scim.get(f"/Users/{ann}x", headers=OKTA).status_code == 404
    assert api.post("/schema", {"source": SCHEMA}).status_code == 201
    facts = [{"resource": f"document:{n}", "relation": "owner", "subject": f"user:{ann}"} for n in (1, 2)]
    assert api.post("/relationships", {"relationships": facts}).status_code == 200
    answers = [api.post("/check", {"user": ann, "action": action, "resource": f"document:{n}"}).get_json()["allowed"]
               for action, n in (("edit", 1), ("edit", 2), ("edit", 3))]
    assert answers == [True, True, False]
    bulk = api.post("/check/bulk", {"checks": [{"user": ann, "action": "edit", "resource": "document:1"},
                                               {"user": ann, "action": "delete", "resource": "document:1"}]})
    assert [x["allowed"] for x in bulk.get_json()["results"]] == [True, False]
    pdp.audit(app).flush()
    after = scrape(client)

    assert moved(before, after, "scim_authz_decisions_total", decision="allow") == 3
    assert moved(before, after, "scim_authz_decisions_total", decision="deny") == 2
    assert moved(before, after, "scim_authz_check_duration_seconds_count") == 5
    assert moved(before, after, "scim_authz_http_requests_total", route="/v1/check", method="POST", status="200") == 3
    assert moved(before, after, "scim_authz_http_requests_total", route="/v1/check/bulk", status="200") == 1
    assert moved(before, after, "scim_authz_http_request_duration_seconds_count", route="/v1/check") == 3
    assert moved(before, after, "scim_authz_http_request_duration_seconds_bucket", route="/v1/check", le="+Inf") == 3
    assert moved(before, after, "scim_authz_http_requests_total", route="/scim/v2/<resource>/<rid>",
                 method="GET", status="404") == 1
    scim_ops = {k: v - before.get(k, 0) for k, v in after.items() if k[0] == "scim_authz_scim_requests_total"}
    assert {tuple(sorted(k[1])): v for k, v in scim_ops.items() if v} == {
        (("client", "okta"), ("method", "POST"), ("resource", "Users"), ("status", "201")): 1,
        (("client", "entra"), ("method", "POST"), ("resource", "Groups"), ("status", "201")): 1,
        (("client", "other"), ("method", "GET"), ("resource", "discovery"), ("status", "200")): 1,
        (("client", "okta"), ("method", "GET"), ("resource", "Users"), ("status", "404")): 1,
    }
    assert moved(before, after, "scim_authz_decision_log_rows_written_total") == 5
    assert value(after, "scim_authz_decision_log_queue_depth") == 0
    assert moved(before, after, "scim_authz_engine_catch_ups_total") >= 1
    assert moved(before, after, "scim_authz_engine_changes_applied_total") >= 1
    # The engine's gauges, read at the scrape from this app's engine: one tenant, one user, two facts.
    assert value(after, "scim_authz_engine_tenants_loaded") == 1
    assert value(after, "scim_authz_engine_users_loaded") == 1
    assert value(after, "scim_authz_engine_relationships_loaded") == 2
    assert value(after, "scim_authz_engine_revision_lag") == 0


def test_a_full_reload_and_a_failed_jwks_fetch_are_counted(app, client, scim, api, monkeypatch):
    assert scim.post("/Users", {"userName": "ann"}).status_code == 201
    assert api.post("/check", {"user": "ann", "action": "view", "resource": "document:1"}).status_code == 200
    pdp.engine(app).full_reload_after = 1  # any catch-up now reloads the tenant whole
    before = scrape(client)
    assert scim.post("/Users", {"userName": "bob"}).status_code == 201
    assert api.post("/check", {"user": "bob", "action": "view", "resource": "document:1"}).status_code == 200
    monkeypatch.setitem(app.config, "AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS", True)
    monkeypatch.setitem(end_user_jwt.NETWORK, "allow_private", True)
    end_user_jwt.clear_jwks_cache()
    r = api.patch("/tenant", {"jwt": {"issuer": "https://idp.example.test/", "audience": "app",
                                      "jwks_url": f"http://127.0.0.1:{closed_port()}/jwks"}})
    assert r.status_code == 200, r.get_json()
    header = base64.urlsafe_b64encode(b'{"alg":"RS256","kid":"k1","typ":"JWT"}').rstrip(b"=").decode()
    r = api.post("/check", {"user": {"jwt": f"{header}.eyJzdWIiOiJ4In0.c2ln"}, "action": "view",
                            "resource": "document:1"})
    assert r.status_code == 401
    end_user_jwt.clear_jwks_cache()
    after = scrape(client)
    assert moved(before, after, "scim_authz_engine_full_reloads_total") >= 1
    assert value(after, "scim_authz_engine_users_loaded") == 2
    assert moved(before, after, "scim_authz_jwks_fetch_failures_total") == 1


def test_scraping_is_refused_outside_the_allowed_networks_unless_the_token_is_presented(client, tmp_path):
    other = {"REMOTE_ADDR": "10.1.2.3"}
    r = client.get("/metrics", environ_base=other)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    assert b"scim_authz_" not in r.data
    # Loopback, but a proxy not in TRUSTED_PROXIES forwarded it: the address is the proxy's, not the scraper's.
    r = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 403
    # No token configured: a bearer token admits nothing.
    assert client.get("/metrics", environ_base=other, headers={"Authorization": "Bearer x"}).status_code == 403

    app = create_app({**app_config(f"sqlite:///{tmp_path / 'token.db'}"), "METRICS_TOKEN": "s3cret-scrape-token",
                      "METRICS_ALLOW_FROM": "192.0.2.0/24"})
    try:
        c = app.test_client()
        assert c.get("/metrics").status_code == 403  # loopback is no longer listed
        assert c.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
        assert c.get("/metrics", environ_base=other,
                     headers={"Authorization": "Bearer s3cret-scrape-token"}).status_code == 200
        for wrong in ("Bearer s3cret-scrape-tokeN", "Bearer ", "Basic s3cret-scrape-token", "s3cret-scrape-token"):
            assert c.get("/metrics", environ_base=other, headers={"Authorization": wrong}).status_code == 403, wrong
    finally:
        close_app(app)


def test_metrics_disabled_adds_nothing(tmp_path):
    app = create_app({**app_config(f"sqlite:///{tmp_path / 'off.db'}"), "METRICS_ENABLED": False})
    try:
        assert app.test_client().get("/metrics").status_code == 404
        with app.app_context():
            assert pdp.engine(app).observer is None
    finally:
        close_app(app)


def test_a_bad_network_in_metrics_allow_from_stops_the_app(tmp_path):
    with pytest.raises(ValueError, match="METRICS_ALLOW_FROM: 'localhost'"):
        create_app({**app_config(f"sqlite:///{tmp_path / 'bad.db'}"), "METRICS_ALLOW_FROM": "127.0.0.1,localhost"})


# ---- the multiprocess directory ---------------------------------------------------------------

def test_the_master_makes_a_fresh_directory_and_removes_it(tmp_path, monkeypatch):
    monkeypatch.setattr(multiproc.tempfile, "tempdir", str(tmp_path))
    environ: dict = {}
    made = multiproc.prepare(environ, gunicorn=True)
    assert environ[multiproc.ENV] == made and Path(made).parent == tmp_path and not os.listdir(made)
    multiproc.remove_own_dir()
    assert not Path(made).exists()
    assert multiproc.prepare({}, gunicorn=False) is None  # not under gunicorn: metrics stay in memory


def test_a_directory_of_an_earlier_run_is_cleared_and_one_in_use_is_refused(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)
    for name in (f"counter_{dead}.db", f"histogram_{dead}.db", f"gauge_livesum_{dead}.db"):
        (tmp_path / name).write_bytes(b"\0" * 16)
    (tmp_path / "notes.txt").write_text("not ours")
    assert multiproc.prepare({multiproc.ENV: str(tmp_path)}, gunicorn=True) == str(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]

    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / f"counter_{running.pid}.db").write_bytes(b"\0" * 16)
        with pytest.raises(RuntimeError, match=f"running processes \\[{running.pid}\\]"):
            multiproc.clear_stale(tmp_path)
        assert (tmp_path / f"counter_{running.pid}.db").exists()
    finally:
        running.kill()
        running.wait()
    with pytest.raises(RuntimeError, match="is not a directory"):
        multiproc.prepare({multiproc.ENV: str(tmp_path / "missing")}, gunicorn=True)


# ---- two gunicorn workers ---------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _per_worker(folder: str, name: str) -> dict[int, float]:
    """{pid: value of the counter `name`, summed over its labels} from each process's own file."""
    from prometheus_client.mmap_dict import MmapedDict

    out: dict[int, float] = {}
    for path in glob.glob(os.path.join(folder, "counter_*.db")):
        pid = int(Path(path).stem.rpartition("_")[2])
        for key, v, _ts, _pos in MmapedDict.read_all_values_from_file(path):
            if json.loads(key)[1] == name:
                out[pid] = out.get(pid, 0) + v
    return out


@pytest.mark.skipif(DATABASE_URL.startswith("postgresql"), reason="the workers' metrics do not depend on the store")
def test_two_workers_counts_are_summed_in_one_scrape(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    app = create_app(app_config(url))
    with app.app_context():
        from scim_authz.db.extensions import db
        db.create_all()
    tid, scim_token = make_tenant(app, "acme")
    api_key = issue_app_key(app, tid)
    close_app(app)
    temp = tmp_path / "tmp"
    temp.mkdir()
    port = _free_port()
    # Connections closed after every answer, so both workers take requests (a kept one stays with one).
    env = {**os.environ, "DATABASE_URL": url, "SCIM_AUTHZ_INSTANCE": str(tmp_path), "WEB_CONCURRENCY": "2",
           "ACCESS_LOG": "", "SQLITE_SYNCHRONOUS": "OFF", "BIND": f"127.0.0.1:{port}", "TMPDIR": str(temp),
           "GUNICORN_KEEPALIVE": "0"}
    for name in ("PUBLIC_BASE_URL", multiproc.ENV):
        env.pop(name, None)
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                                  env=env, start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
    origin = f"http://127.0.0.1:{port}"
    http = httpx.Client(timeout=30)  # one client (a new one per request costs an SSL context)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if http.get(f"{origin}/metrics").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        folders = glob.glob(str(temp / "scim-authz-metrics-*"))
        assert len(folders) == 1, folders  # the master made one, in the TMPDIR it was given
        folder = folders[0]
        before = parse(http.get(f"{origin}/metrics").text)

        def scim_write(n: int) -> int:
            return http.post(f"{origin}/scim/v2/Users", json={"userName": f"user{n}"},
                             headers={"Authorization": f"Bearer {scim_token}", **OKTA}).status_code

        def check(n: int) -> int:
            return http.post(f"{origin}/v1/check", json={"user": f"user{n % 8}", "action": "view",
                                                         "resource": f"document:{n}"},
                             headers={"Authorization": f"Bearer {api_key}"}).status_code

        with ThreadPoolExecutor(4) as pool:  # several connections at once: both workers take some
            assert list(pool.map(scim_write, range(8))) == [201] * 8
            assert list(pool.map(check, range(60))) == [200] * 60

        want = {("scim_authz_decisions_total", ()): 60,
                ("scim_authz_http_requests_total", (("route", "/v1/check"), ("status", "200"))): 60,
                ("scim_authz_scim_requests_total", (("resource", "Users"), ("client", "okta"),
                                                    ("status", "201"))): 8,
                ("scim_authz_decision_log_rows_written_total", ()): 60}
        deadline = time.monotonic() + 10  # other workers hand their counts on within a second
        while True:
            after = parse(http.get(f"{origin}/metrics").text)
            got = {k: moved(before, after, k[0], **dict(k[1])) for k in want}
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert got == want
        served = {pid: n for pid, n in _per_worker(folder, "scim_authz_decisions_total").items() if n}
        assert len(served) == 2 and server.pid not in served and sum(served.values()) == 60, served

        # A worker that exits: its live gauge goes (child_exit), its counts stay in the totals.
        gone = min(served)
        assert os.path.exists(os.path.join(folder, f"gauge_livesum_{gone}.db"))
        os.kill(gone, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while os.path.exists(os.path.join(folder, f"gauge_livesum_{gone}.db")):
            assert time.monotonic() < deadline, "child_exit did not mark the worker dead"
            time.sleep(0.1)
        later = parse(http.get(f"{origin}/metrics").text)
        assert moved(before, later, "scim_authz_decisions_total") == 60
    finally:
        http.close()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert not os.path.exists(folder)  # removed when the master exited
