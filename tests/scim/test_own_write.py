"""POST /Users runs on a connection of its own, without the ORM session (db.own_write): the same
rows, revision, change log and counts as any write, and nothing kept when it fails."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from scim_authz.db.extensions import db
from scim_authz.db.models import Tenant
from scim_authz.db.own_write import OwnWrite, write_on_own_connection
from scim_authz.db.prepared import prepared, run
from scim_authz.db.txn import transaction


def _state(app, tenant_id):
    with app.app_context():
        revision, users = db.session.execute(text("SELECT revision, user_count FROM tenants WHERE id = :t"),
                                             {"t": tenant_id}).one()
        changes = db.session.execute(text("SELECT revision, kind, ref FROM changes WHERE tenant_id = :t "
                                          "ORDER BY revision, ref"), {"t": tenant_id}).all()
        names = db.session.execute(text("SELECT user_name FROM users WHERE tenant_id = :t ORDER BY user_name"),
                                   {"t": tenant_id}).scalars().all()
        return revision, users, [tuple(c) for c in changes], names


@pytest.fixture
def commits(monkeypatch):
    """The commits made, by the ORM session ("session") and by own connections ("own")."""
    seen = []

    def session_committed(session):
        seen.append("session")
    event.listen(Session, "after_commit", session_committed)
    own_commit = OwnWrite.commit

    def counted(self):
        seen.append("own")
        own_commit(self)
    monkeypatch.setattr(OwnWrite, "commit", counted)
    yield seen
    event.remove(Session, "after_commit", session_committed)


def test_a_user_created_writes_what_any_write_does_without_the_session(app, scim, tenant, commits):
    tid = tenant[0]
    assert scim.get("/Users").status_code == 200  # the token verified (its first use reads it through the session)
    revision, users, changes, _ = _state(app, tid)
    commits.clear()
    r = scim.post("/Users", {"userName": "ada@example.com", "name": {"givenName": "Ada"}})
    assert r.status_code == 201, r.get_json(force=True)
    assert commits == ["own"]  # committed on its own connection, nothing by the ORM session
    with app.app_context():  # and given back to the pool (the write counter's thread may hold one a moment)
        deadline = time.monotonic() + 3
        while db.engine.pool.checkedout() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert db.engine.pool.checkedout() == 0
    uid = r.get_json(force=True)["id"]
    now = _state(app, tid)
    assert now[0] == revision + 1 and r.headers["X-Authz-Revision"] == str(revision + 1)
    assert now[1] == users + 1
    assert now[2] == [*changes, (revision + 1, "user", uid)]
    assert now[3] == ["ada@example.com"]
    assert scim.get(f"/Users/{uid}").get_json(force=True)["name"] == {"givenName": "Ada"}
    # A group's create still goes through the session (what tells the two apart above).
    commits.clear()
    assert scim.post("/Groups", {"displayName": "Admins"}).status_code == 201
    assert commits == ["session"]


@pytest.mark.parametrize("body, status", [
    ({"userName": "ADA@example.com"}, 409),  # taken, case-insensitively: refused by the insert itself
    ({"userName": ""}, 400),
    ({"name": {"givenName": "no userName"}}, 400),
])
def test_a_user_create_refused_leaves_everything_as_it_was(app, scim, tenant, body, status):
    assert scim.post("/Users", {"userName": "ada@example.com"}).status_code == 201
    before = _state(app, tenant[0])
    assert scim.post("/Users", body).status_code == status
    assert _state(app, tenant[0]) == before
    # and the writers' turn was given back: the next write goes through at once
    r = scim.post("/Users", {"userName": "bob@example.com"})
    assert r.status_code == 201 and r.headers["X-Authz-Revision"] == str(before[0] + 1)


def test_a_unit_of_work_that_raises_rolls_its_own_connection_back(app, tenant):
    tid = tenant[0]
    before = _state(app, tid)
    update = prepared("test.own_write.rename", lambda: Tenant.__table__.update().where(
        Tenant.__table__.c.id == db.bindparam("t")).values(name=db.bindparam("n")))
    with app.app_context():
        with pytest.raises(RuntimeError):
            with transaction(True):
                assert write_on_own_connection()
                run(update, {"t": tid, "n": "renamed"})
                raise RuntimeError("fails after its first statement")
        assert not db.session.registry.has() or not db.session.in_transaction()
        with transaction(True):
            assert write_on_own_connection()
            run(update, {"t": tid, "n": "renamed"})
        assert db.session.execute(text("SELECT name FROM tenants WHERE id = :t"), {"t": tid}).scalar_one() == "renamed"
    assert _state(app, tid) == before  # (a rename advances no revision)


def test_a_unit_of_work_that_used_the_session_keeps_to_it(app, tenant):
    with app.app_context():
        with transaction(True):
            db.session.execute(text("SELECT 1"))
            assert not write_on_own_connection()
        with transaction(False):
            assert not write_on_own_connection()  # a read has nothing to write
