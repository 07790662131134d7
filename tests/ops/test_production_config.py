"""SCIM_AUTHZ_ENV=production refuses to start without the settings a shared deployment needs, naming
each missing one in one message; /v1 bodies are capped (API_MAX_REQUEST_BYTES, or MAX_CONTENT_LENGTH)
with a 413 and /v1's JSON error, declared or chunked."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scim_authz import create_app
from scim_authz.config import settings
from tests.conftest import close_app

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "s" * 48


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    """No production setting in the environment; the instance folder in tmp_path."""
    for name in ("SECRET_KEY", "DATABASE_URL", "PUBLIC_BASE_URL", "TRUSTED_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SCIM_AUTHZ_INSTANCE", str(tmp_path))
    return tmp_path


def _production(**given) -> dict:
    """A production config with nothing but `given` set (the class defaults otherwise)."""
    return {"ENV_NAME": "production", "SECRET_KEY": None, "SQLALCHEMY_DATABASE_URI": settings.DEFAULT_DATABASE_URI,
            "PUBLIC_BASE_URL": "", **given}


@pytest.mark.parametrize("given, missing", [
    ({}, ["SECRET_KEY", "DATABASE_URL", "PUBLIC_BASE_URL"]),
    ({"PUBLIC_BASE_URL": "https://authz.example.com"}, ["SECRET_KEY", "DATABASE_URL"]),
    ({"PUBLIC_BASE_URL": "https://authz.example.com", "SECRET_KEY": SECRET}, ["DATABASE_URL"]),
    ({"PUBLIC_BASE_URL": "https://authz.example.com", "SQLALCHEMY_DATABASE_URI": "sqlite://"}, ["SECRET_KEY"]),
    ({"SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": "sqlite://"}, ["PUBLIC_BASE_URL"]),
])
def test_production_names_every_missing_setting_in_one_message(production_env, given, missing):
    with pytest.raises(settings.ConfigurationError) as raised:
        create_app(_production(**given))
    message = str(raised.value)
    assert message.startswith("SCIM_AUTHZ_ENV=production refuses to start without 1. ")
    for name in ("SECRET_KEY", "DATABASE_URL", "PUBLIC_BASE_URL"):
        assert (f". {name} (" in message) is (name in missing), message
    assert not (production_env / "secret_key").exists()  # refused before the instance folder is written


def test_production_starts_with_them(production_env, tmp_path):
    app = create_app(_production(SECRET_KEY=SECRET, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.db'}",
                                 PUBLIC_BASE_URL="https://authz.example.com"))
    try:
        assert app.config["SECRET_KEY"] == SECRET
    finally:
        close_app(app)


def test_database_url_naming_the_embedded_file_is_a_choice_and_accepted(production_env, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.DEFAULT_DATABASE_URI)
    app = create_app(_production(SECRET_KEY=SECRET, PUBLIC_BASE_URL="https://authz.example.com"))
    close_app(app)


def _cli(env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "scim-authz"), *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=env)


def test_the_command_line_refuses_with_the_message_and_no_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "TRUSTED_HOSTS")}
    env.update(SCIM_AUTHZ_ENV="production", SCIM_AUTHZ_INSTANCE=str(tmp_path), PUBLIC_BASE_URL="https://a.example")
    done = _cli(env, "tenants", "list")
    assert done.returncode == 1
    assert done.stderr.startswith("scim-authz: SCIM_AUTHZ_ENV=production refuses to start without 1. SECRET_KEY (")
    assert "2. DATABASE_URL (" in done.stderr and "Traceback" not in done.stderr
    # The same command with both set works: the refusal was about them.
    env.update(SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'p.db'}")
    assert _cli(env, "db", "upgrade").returncode == 0
    done = _cli(env, "tenants", "list")
    assert done.returncode == 0, done.stderr


# ---- /v1 request bodies ---------------------------------------------------------------------------

def _big_check(size: int) -> bytes:
    return json.dumps({"user": "ann", "action": "view", "resource": "document:1",
                       "context": {"padding": "x" * size}}).encode()


def _payload_too_large(r) -> None:
    assert r.status_code == 413, r.get_data(as_text=True)[:200]
    assert r.content_type == "application/json"
    error = r.get_json()["error"]
    assert error["status"] == 413 and error["code"] == "payload_too_large"


def test_a_v1_check_over_the_cap_is_413_with_a_json_error(app, api):
    app.config["API_MAX_REQUEST_BYTES"] = 4096
    _payload_too_large(api.post("/check", raw=_big_check(5000)))
    assert api.post("/check", raw=_big_check(3000)).status_code == 200


def test_a_chunked_v1_check_over_the_cap_is_413_too(app, api):
    """gunicorn hands a chunked body over with no length and a terminated stream."""
    app.config["API_MAX_REQUEST_BYTES"] = 4096
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json",
               "Transfer-Encoding": "chunked"}
    r = api.client.post("/v1/check", input_stream=io.BytesIO(_big_check(5000)), headers=headers,
                        environ_overrides={"wsgi.input_terminated": True})
    _payload_too_large(r)
    r = api.client.post("/v1/check", input_stream=io.BytesIO(_big_check(3000)), headers=headers,
                        environ_overrides={"wsgi.input_terminated": True})
    assert r.status_code == 200, r.get_data(as_text=True)[:200]


# The settings are read when the process imports them: a process of its own for each environment.
_CAP = """
import json, sys
from scim_authz import create_app
from scim_authz.db.extensions import db
from tests.conftest import issue_app_key, make_tenant
app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite:///%s"})
with app.app_context():
    db.create_all()
key = issue_app_key(app, make_tenant(app, "acme")[0])
body = json.dumps({"user": "ann", "action": "view", "resource": "document:1", "context": {"p": "x" * 3000}})
r = app.test_client().post("/v1/check", data=body, content_type="application/json",
                           headers={"Authorization": "Bearer " + key})
print(json.dumps({"cap": app.config["API_MAX_REQUEST_BYTES"], "status": r.status_code, "body": r.get_json()}))
"""


@pytest.mark.parametrize("env, cap, status", [
    ({"MAX_CONTENT_LENGTH": "2048"}, 2048, 413),
    ({"MAX_CONTENT_LENGTH": "2048", "API_MAX_REQUEST_BYTES": "65536"}, 65536, 200),  # API_MAX_REQUEST_BYTES wins
    ({}, 8 * 1_048_576, 200),
])
def test_max_content_length_from_the_environment_caps_v1_bodies(tmp_path, env, cap, status):
    base = {k: v for k, v in os.environ.items() if k not in ("MAX_CONTENT_LENGTH", "API_MAX_REQUEST_BYTES")}
    done = subprocess.run([sys.executable, "-c", _CAP % (tmp_path / "cap.db")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**base, **env})
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["cap"], result["status"]) == (cap, status), done.stderr[-2000:]
    if status == 413:
        assert result["body"]["error"]["code"] == "payload_too_large"
