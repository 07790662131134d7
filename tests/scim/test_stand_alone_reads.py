"""SCIM reads run their statements on their own (autocommit on PostgreSQL, no BEGIN on SQLite);
the connection they used must not carry that into the next request: a write that fails afterwards
still leaves the database exactly as it was, and a group's streamed members still come from one
snapshot."""
from __future__ import annotations

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import literal, select, text

from scim_authz.db.extensions import db
from scim_authz.db.prepared import prepared, run
from scim_authz.db.txn import ALONE_CONNECTION, read_only, transaction
from tests.conftest import patch_op


def _group(scim, name):
    r = scim.post("/Groups", {"displayName": name})
    assert r.status_code == 201, r.get_json(force=True)
    return r.get_json(force=True)["id"]


def test_a_write_that_fails_after_reads_changes_nothing(scim, app):
    gid = _group(scim, "Admins")
    for _ in range(3):  # the pool's connections have all served a stand-alone read
        assert scim.get("/Users", query_string={"filter": 'userName eq "nobody"'}).status_code == 200
        assert scim.get(f"/Groups/{gid}").status_code == 200
        assert scim.get("/Users").status_code == 200
    r = scim.patch(f"/Groups/{gid}", patch_op({"op": "replace", "path": "displayName", "value": "Renamed"},
                                              {"op": "add", "path": "members", "value": [{"value": "no-such-id"}]}))
    assert r.status_code == 400, r.get_json(force=True)
    assert scim.get(f"/Groups/{gid}").get_json(force=True)["displayName"] == "Admins"
    with app.app_context():
        assert db.session.execute(text("SELECT display_name FROM groups WHERE id = :g"), {"g": gid}).scalar_one() \
            == "Admins"


def test_a_write_transaction_after_a_stand_alone_read_is_a_transaction(app, scim):
    assert scim.get("/Users").status_code == 200
    with app.app_context():
        try:
            with transaction(True):
                db.session.execute(text("UPDATE tenants SET name = 'changed'"))
                raise RuntimeError("fails after its first statement")
        except RuntimeError:
            pass
        assert "changed" not in db.session.execute(text("SELECT name FROM tenants")).scalars().all()
        db.session.rollback()
    with app.app_context():
        with transaction(False, statements_stand_alone=True):
            db.session.execute(text("SELECT 1"))
        with transaction(False):  # a read without the flag: a transaction again (one snapshot)
            conn = db.session.connection()
            if conn.dialect.name == "postgresql":
                assert conn.connection.dbapi_connection.autocommit is False
            else:
                assert conn.connection.dbapi_connection.in_transaction


def _outside_a_transaction(conn) -> bool:
    """True when the driver's connection has no transaction open (autocommit on PostgreSQL)."""
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        return driver.autocommit and driver.info.transaction_status == TransactionStatus.IDLE
    return not driver.in_transaction


def test_a_stand_alone_read_runs_its_statements_outside_a_transaction_and_hands_back_a_plain_connection(app):
    with app.app_context():
        with transaction(False, statements_stand_alone=True):
            one = prepared("tests.select_one", lambda: select(literal(1)))
            assert run(one).scalar_one() == 1  # by the driver's path, on the read's own pooled connection
            own = ALONE_CONNECTION.get()[0]
            assert _outside_a_transaction(own)
            assert run(text("SELECT 1")).scalar_one() == 1  # through Core, on the same connection
            assert ALONE_CONNECTION.get() == [own] and _outside_a_transaction(own)
            db.session.execute(text("SELECT 1"))  # the ORM session's statements alike
            assert _outside_a_transaction(db.session.connection())
        assert own.closed and ALONE_CONNECTION.get() is None
        for _ in range(3):  # every pooled connection: a transaction again, not autocommit
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                assert not _outside_a_transaction(conn)


def test_a_read_only_block_inside_a_stand_alone_read_runs_in_a_transaction_of_its_own(app):
    with app.app_context():
        with transaction(False, statements_stand_alone=True):
            with read_only():
                assert run(text("SELECT 1")).scalar_one() == 1
                assert ALONE_CONNECTION.get() is None  # the session's connection, begun with BEGIN
                assert not _outside_a_transaction(db.session.connection())
            assert ALONE_CONNECTION.get() == []  # the read's own connection: never checked out


def test_a_read_on_a_connection_the_server_dropped_fails_cleanly_and_the_next_one_is_served(app, scim):
    """PostgreSQL only: pooled connections whose server processes went away (a restart, a failover):
    the first read on one answers the protocol's 503 (SQLAlchemy then recycles the pool), none is
    handed out again in autocommit, and the reads after it are served."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL's server processes only")
    lookup = {"filter": 'userName eq "nobody"'}
    assert scim.get("/Users", query_string=lookup).status_code == 200
    with app.app_context():
        held = [db.engine.connect() for _ in range(3)]  # three at once: the pooled one, and new ones
        pids = [c.connection.driver_connection.info.backend_pid for c in held]
        for c in held:
            c.close()
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    statuses = [scim.get("/Users", query_string=lookup).status_code for _ in range(4)]
    assert statuses.count(503) <= 1 and set(statuses) <= {200, 503} and statuses[-1] == 200, statuses
    with app.app_context():
        for _ in range(4):
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                assert conn.connection.driver_connection.autocommit is False
