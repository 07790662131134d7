"""The service as production runs it, for fault tests: a database migrated with `flask db upgrade`, a
tenant, a SCIM token and an application API key made with the CLI, then `gunicorn -c
config/gunicorn.conf.py wsgi:app` in its own process group on a free loopback port.

bench/pg_outage.py runs the same service (the repository is first on its sys.path)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TENANT = "acme"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


# The `flask` command line's commands, run by click's test runner in one process over wsgi:app.
_FLASK_COMMANDS = """
import json, sys
from wsgi import app
runner, outputs = app.test_cli_runner(), []
for args in json.loads(sys.argv[1]):
    result = runner.invoke(args=args)
    if result.exit_code != 0:
        sys.exit(f"flask {' '.join(args)} failed ({result.exit_code}): {result.output} {result.exception!r}")
    outputs.append(result.output)
print(json.dumps(outputs))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM a process started in a group of its own, SIGKILL after 20 s, then whatever of its
    group is left (workers of a master that died first)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


class Service:
    """Our server on `database_url`, with its credentials; started and stopped by its process group."""

    def __init__(self, database_url: str, workdir: Path, **env: str):
        self.database_url, self.workdir = database_url, Path(workdir)
        self.env = {**os.environ, "DATABASE_URL": database_url, "SCIM_AUTHZ_INSTANCE": str(self.workdir),
                    "ACCESS_LOG": "", "SQLITE_SYNCHRONOUS": "OFF", **env}
        for name in ("PUBLIC_BASE_URL", "SCIM_AUTHZ_ENV", "TEST_DATABASE_URL"):
            self.env.pop(name, None)
        self.proc: subprocess.Popen | None = None
        self.origin = ""
        self.scim_token = self.api_key = ""
        self.log_path = self.workdir / "gunicorn.log"

    def flask(self, *commands: list[str]) -> list[str]:
        """`flask --app wsgi <command>` for each command, in one process (each `flask` start imports the
        whole app, seconds on a busy machine): the commands' outputs."""
        proc = subprocess.run([sys.executable, "-c", _FLASK_COMMANDS, json.dumps(commands)], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=180)
        if proc.returncode != 0:
            raise RuntimeError(f"flask commands failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def prepare(self, api_key: bool = True) -> Service:
        """Migrate, create the tenant, issue a SCIM token and (unless told not to) an API key."""
        commands = [["db", "upgrade"], ["tenants", "create", TENANT], ["tokens", "issue", TENANT]]
        if api_key:
            commands.append(["tokens", "issue", TENANT, "--kind", "app"])
        out = self.flask(*commands)
        self.scim_token = out[2].strip().splitlines()[-1].strip()
        if api_key:
            self.api_key = out[3].strip().splitlines()[-1].strip()
        return self

    def start(self, timeout: float = 60, port: int | None = None) -> Service:
        """Start gunicorn on `port` (a free one by default; a restart passes the one it had)."""
        port = port or free_port()
        self.origin = f"http://127.0.0.1:{port}"
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen([str(BIN / "gunicorn"), "--name", "faults", "-c", "config/gunicorn.conf.py",
                                          "wsgi:app"], cwd=ROOT, env={**self.env, "BIND": f"127.0.0.1:{port}"},
                                         stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = httpx.get(f"{self.origin}/scim/v2/ServiceProviderConfig", headers=self.scim_headers, timeout=5)
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not start; log:\n{self.log_tail()}")
            time.sleep(0.1)
        workers = int(self.env.get("WEB_CONCURRENCY", 0))
        while workers and len(self.worker_pids()) < workers and time.monotonic() < deadline:
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def master_pid(self) -> int:
        return self.proc.pid

    def worker_pids(self) -> list[int]:
        """gunicorn's workers: the live children of the master."""
        return sorted(int(p.name) for p in Path("/proc").iterdir()
                      if p.name.isdigit() and _ppid(int(p.name)) == self.proc.pid)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    @property
    def scim_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.scim_token}", "Content-Type": "application/scim+json"}

    @property
    def api_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}"}

    def scim(self, timeout: float = 60) -> httpx.Client:
        return httpx.Client(base_url=f"{self.origin}/scim/v2", headers=self.scim_headers, timeout=timeout)

    def api(self, timeout: float = 60) -> httpx.Client:
        return httpx.Client(base_url=f"{self.origin}/v1", headers=self.api_headers, timeout=timeout)


def user_body(user_name: str) -> dict:
    return {"schemas": [USER_SCHEMA], "userName": user_name, "displayName": user_name.split("@")[0],
            "active": True, "emails": [{"value": user_name, "type": "work"}]}


def bulk_of_users(names: list[str]) -> dict:
    """A /Bulk request (RFC 7644 §3.7) of one POST /Users per name."""
    return {"schemas": [BULK_SCHEMA], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": user_body(name)}
        for i, name in enumerate(names)]}


def scim_error_problems(r: httpx.Response, status: int) -> list[str]:
    """What is wrong with a SCIM error response (RFC 7644 §3.12); empty when it is well formed."""
    try:
        body = r.json()
    except ValueError:
        return [f"not JSON: {r.text[:200]!r}"]
    problems = []
    if not r.headers.get("content-type", "").startswith("application/scim+json"):
        problems.append(f"Content-Type {r.headers.get('content-type')!r}")
    if body.get("schemas") != [SCIM_ERROR]:
        problems.append(f"schemas {body.get('schemas')!r}")
    if body.get("status") != str(status):
        problems.append(f"status {body.get('status')!r}")
    if not isinstance(body.get("detail"), str) or not body["detail"]:
        problems.append("no detail")
    return problems


def json_error_problems(r: httpx.Response, status: int) -> list[str]:
    """What is wrong with a /v1 JSON error ({"error": {status, code, message}}); empty when well formed."""
    try:
        err = r.json()["error"]
    except (ValueError, KeyError, TypeError):
        return [f"not /v1's error shape: {r.text[:200]!r}"]
    problems = []
    if not r.headers.get("content-type", "").startswith("application/json"):
        problems.append(f"Content-Type {r.headers.get('content-type')!r}")
    if err.get("status") != status:
        problems.append(f"status {err.get('status')!r}")
    if not isinstance(err.get("code"), str) or not err["code"]:
        problems.append("no code")
    if not isinstance(err.get("message"), str) or not err["message"]:
        problems.append("no message")
    return problems
