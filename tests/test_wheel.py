"""The built wheel is the whole server: installed into a fresh virtualenv outside the source tree,
it migrates its database, issues a token from its own CLI and serves SCIM and the console.

It needs pip to reach the package index (or its cache) for the wheel's dependencies, and runs once,
on the SQLite pass of the suite: packaging does not depend on the store."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import DATABASE_URL

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(DATABASE_URL.startswith("postgresql"),
                                reason="packaging is tested once, on the SQLite pass")


def _run(*args, cwd: Path, env: dict, timeout: int = 600) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT),
         cwd=out, env=os.environ.copy())
    (built,) = out.glob("scim_authz-*.whl")
    return built


def test_the_wheel_holds_templates_static_files_and_migrations_and_no_top_level_config(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"scim_authz"}, tops
    for expected in ("scim_authz/admin/templates/admin/login.html", "scim_authz/admin/static/console.css",
                     "scim_authz/migrations/alembic.ini", "scim_authz/migrations/env.py",
                     "scim_authz/migrations/versions/0001_directory.py", "scim_authz/config/settings.py",
                     "scim_authz/config/gunicorn.conf.py"):
        assert expected in names, f"{expected} is missing from the wheel"


def test_an_installed_wheel_migrates_issues_a_token_and_serves(wheel, tmp_path):
    venv, work = tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "SCIM_AUTHZ_INSTANCE",
                                                            "PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", str(wheel), cwd=work, env=env)
    site = Path(_run(venv / "bin" / "python", "-c", "import scim_authz, pathlib; "
                     "print(pathlib.Path(scim_authz.__file__).parent.parent)", cwd=work, env=env).strip())
    assert not (site / "config").exists(), "the wheel must not install a top-level config package"
    # Importing the settings writes nothing, anywhere.
    _run(venv / "bin" / "python", "-c", "import scim_authz.config.settings", cwd=work, env=env)
    assert list(work.iterdir()) == []

    cli = str(venv / "bin" / "scim-authz")
    _run(cli, "db", "upgrade", cwd=work, env=env)
    assert (work / "instance" / "scim-authz.db").is_file()  # ./instance under the current directory
    assert not (site / "instance").exists() and not (site / "scim_authz" / "instance").exists()
    _run(cli, "tenants", "create", "acme", cwd=work, env=env)
    token = _run(cli, "tokens", "issue", "acme", "--name", "wheel test", cwd=work, env=env).strip().splitlines()[-1]

    port = _free_port()
    server_env = {**env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1", "ACCESS_LOG": ""}
    server = subprocess.Popen([str(venv / "bin" / "gunicorn"), "-c", str(site / "scim_authz/config/gunicorn.conf.py"),
                               "scim_authz:create_app()"], cwd=work, env=server_env, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        origin = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"{origin}/scim/v2/ServiceProviderConfig", headers={"Authorization": f"Bearer {token}"})
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the server did not answer within 60 s"
                time.sleep(0.2)
        assert r.status_code == 200, r.text
        assert r.json()["patch"]["supported"] is True
        assert httpx.get(f"{origin}/scim/v2/ServiceProviderConfig").status_code == 401
        page = httpx.get(f"{origin}/admin/login")
        assert page.status_code == 200 and "Sign in" in page.text
        assert httpx.get(f"{origin}/admin/static/console.css").status_code == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert (work / "instance" / "secret_key").is_file()
