"""SQLite at SQLITE_SYNCHRONOUS=FULL commits by group commit (scim_authz/db/wal_sync.py): a SCIM
write's WAL is flushed to disk after its COMMIT, once the writers' turn is free, and before its
answer; any other commit is flushed before commit() returns; a flush that fails is not
acknowledged. SQLite only (PostgreSQL flushes its own log at commit)."""
from __future__ import annotations

import os
import sqlite3

import pytest
from sqlalchemy import text

from scim_authz import create_app
from scim_authz.db import wal_sync
from scim_authz.db.extensions import db
from scim_authz.db.write_turn import turn_for
from tests.conftest import DATABASE_URL, SCIMClient, _sqlite_schema, app_config, close_app, make_tenant

pytestmark = pytest.mark.skipif(DATABASE_URL.startswith("postgresql"), reason="SQLite's own durability")


def _app(tmp_path, **settings):
    _sqlite_schema(tmp_path / "full.db")
    return create_app({**app_config(f"sqlite:///{tmp_path / 'full.db'}"), "SQLITE_SYNCHRONOUS": "FULL", **settings})


@pytest.fixture
def full_app(tmp_path):
    app = _app(tmp_path)
    yield app
    close_app(app)


@pytest.fixture
def flushes(monkeypatch):
    """Every fsync the group commit makes, by the path of the file flushed."""
    seen: list[dict] = []
    real = wal_sync._fsync

    def spy(fd):
        path = os.readlink(f"/proc/self/fd/{fd}")
        seen.append({"path": path})
        real(fd)
    monkeypatch.setattr(wal_sync, "_fsync", spy)
    return seen


def _user(name):
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}


def test_a_scim_write_reaches_the_disk_after_its_commit_with_the_writers_turn_free_and_before_its_answer(
        full_app, tmp_path, monkeypatch):
    database = str(tmp_path / "full.db")
    _, token = make_tenant(full_app, "acme")
    scim = SCIMClient(full_app.test_client(), token)
    with full_app.app_context():
        turn = turn_for(db.engine)
    seen: list[dict] = []
    real = wal_sync._fsync

    def spy(fd):
        path = os.readlink(f"/proc/self/fd/{fd}")
        if path.endswith("-wal"):
            # Another connection, outside this process's pool: is the user committed already?
            other = sqlite3.connect(database)
            try:
                committed = other.execute("SELECT count(*) FROM users WHERE user_name = ?",
                                          ("ada@example.com",)).fetchone()[0]
            finally:
                other.close()
            seen.append({"path": path, "committed": committed, "turn_held": turn._depth})
        real(fd)
    monkeypatch.setattr(wal_sync, "_fsync", spy)
    assert scim.get("/Users").status_code == 200  # (the token's first use is stamped, and flushed)
    seen.clear()

    r = scim.post("/Users", _user("ada@example.com"))

    assert r.status_code == 201, r.get_json(force=True)
    assert seen == [{"path": os.path.realpath(database) + "-wal", "committed": 1, "turn_held": 0}]
    with full_app.app_context():
        # SQLite leaves the flush to the committing code; FULL's guarantee is kept by it.
        assert db.session.execute(text("PRAGMA synchronous")).scalar() == 1


def test_a_read_flushes_nothing(full_app, flushes):
    _, token = make_tenant(full_app, "acme")
    scim = SCIMClient(full_app.test_client(), token)
    assert scim.post("/Users", _user("ada@example.com")).status_code == 201
    flushes.clear()
    assert scim.get("/Users", query_string={"filter": 'userName eq "ada@example.com"'}).status_code == 200
    assert scim.get("/Users").status_code == 200
    assert [f for f in flushes if f["path"].endswith("-wal")] == []


def test_a_commit_outside_a_request_reaches_the_disk_before_commit_returns(full_app, flushes, tmp_path):
    with full_app.app_context():
        with db.engine.connect() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
            conn.commit()  # (a schema change is flushed too)
            assert [f["path"] for f in flushes if f["path"].endswith("-wal")] == [
                os.path.realpath(tmp_path / "full.db") + "-wal"]
            flushes.clear()
            conn.execute(text("INSERT INTO probe VALUES (1)"))
            conn.commit()
            assert [f["path"] for f in flushes if f["path"].endswith("-wal")] == [
                os.path.realpath(tmp_path / "full.db") + "-wal"]


def test_a_flush_that_fails_is_not_acknowledged(full_app, monkeypatch):
    _, token = make_tenant(full_app, "acme")
    scim = SCIMClient(full_app.test_client(), token)

    def broken(fd):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(wal_sync, "_fsync", broken)

    r = scim.post("/Users", _user("ada@example.com"))

    assert r.status_code >= 500
    assert r.get_json(force=True)["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_with_group_commit_off_sqlite_flushes_inside_commit(tmp_path, flushes):
    app = _app(tmp_path, SQLITE_GROUP_COMMIT=False)
    try:
        _, token = make_tenant(app, "acme")
        assert SCIMClient(app.test_client(), token).post("/Users", _user("ada@example.com")).status_code == 201
        with app.app_context():
            assert db.session.execute(text("PRAGMA synchronous")).scalar() == 2
        assert flushes == []
    finally:
        close_app(app)



def test_the_decision_log_commits_without_a_flush_of_its_own(full_app, flushes):
    """The log accepts losing its last batches to a power cut (docs/authz.md): no flush per batch."""
    from scim_authz import pdp
    from scim_authz.db.models import utcnow

    tenant_id, _ = make_tenant(full_app, "acme")
    flushes.clear()
    with full_app.app_context():
        writer = pdp.audit(full_app)
        for n in range(3):
            writer.record((f"d{n}", tenant_id, utcnow(), "t", None, "u", "a", "r", str(n), True, "x", 1))
        assert writer.flush() == 3
        assert db.session.execute(text("SELECT count(*) FROM decisions")).scalar() == 3
    assert [f for f in flushes if f["path"].endswith("-wal")] == []


def test_a_connection_opened_by_a_thread_without_an_app_context_commits_by_group_commit(full_app, flushes):
    import threading

    with full_app.app_context():
        engine = db.engine
    result: dict = {}

    def worker():  # (no app context here, as in the decision log's or the counters' thread)
        try:
            with engine.connect() as conn:
                result["synchronous"] = conn.exec_driver_sql("PRAGMA synchronous").scalar()
                conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS probe (x INTEGER)")
                conn.exec_driver_sql("INSERT INTO probe VALUES (1)")
                conn.commit()
        except Exception as e:  # noqa: BLE001 - reported below
            result["error"] = repr(e)
    engine.dispose()  # every connection from here on is a new one
    t = threading.Thread(target=worker)
    t.start()
    t.join(10)
    assert result == {"synchronous": 1}
    assert any(f["path"].endswith("full.db-wal") for f in flushes)
