"""Log lines: JSON objects with the request's id, tenant and decision id; X-Request-ID kept or made
and echoed; plain text on demand; and all of it through a real gunicorn, as `make run` starts it."""
from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from scim_authz import create_app
from scim_authz.ops.logs import JsonLines, RequestFields, TextLines, logging_config, settings
from tests.conftest import DATABASE_URL, app_config, close_app

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MADE_UP = re.compile(r"[0-9a-f]{12}-[0-9a-f]+")
# A check of a known user against a schema version the tenant does not have: denied by error, and logged.
FAILING_CHECK = {"user": "ann", "action": "view", "resource": "document:1", "schema_version": 999}
ON_SQLITE_ONLY = pytest.mark.skipif(DATABASE_URL.startswith("postgresql"),
                                    reason="the app server's logging does not depend on the store")


@pytest.fixture
def lines():
    """Log records of every logger, as the JSON lines the server writes; the list of parsed lines."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLines())
    handler.addFilter(RequestFields())
    root = logging.getLogger()
    root.addHandler(handler)
    parsed: list[dict] = []

    def read() -> list[dict]:
        parsed[:] = [json.loads(line) for line in out.getvalue().splitlines()]
        return parsed

    yield read
    root.removeHandler(handler)


@pytest.fixture
def ann(scim):
    assert scim.post("/Users", {"userName": "ann"}).status_code == 201


def test_a_line_about_a_decision_carries_the_request_id_the_tenant_and_the_decision_id(api, ann, lines):
    r = api.post("/check", FAILING_CHECK, headers={"X-Request-ID": "trace-42.a:b_c"})
    assert r.status_code == 200 and r.get_json()["allowed"] is False
    assert r.headers["X-Request-ID"] == "trace-42.a:b_c"
    [line] = [line for line in lines() if line["logger"] == "scim_authz.authz"]
    assert line["level"] == "WARNING" and "check denied by error" in line["message"]
    assert line["request_id"] == "trace-42.a:b_c"
    assert line["tenant"] == "acme"
    assert line["decision_id"] == r.get_json()["decision_id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert line["pid"] == os.getpid()
    assert list(line)[:5] == ["time", "level", "logger", "message", "pid"]


def test_each_decision_of_a_bulk_check_is_logged_with_its_own_id(api, ann, lines):
    r = api.post("/check/bulk", {"checks": [FAILING_CHECK, FAILING_CHECK]})
    ids = [result["decision_id"] for result in r.get_json()["results"]]
    logged = [line["decision_id"] for line in lines() if line["logger"] == "scim_authz.authz"]
    assert logged == ids and len(set(ids)) == 2


def test_outside_a_request_the_fields_are_there_and_null(lines):
    logging.getLogger("scim_authz.test").warning("no request here")
    [line] = lines()
    assert line["message"] == "no request here"
    assert (line["request_id"], line["tenant"], line["decision_id"]) == (None, None, None)


def test_an_extra_decision_id_is_kept(lines):
    logging.getLogger("scim_authz.test").warning("about one decision", extra={"decision_id": "d-1"})
    assert lines()[0]["decision_id"] == "d-1"


@pytest.mark.parametrize("sent, kept", [
    ("abc", True),
    ("A" * 128, True),
    ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
    ("A" * 129, False),
    ("has space", False),
    ("<script>", False),
    ("tab\there", False),
    ("semi;colon", False),
    ("", False),
])
def test_an_incoming_request_id_is_kept_when_sane_and_replaced_otherwise(client, sent, kept):
    r = client.get("/healthz", headers={"X-Request-ID": sent})
    assert (r.headers["X-Request-ID"] == sent) is kept
    if not kept:
        assert MADE_UP.fullmatch(r.headers["X-Request-ID"])


def test_without_one_a_request_id_is_made_and_sent_back_on_every_response_errors_too(client, api):
    ids = [client.get("/healthz").headers["X-Request-ID"], client.get("/no/such/page").headers["X-Request-ID"],
           api.post("/check", raw=b"{not json").headers["X-Request-ID"],
           client.get("/v1/roles").headers["X-Request-ID"]]  # a 404, a 400, a 401
    assert all(MADE_UP.fullmatch(i) for i in ids) and len(set(ids)) == 4


def test_settings_refuse_a_bad_format_or_level():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        settings("xml")
    with pytest.raises(ValueError, match="LOG_LEVEL"):
        settings("json", "LOUD")
    assert settings("TEXT", "debug") == ("text", logging.DEBUG)


def test_create_app_leaves_logging_alone_when_it_is_set_up_already(tmp_path):
    root = logging.getLogger()
    before = list(root.handlers)
    assert before, "pytest's capture is on the root logger"
    app = create_app(app_config(f"sqlite:///{tmp_path / 'x.db'}"))
    close_app(app)
    assert root.handlers == before


def test_text_lines_put_the_request_fields_after_the_message():
    record = logging.LogRecord("scim_authz.x", logging.WARNING, __file__, 1, "hello %s", ("there",), None)
    record.request_id, record.tenant, record.decision_id = "r-1", "acme", None
    line = TextLines().format(record)
    assert line.endswith(" WARNING scim_authz.x: hello there [request_id=r-1 tenant=acme]")


# ---- outside pytest: create_app's own set-up, as `flask run` and the CLI get it ------------------

_PROBE = """
import logging
from scim_authz import create_app
app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite:///%s"})
r = app.test_client().get("/readyz", headers={"X-Request-ID": "probe-7"})  # not migrated: logs why
logging.getLogger("scim_authz.test").info("an info line")
print(r.status_code)
"""


def _probe(tmp_path, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _PROBE % (tmp_path / "p.db")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **env})


def test_log_format_text_gives_plain_lines(tmp_path):
    done = _probe(tmp_path, LOG_FORMAT="text")
    assert done.stdout.strip() == "503", done.stderr
    err = done.stderr.splitlines()
    assert not any(line.startswith("{") for line in err)
    assert any(" WARNING scim_authz.ops.health: readiness: migrations fails: " in line
               and line.endswith("[request_id=probe-7]") for line in err), err
    assert any(line.endswith(" INFO scim_authz.test: an info line") for line in err), err


def test_log_format_json_outside_gunicorn(tmp_path):
    done = _probe(tmp_path, LOG_FORMAT="json", LOG_LEVEL="INFO")
    parsed = [json.loads(line) for line in done.stderr.splitlines()]
    health = [p for p in parsed if p["logger"] == "scim_authz.ops.health"]
    assert health and all(p["request_id"] == "probe-7" for p in health)
    assert any(p["message"] == "an info line" and p["level"] == "INFO" for p in parsed)


def test_log_level_warning_drops_info_lines(tmp_path):
    done = _probe(tmp_path, LOG_FORMAT="text", LOG_LEVEL="WARNING")
    assert "an info line" not in done.stderr and "readiness: migrations fails" in done.stderr


# ---- under gunicorn --------------------------------------------------------------------------------

def test_logging_config_keeps_gunicorns_access_log_where_access_log_says():
    assert logging_config("json", "INFO", "-")["handlers"]["access"]["stream"] == "ext://sys.stdout"
    assert logging_config("json", "INFO", "/var/log/a.log")["handlers"]["access"]["filename"] == "/var/log/a.log"
    assert "gunicorn.access" not in logging_config("json", "INFO", None)["loggers"]  # ACCESS_LOG="": none
    assert "gunicorn.access" not in logging_config("text", "INFO", "-")["loggers"]  # gunicorn's own lines


# What `make run` does before it starts gunicorn (db upgrade, a tenant, its credentials), in one process.
_SETUP = """
from flask_migrate import upgrade
from scim_authz import create_app
from scim_authz.credentials.keys import issue_credential
from scim_authz.db.extensions import db
from scim_authz.policy.tenants import create_tenant
app = create_app()
with app.app_context():
    upgrade()
    tenant = create_tenant("acme")
    print(issue_credential(tenant, "app", "logs").secret, issue_credential(tenant, "scim", "logs").secret)
    db.session.commit()
"""


@pytest.fixture
def gunicorn(tmp_path):
    """start(**env) -> origin: a gunicorn as `make run` starts it, its stdout and stderr in files;
    yields (start, an API key and a SCIM token of tenant acme, logs), logs(name) reading tmp_path/name."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", "SCIM_AUTHZ_INSTANCE": str(tmp_path),
           "WEB_CONCURRENCY": "1", "SQLITE_SYNCHRONOUS": "OFF"}
    for name in ("PUBLIC_BASE_URL", "LOG_FORMAT", "LOG_LEVEL", "ACCESS_LOG", "SCIM_AUTHZ_ENV"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", _SETUP], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    key, scim_token = done.stdout.split()
    procs = []

    def logs(name: str) -> str:
        return (tmp_path / name).read_text()

    def start(name: str, **extra) -> str:
        from tests.test_app_server import _free_port
        port = _free_port()
        out, err = open(tmp_path / f"{name}.out", "w"), open(tmp_path / f"{name}.err", "w")
        procs.append((subprocess.Popen([str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                                       env={**env, "BIND": f"127.0.0.1:{port}", **extra}, start_new_session=True,
                                       stdout=out, stderr=err), out, err))
        origin = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{origin}/healthz")
                return origin
            except httpx.TransportError:
                assert procs[-1][0].poll() is None and time.monotonic() < deadline, logs(f"{name}.err")
                time.sleep(0.2)

    yield start, key, scim_token, logs
    for proc, out, err in procs:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        out.close()
        err.close()


def _settled(read, predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        text = read()
        if predicate(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


@ON_SQLITE_ONLY
def test_under_gunicorn_the_apps_info_lines_and_gunicorns_own_are_json_on_stderr(gunicorn):
    start, key, scim_token, logs = gunicorn
    origin = start("json")
    assert httpx.post(f"{origin}/scim/v2/Users", json={"userName": "ann"},
                      headers={"Authorization": f"Bearer {scim_token}"}).status_code == 201
    r = httpx.get(f"{origin}/readyz", headers={"X-Request-ID": "probe-1"})
    assert r.status_code == 200 and r.headers["X-Request-ID"] == "probe-1", r.text
    r = httpx.post(f"{origin}/v1/check", json=FAILING_CHECK,
                   headers={"Authorization": f"Bearer {key}", "X-Request-ID": "check-1"})
    assert r.status_code == 200
    decision_id = r.json()["decision_id"]
    err = _settled(lambda: logs("json.err"), lambda t: "check denied by error" in t)
    parsed = [json.loads(line) for line in err.splitlines()]  # every line of stderr is a JSON object
    assert any(p["logger"] == "gunicorn.error" and "Booting worker" in p["message"] for p in parsed)
    assert any(p["logger"] == "scim_authz.pdp" and p["level"] == "INFO" and p["message"].startswith("loaded ")
               for p in parsed)
    [ready] = [p for p in parsed if p["logger"] == "scim_authz.ops.health"]
    assert ready["level"] == "INFO" and ready["message"].startswith("ready:") and ready["request_id"] == "probe-1"
    [denied] = [p for p in parsed if p["logger"] == "scim_authz.authz"]
    assert (denied["request_id"], denied["tenant"], denied["decision_id"]) == ("check-1", "acme", decision_id)
    # The access log (ACCESS_LOG, stdout by default) keeps working, as JSON lines with the request id.
    out = _settled(lambda: logs("json.out"), lambda t: "check-1" in t)
    access = [json.loads(line) for line in out.splitlines()]
    [line] = [a for a in access if a.get("request_id") == "check-1"]
    assert (line["logger"], line["method"], line["path"], line["status"]) == ("gunicorn.access", "POST",
                                                                                "/v1/check", 200)
    assert '"POST /v1/check HTTP/1.1" 200' in line["message"]


@ON_SQLITE_ONLY
def test_under_gunicorn_log_format_text_gives_plain_lines_and_the_usual_access_log(gunicorn):
    start, _key, _scim_token, logs = gunicorn
    origin = start("text", LOG_FORMAT="text")
    assert httpx.get(f"{origin}/readyz", headers={"X-Request-ID": "probe-2"}).status_code == 200
    err = _settled(lambda: logs("text.err"), lambda t: "probe-2" in t)
    assert not any(line.startswith("{") for line in err.splitlines())
    assert re.search(r" INFO scim_authz\.ops\.health: ready: .*\[request_id=probe-2\]$", err, re.M), err
    assert re.search(r" INFO gunicorn\.error: Booting worker", err), err
    out = _settled(lambda: logs("text.out"), lambda t: "GET /readyz" in t)
    assert re.search(r'^127\.0\.0\.1 - - \[.*\] "GET /readyz HTTP/1\.1" 200 ', out, re.M), out
