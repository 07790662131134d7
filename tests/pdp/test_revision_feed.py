"""Instances over one PostgreSQL hear of each other's commits (LISTEN/NOTIFY): a check does no
database read while nothing changed, sees another instance's write within milliseconds, sees it at
once with `at_least`, and a notification lost while the listening connection was down is made up
for by re-reading every revision when it is back."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from scim_authz import create_app, pdp
from scim_authz.db.extensions import db
from tests.api._api_helpers import check, eventually, scim_user
from tests.conftest import DATABASE_URL, APIClient, app_config, patch_op

pytestmark = pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"),
                                reason="LISTEN/NOTIFY is PostgreSQL's (SQLite instances share a file instead)")


@pytest.fixture
def app_b(app):
    b = create_app(app_config(app.config["SQLALCHEMY_DATABASE_URI"]))
    yield b
    pdp.close(b)
    with b.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def api_b(app_b, api):
    return APIClient(app_b.test_client(), api.key)


def _feed(app):
    with app.app_context():
        return pdp.engine(app).feed


def _listening(app):
    feed = _feed(app)
    feed.start()
    assert eventually(lambda: feed.live, 5.0), feed.last_error
    return feed


def _count_revision_reads(app) -> list:
    with app.app_context():
        eng = pdp.engine(app)
    reads, real = [], eng.reader.revision
    eng.reader.revision = lambda t: reads.append(t) or real(t)
    return reads


def _editor(api, scim, name="ann"):
    uid = scim_user(scim, name)
    api.post("/roles", {"key": "editor", "permissions": ["document:edit"]})
    return uid


def test_a_check_reads_no_revision_while_nothing_changed(app, app_b, api, scim, api_b):
    uid = _editor(api, scim)
    check(api_b, uid, "edit", "document:1")
    _listening(app_b)
    reads = _count_revision_reads(app_b)
    for _ in range(20):
        assert check(api_b, uid, "edit", "document:1")["allowed"] is False
    assert reads == []


def test_a_write_on_one_instance_reaches_a_check_on_the_other_within_milliseconds(app, app_b, api, scim, api_b):
    uid = _editor(api, scim)
    check(api_b, uid, "edit", "document:1")
    _listening(app_b)
    reads = _count_revision_reads(app_b)
    delays = []
    assignment = None
    for n in range(10):
        if n % 2 == 0:
            r = api.post("/role-assignments", {"user": uid, "role": "editor"})
            assignment = r.get_json()["assignment"]["id"]
        else:
            r = api.delete(f"/role-assignments/{assignment}")
        assert r.status_code in (200, 201, 204), r.get_data(as_text=True)
        written = time.monotonic()
        want = n % 2 == 0
        assert eventually(lambda: check(api_b, uid, "edit", "document:1")["allowed"] is want, 2.0)  # noqa: B023
        delays.append(time.monotonic() - written)
    assert max(delays) < 1.0, delays
    assert reads == []  # caught up from what it heard, never by reading the revision


def test_at_least_is_right_on_the_first_check_even_before_the_notification(app, app_b, api, scim, api_b):
    uid = _editor(api, scim)
    check(api_b, uid, "edit", "document:1")
    feed = _listening(app_b)
    feed.close(wait=True)  # hears nothing more: only at_least can bring the write
    feed.live = True  # pretend it still listens, so nothing but at_least reads the database
    r = api.post("/role-assignments", {"user": uid, "role": "editor"})
    rev = r.get_json()["revision"]
    assert check(api_b, uid, "edit", "document:1")["allowed"] is False  # not heard of
    assert check(api_b, uid, "edit", "document:1", consistency={"at_least": rev})["allowed"] is True


def test_a_scim_write_returns_its_revision_for_at_least(app, app_b, api, scim, api_b):
    uid = _editor(api, scim)
    api.post("/role-assignments", {"user": uid, "role": "editor"})
    check(api_b, uid, "edit", "document:1")
    r = scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "value": {"active": False}}))
    assert r.status_code == 200
    rev = int(r.headers["X-Authz-Revision"])
    with app.app_context():
        assert rev == db.session.execute(text("SELECT revision FROM tenants")).scalar_one()
    assert check(api_b, uid, "edit", "document:1", consistency={"at_least": rev})["allowed"] is False


def test_the_instance_that_wrote_sees_its_write_at_once(app, api, scim):
    uid = _editor(api, scim)
    _listening(app)
    assert check(api, uid, "edit", "document:1")["allowed"] is False
    api.post("/role-assignments", {"user": uid, "role": "editor"})
    assert check(api, uid, "edit", "document:1")["allowed"] is True


def test_a_lost_connection_is_made_up_for_on_reconnect(app, app_b, api, scim, api_b):
    uid = _editor(api, scim)
    check(api_b, uid, "edit", "document:1")
    feed = _listening(app_b)
    feed.retry_seconds = 0.3
    with app.app_context():
        db.session.execute(text("SELECT pg_terminate_backend(:p)"), {"p": feed.backend_pid})
        db.session.commit()
    assert eventually(lambda: not feed.live, 5.0)
    # Written while B is not listening: the notification is lost to B.
    rev = api.post("/role-assignments", {"user": uid, "role": "editor"}).get_json()["revision"]
    assert eventually(lambda: feed.live and feed.connects >= 2, 5.0), feed.last_error
    assert feed.known[_tenant_id(app)] >= rev
    reads = _count_revision_reads(app_b)
    assert check(api_b, uid, "edit", "document:1")["allowed"] is True
    assert reads == []


def test_checks_answered_from_memory_when_the_revision_cannot_be_read_say_so(app, api, scim):
    uid = _editor(api, scim)
    api.post("/role-assignments", {"user": uid, "role": "editor"})
    assert "stale" not in check(api, uid, "edit", "document:1")
    with app.app_context():
        eng = pdp.engine(app)
    eng.feed.close(wait=True)
    real = eng.reader.revision

    def down(_t):
        raise OSError("connection refused")

    eng.reader.revision = down
    body = check(api, uid, "edit", "document:1")
    assert body["allowed"] is True and body["stale"] is True
    eng.reader.revision = real
    eng.retry_seconds = 0
    body = check(api, uid, "edit", "document:1")
    assert body["allowed"] is True and "stale" not in body


def _tenant_id(app) -> int:
    with app.app_context():
        return db.session.execute(text("SELECT id FROM tenants")).scalar_one()


def _count_catch_ups(app) -> list:
    with app.app_context():
        eng = pdp.engine(app)
    reads, real = [], eng.reader.changes_since
    eng.reader.changes_since = lambda *a: reads.append(a) or real(*a)
    return reads


def test_scim_requests_catch_no_policy_up_yet_hear_a_revocation(app, app_b, tenant, scim):
    from scim_authz.credentials.keys import revoke_credential
    from scim_authz.db.models import Credential, Tenant
    from tests.conftest import SCIMClient

    scim_b = SCIMClient(app_b.test_client(), tenant[1])
    _listening(app_b)
    assert scim_b.get("/Users").status_code == 200
    catch_ups = _count_catch_ups(app_b)
    for i in range(5):  # other instances write; B serves SCIM without reading their changes
        scim_user(scim, f"u{i}@example.com")
        assert scim_b.get("/Users?count=1").status_code == 200
        assert scim_b.post("/Users", {"userName": f"b{i}@example.com"}).status_code == 201
    assert catch_ups == []
    with app.app_context():
        cred = db.session.execute(text("SELECT id FROM credentials WHERE kind = 'scim'")).scalar_one()
        revoke_credential(db.session.get(Tenant, tenant[0]), cred)
        db.session.commit()
        assert db.session.get(Credential, cred).revoked_at is not None
    assert eventually(lambda: scim_b.get("/Users?count=1").status_code == 401, 5.0)


def test_only_credential_changes_make_a_scim_token_be_checked_again(app, app_b):
    feed = _listening(app_b)
    tid = 424242
    before = feed.credentials_changed(tid)
    with app.app_context():
        schema = db.session.execute(text("SELECT current_schema()")).scalar_one()
        for payload in (f"{schema}:{tid}:5:member,user", f"other_schema:{tid}:6:credential"):
            db.session.execute(text("SELECT pg_notify('scim_authz_revision', :p)"), {"p": payload})
            db.session.commit()
    assert eventually(lambda: feed.known.get(tid) == 5, 5.0)
    assert feed.credentials_changed(tid) == before == 0
    with app.app_context():
        for payload in (f"{schema}:{tid}:7:credential,user", f"{schema}:{tid}:8"):
            db.session.execute(text("SELECT pg_notify('scim_authz_revision', :p)"), {"p": payload})
            db.session.commit()
    # a credential among the kinds, or kinds not said (an older writer): checked again
    assert eventually(lambda: feed.credentials_changed(tid) == 8, 5.0)


def test_a_revocation_lost_while_not_listening_ends_the_token_after_reconnect(app, app_b, tenant, api, api_b):
    """Even when the instance's own writes, made meanwhile, took it past the revocation's revision."""
    from scim_authz.credentials.keys import revoke_credential
    from scim_authz.db.models import Tenant
    from tests.conftest import SCIMClient

    scim_b = SCIMClient(app_b.test_client(), tenant[1])
    feed = _listening(app_b)
    assert scim_b.get("/Users?count=1").status_code == 200  # the token is verified, and trusted
    connect = feed._connect

    def refused():
        raise OSError("connection refused")

    feed._connect, feed.retry_seconds = refused, 0.1  # B cannot listen again until the test says so
    with app.app_context():
        db.session.execute(text("SELECT pg_terminate_backend(:p)"), {"p": feed.backend_pid})
        db.session.commit()
    assert eventually(lambda: not feed.live, 5.0)
    with app.app_context():  # on A, unheard by B
        cred = db.session.execute(text("SELECT id FROM credentials WHERE kind = 'scim'")).scalar_one()
        revoke_credential(db.session.get(Tenant, tenant[0]), cred)
        db.session.commit()
    # B's own write: B's feed hears it, past the revocation's revision
    assert api_b.post("/roles", {"key": "viewer", "permissions": ["document:view"]}).status_code == 201
    feed._connect = connect
    assert eventually(lambda: feed.live, 5.0), feed.last_error
    assert scim_b.get("/Users?count=1").status_code == 401


def test_a_shared_feed_listens_once_for_the_processes_forked_after_it(app, app_b, tenant):
    """As under gunicorn (config/gunicorn.conf.py: when_ready): the parent shares its feed, then
    forks; the child never listens, yet hears at once what the parent hears from another instance,
    and what the child commits is known to the parent."""
    import json
    import os

    from tests.conftest import SCIMClient

    feed = _listening(app)
    feed.share()
    assert eventually(lambda: feed.live, 5.0), feed.last_error
    tid, connects = _tenant_id(app), feed.connects
    from_parent, to_child = os.pipe()
    from_child, to_parent = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only the board, never a connection or a thread of its own
        try:
            target = int(os.read(from_parent, 100))
            feed.start()
            deadline = time.monotonic() + 5
            while (feed.newest(tid) or 0) < target and time.monotonic() < deadline:
                time.sleep(0.01)
            seen = {"newest": feed.newest(tid), "no_thread": feed._thread is None, "connects": feed.connects}
            feed.heard(tid, target + 1000, ["user"])  # as the child's own commit would
            os.write(to_parent, json.dumps(seen).encode())
        finally:
            os._exit(0)
    # Another instance writes: only the parent's listener can bring it to the board.
    scim_user(SCIMClient(app_b.test_client(), tenant[1]), "zed")
    with app_b.app_context():
        target = db.session.execute(text("SELECT revision FROM tenants WHERE id = :t"), {"t": tid}).scalar()
    os.write(to_child, str(target).encode())
    seen = json.loads(os.read(from_child, 1000))
    os.waitpid(pid, 0)
    assert seen == {"newest": target, "no_thread": True, "connects": connects}
    assert feed.newest(tid) == target + 1000
