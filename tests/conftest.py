"""Fixtures: a fresh app per test on the store TEST_DATABASE_URL names (in-memory SQLite by default)."""
from __future__ import annotations

import atexit
import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import text

from scim_authz import create_app
from scim_authz.credentials.keys import issue_credential
from scim_authz.db.extensions import db
from scim_authz.policy.tenants import create_tenant

DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or "sqlite://"  # SQLite runs on a file per test
SAMPLES = Path(__file__).parent / "samples"
_pg_schema_ready = False
# Each test process gets its own PostgreSQL schema, so parallel runs on one database never collide.
PG_SCHEMA = f"test_{os.getpid()}"


def app_config(url: str = DATABASE_URL) -> dict:
    """Settings for a test app on `url`."""
    cfg = {"ENV_NAME": "testing", "TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SQLITE_SYNCHRONOUS": "OFF"}
    if url.startswith("postgresql"):
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"options": f"-csearch_path={PG_SCHEMA}"}}
    return cfg


@pytest.fixture(scope="session", autouse=True)
def _postgres_schema():
    """Create this process's schema on PostgreSQL, and drop it at the end."""
    if not DATABASE_URL.startswith("postgresql"):
        yield
        return
    from sqlalchemy import create_engine
    engine = create_engine(DATABASE_URL)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    yield
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
    engine.dispose()


_pg_reset_sql: str | None = None


def _reset_postgres(app):
    """Create the schema once per session, then empty every table between tests.

    A test leaves a few rows: deleting them (triggers and foreign keys off for the session) and
    restarting the sequences is one round trip of a few milliseconds, where TRUNCATE of every table
    took some 40 ms a test (a new file for each table)."""
    global _pg_schema_ready, _pg_reset_sql
    if not _pg_schema_ready:
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        db.create_all()
        _pg_schema_ready = True
    if _pg_reset_sql is None:
        sequences = db.session.execute(text(
            "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = current_schema()"
        )).scalars().all()
        db.session.rollback()
        _pg_reset_sql = "; ".join(
            ["SET LOCAL session_replication_role = replica"]
            + [f'DELETE FROM "{t.name}"' for t in reversed(db.metadata.sorted_tables)]
            + [f'ALTER SEQUENCE "{s}" RESTART' for s in sequences])
    db.session.connection().exec_driver_sql(_pg_reset_sql)
    db.session.commit()


_sqlite_template: Path | None = None


def _sqlite_schema(path: Path) -> None:
    """An empty database with the whole schema at `path`: made with create_all once per test
    process, then copied for each test (a copy takes a millisecond, create_all some 20)."""
    global _sqlite_template
    if _sqlite_template is None:
        template = Path(tempfile.mkdtemp(prefix="scim-authz-schema-")) / "schema.db"
        atexit.register(shutil.rmtree, template.parent, True)
        made = create_app(app_config(f"sqlite:///{template}"))
        with made.app_context():
            db.create_all()
        close_app(made)
        con = sqlite3.connect(template)  # one self-contained file: the WAL folded in and gone
        con.execute("PRAGMA journal_mode=DELETE")
        con.close()
        _sqlite_template = template
    shutil.copyfile(_sqlite_template, path)


@pytest.fixture
def app(tmp_path):
    # A file, not :memory:, so the engine's own connections are real, separate connections.
    url = DATABASE_URL if DATABASE_URL.startswith("postgresql") else f"sqlite:///{tmp_path / 'test.db'}"
    if not DATABASE_URL.startswith("postgresql"):
        _sqlite_schema(tmp_path / "test.db")
    app = create_app(app_config(url))
    if DATABASE_URL.startswith("postgresql"):
        with app.app_context():
            _reset_postgres(app)
    yield app
    close_app(app)


@pytest.fixture
def live_app(app):
    """The test app, for tests that serve it over real HTTP (tests/integration/live.py)."""
    return app


def close_app(app) -> None:
    """Stop what an app started (the decision log writer) and release its connections."""
    from scim_authz import pdp
    pdp.close(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def make_tenant(app, key: str) -> tuple[int, str]:
    """Create a tenant with a SCIM token; returns (tenant id, token). A write from its first
    statement, as a request's would be: on SQLite a read that turns into a write fails at once when
    another connection (the decision log's) committed in between."""
    from scim_authz.db.txn import intent

    with app.app_context(), intent(True):
        tenant = create_tenant(key)
        issued = issue_credential(tenant, "scim", "tests")
        db.session.commit()
        return tenant.id, issued.secret


class SCIMClient:
    """A test client that speaks SCIM: base path, bearer token, JSON bodies, parsed responses."""

    def __init__(self, client, token: str, base: str = "/scim/v2"):
        self.client, self.token, self.base = client, token, base

    def request(self, method: str, path: str, body=None, *, headers=None, raw: bytes | str | None = None, **kw):
        h = {"Authorization": f"Bearer {self.token}"}
        if body is not None or raw is not None:
            h["Content-Type"] = "application/scim+json"
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        return self.client.open(self.base + path, method=method, data=data, headers=h, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def tenant(app):
    """The id and SCIM token of a tenant named acme."""
    return make_tenant(app, "acme")


@pytest.fixture
def scim(client, tenant):
    return SCIMClient(client, tenant[1])


@pytest.fixture
def other_scim(app, client):
    """A SCIM client for a second tenant, for isolation tests."""
    return SCIMClient(client, make_tenant(app, "globex")[1])


@pytest.fixture
def sample():
    """Load an RFC example by its file name under tests/samples (named by RFC section)."""
    def load(name: str):
        return json.loads((SAMPLES / name).read_text())
    return load


def patch_op(*ops):
    """A PatchOp message (RFC 7644 §3.5.2)."""
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(ops)}


class APIClient:
    """A test client for /v1 with an application API key."""

    def __init__(self, client, key: str):
        self.client, self.key = client, key

    def request(self, method: str, path: str, body=None, *, headers=None, raw=None, **kw):
        h = {"Authorization": f"Bearer {self.key}"}
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        return self.client.open("/v1" + path, method=method, data=data, headers=h, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def issue_app_key(app, tenant_id: int) -> str:
    from scim_authz.db.models import Tenant
    from scim_authz.db.txn import intent
    with app.app_context(), intent(True):  # a write from the start (see make_tenant)
        issued = issue_credential(db.session.get(Tenant, tenant_id), "app", "tests")
        db.session.commit()
        return issued.secret


@pytest.fixture
def api(client, app, tenant):
    """A /v1 client with an API key of tenant acme (the tenant `scim` provisions)."""
    return APIClient(client, issue_app_key(app, tenant[0]))


@pytest.fixture
def other_api(client, app):
    """A /v1 client of a second tenant."""
    tid, _ = make_tenant(app, "initech")
    return APIClient(client, issue_app_key(app, tid))
