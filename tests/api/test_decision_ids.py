"""Decision ids stay unique when a preloaded master forks its workers."""
from __future__ import annotations

import os

import pytest

from scim_authz.api import check_views


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_workers_draw_their_own_decision_ids():
    parent = {check_views._decision_id() for _ in range(3)}
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a worker
        os.close(r)
        os.write(w, "\n".join(check_views._decision_id() for _ in range(3)).encode())
        os._exit(0)
    os.close(w)
    child = set(os.read(r, 4096).decode().split("\n"))
    os.waitpid(pid, 0)
    more_parent = {check_views._decision_id() for _ in range(3)}
    assert len(child) == 3 and not (child & (parent | more_parent))
    assert {i.split("-")[0] for i in child} != {i.split("-")[0] for i in parent}


def test_a_row_the_log_cannot_take_does_not_hold_back_the_others(app):
    from scim_authz import pdp
    from scim_authz.db.extensions import db
    from scim_authz.db.models import Decision, Tenant, utcnow
    from tests.conftest import make_tenant

    tid, _ = make_tenant(app, "logtest")
    with app.app_context():
        writer = pdp.audit(app)
        row = {"tenant_id": tid, "at": utcnow(), "asked_by": "t", "user_id": None, "user_key": "u",
               "action": "a", "resource_type": "r", "resource_id": "1", "allowed": False, "reason": "x",
               "revision": 1}
        writer.queue.extend([{**row, "id": "dup"}, {**row, "id": "dup"}, {**row, "id": "other"}])
        assert writer.flush() == 2
        assert sorted(d.id for d in db.session.query(Decision)) == ["dup", "other"]
        assert db.session.get(Tenant, tid) is not None


def test_api_responses_set_no_cookie(api, client):
    """Sessions belong to the console: the API never signs or sets a cookie."""
    r = api.post("/check", {"user": "nobody", "action": "view", "resource": "doc:1"})
    assert r.status_code == 200 and "Set-Cookie" not in r.headers
    assert client.get("/admin/login").status_code == 200


def test_a_full_log_queue_is_written_by_the_caller(app):
    """Backpressure: past max_queue the request itself writes; nothing is dropped, memory is bounded."""
    from scim_authz.db.extensions import db
    from scim_authz.db.models import Decision, utcnow
    from scim_authz.pdp.decision_log import AuditLog
    from tests.conftest import make_tenant

    tid, _ = make_tenant(app, "pressure")
    with app.app_context():
        writer = AuditLog(db.engine, flush_seconds=3600, max_queue=3)
        writer._closed.set()  # no background thread: only the caller can write
        for n in range(3):
            writer.record((f"d{n}", tid, utcnow(), "t", None, "u", "a", "r", str(n), True, "x", 1))
        assert len(writer.queue) == 0
        assert db.session.query(Decision).count() == 3


def test_past_the_bound_each_request_writes_one_batch_not_the_whole_queue(app):
    from scim_authz.db.extensions import db
    from scim_authz.db.models import Decision, utcnow
    from scim_authz.pdp.decision_log import AuditLog
    from tests.conftest import make_tenant

    tid, _ = make_tenant(app, "pressure-batches")
    with app.app_context():
        writer = AuditLog(db.engine, flush_seconds=3600, max_batch=2, max_queue=3)
        writer._closed.set()  # no background thread: only the callers write

        def record(n):
            writer.record((f"b{n}", tid, utcnow(), "t", None, "u", "a", "r", str(n), True, "x", 1))

        for n in range(3):
            record(n)
        assert len(writer.queue) == 1  # the third crossed the bound and wrote the oldest two
        assert db.session.query(Decision).filter_by(tenant_id=tid).count() == 2
        record(3)
        assert len(writer.queue) == 2  # below the bound: queued
        record(4)
        assert len(writer.queue) == 1
        db.session.rollback()  # (a fresh read: the writer committed on its own connection)
        assert sorted(d.id for d in db.session.query(Decision).filter_by(tenant_id=tid)) == ["b0", "b1", "b2", "b3"]
        assert writer.flush() == 1 and len(writer.queue) == 0
