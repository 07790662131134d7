"""GET /healthz and GET /readyz: what a load balancer is told, and why, on an app of each state.

Each test builds its own app on a SQLite file (the checks read the schema Alembic left, which the
suite's other apps do not have), or on a PostgreSQL address where nothing listens."""
from __future__ import annotations

import shutil
import socket

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from scim_authz import create_app, pdp
from scim_authz.db.extensions import db
from scim_authz.ops.health import migration_heads
from tests.conftest import app_config, close_app, make_tenant

SECRET_NAME = "acme-secret-tenant-name"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def make_app(tmp_path):
    """make(url=None, revision="head", load=True, **config): an app on a fresh SQLite file (or `url`),
    migrated to `revision` (None: not at all), its decision point loaded or not."""
    apps = []

    def make(url=None, revision="head", load=True, **config):
        app = create_app({**app_config(url or f"sqlite:///{tmp_path / 'db' / 'h.db'}"), **config})
        apps.append(app)
        if revision is not None:
            with app.app_context():
                upgrade(revision=revision)
        if revision == "head":
            make_tenant(app, SECRET_NAME)
        if load:
            with app.app_context():
                pdp.engine(app).load_all()
        return app

    yield make
    for app in apps:
        close_app(app)


def _set_schema_revision(app, revision: str) -> None:
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})


def test_healthz_answers_ok_without_a_credential_or_a_database():
    app = create_app(app_config(f"postgresql+psycopg://nobody@127.0.0.1:{_free_port()}/none"))
    try:
        r = app.test_client().get("/healthz")
        assert r.status_code == 200 and r.get_json() == {"status": "ok"}
        assert r.headers["Cache-Control"] == "no-store"
    finally:
        close_app(app)


def test_readyz_is_ready_when_the_database_answers_at_head_and_the_policies_are_loaded(make_app):
    app = make_app()
    r = app.test_client().get("/readyz")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True, "migrations": True, "decision_point": True}
    heads, _ = migration_heads()
    assert body["checks"]["migrations"]["revision"] == ",".join(sorted(heads))
    assert SECRET_NAME not in r.get_data(as_text=True)


def test_readyz_is_503_until_the_decision_point_is_loaded(make_app):
    app = make_app(load=False)
    r = app.test_client().get("/readyz")
    assert r.status_code == 503
    body = r.get_json()
    assert body["status"] == "unavailable" and body["failed"] == ["decision_point"]
    assert "not loaded" in body["reason"] and body["checks"]["database"]["ok"] is True
    with app.app_context():
        pdp.engine(app).load_all()
    assert app.test_client().get("/readyz").status_code == 200


def test_readyz_is_503_when_the_schema_is_behind_the_migrations(make_app):
    heads, _ = migration_heads()
    app = make_app(revision="0005_report_uncheckable", load=False)
    r = app.test_client().get("/readyz")
    body = r.get_json()
    assert r.status_code == 503 and "migrations" in body["failed"]
    reason = body["checks"]["migrations"]["reason"]
    assert "0005_report_uncheckable" in reason and next(iter(heads)) in reason and "db upgrade" in reason


def test_readyz_is_503_when_the_schema_revision_row_is_set_back(make_app):
    app = make_app()
    _set_schema_revision(app, "0004_decision_log")
    r = app.test_client().get("/readyz")
    assert r.status_code == 503 and r.get_json()["failed"] == ["migrations"]
    assert "0004_decision_log" in r.get_json()["reason"]


def test_readyz_is_503_on_a_database_no_migration_made(make_app):
    app = make_app(revision=None, load=False)
    with app.app_context():
        db.create_all()  # the tables, but no alembic_version: nothing says which revision they are
    body = app.test_client().get("/readyz").get_json()
    assert body["checks"]["migrations"] == {
        "ok": False, "reason": "the database has no schema revision: run `scim-authz db upgrade` "
                               "(in a checkout, `flask --app wsgi db upgrade`) once, from one host"}


def test_readyz_takes_a_revision_it_does_not_know_for_a_newer_versions_and_stays_ready(make_app):
    """During a rolling upgrade the new version migrates first; the old instances must stay in."""
    app = make_app()
    _set_schema_revision(app, "9999_from_a_newer_version")
    r = app.test_client().get("/readyz")
    assert r.status_code == 200
    migrations = r.get_json()["checks"]["migrations"]
    assert migrations["ok"] is True and "newer" in migrations["note"]


def test_readyz_is_503_when_the_sqlite_database_is_gone(make_app, tmp_path):
    app = make_app()
    with app.app_context():
        db.engine.dispose()
    shutil.rmtree(tmp_path / "db")  # its directory too: SQLite cannot even create an empty one
    r = app.test_client().get("/readyz")
    body = r.get_json()
    assert r.status_code == 503 and body["failed"] == ["database", "migrations"]
    assert body["checks"]["database"]["reason"] == "the query failed (OperationalError)"
    assert str(tmp_path) not in r.get_data(as_text=True)  # the probe is public: no paths, no hosts


def test_readyz_is_503_when_postgresql_does_not_listen(make_app):
    port = _free_port()
    app = make_app(url=f"postgresql+psycopg://scim@127.0.0.1:{port}/scim", revision=None, load=False)
    r = app.test_client().get("/readyz")
    body = r.get_json()
    assert r.status_code == 503 and body["failed"] == ["database", "migrations", "decision_point"]
    assert body["reason"] == "the query failed (OperationalError)"
    assert str(port) not in r.get_data(as_text=True)


def test_readyz_gives_up_on_a_database_that_does_not_answer_and_asks_it_once_at_a_time(make_app):
    """A peer that accepts the connection and never speaks: the probe fails after its timeout, and
    while that query waits, the next probe fails at once instead of stacking another."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever answers
    port = silent.getsockname()[1]
    try:
        app = make_app(url=f"postgresql+psycopg://scim@127.0.0.1:{port}/scim", revision=None, load=False,
                       READYZ_TIMEOUT_SECONDS=0.3)
        client = app.test_client()
        body = client.get("/readyz").get_json()
        assert body["failed"][0] == "database" and body["reason"] == "no answer within 0.3 s"
        body = client.get("/readyz").get_json()
        assert body["reason"] == "an earlier query has had no answer for over 0.3 s"
    finally:
        silent.close()


def test_health_routes_are_counted_by_no_rate_limit(make_app):
    tiny = "1/min,1"
    app = make_app(RATE_LIMIT_API_ADDRESS=tiny, RATE_LIMIT_SCIM_ADDRESS=tiny, RATE_LIMIT_CONSOLE_ADDRESS=tiny)
    client = app.test_client()
    assert [client.get(path).status_code for path in ("/healthz", "/readyz") * 5] == [200] * 10
    assert [client.get("/admin/login").status_code for _ in range(2)] == [200, 429]  # the limit is on
