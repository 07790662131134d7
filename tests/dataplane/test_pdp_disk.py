"""What a decision point keeps on local disk when several workers share a data directory: one slot
each for decisions (a slot left by a worker that is gone is taken over), one writer of the journal
at a time, and a journal line a dead writer left unfinished cut off."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys

from scim_authz.dataplane import slots
from scim_authz.dataplane.spool import DecisionSpool
from scim_authz.dataplane.sync import _cut_unfinished_line


def test_each_process_claims_its_own_slot_and_a_dead_ones_is_free_again(tmp_path):
    mine = slots.claim(tmp_path)
    # another process holds slot 1 while it runs; once it exits, its slot is free
    code = ("import sys, time; from scim_authz.dataplane import slots; "
            f"print(slots.claim({str(tmp_path)!r}).name, flush=True); sys.stdin.read()")
    other = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "worker-1" and mine.name == "worker-0"
        (tmp_path / "worker-1" / "000000000001.jsonl").write_text('["a"]\n')
        assert slots.orphans(tmp_path, mine) == []  # held by a live process
    finally:
        other.stdin.close()
        other.wait(timeout=10)
    assert [p.name for p in slots.orphans(tmp_path, mine)] == ["000000000001.jsonl"]


def test_a_spool_takes_over_segments_left_by_a_worker_that_is_gone(tmp_path):
    left = tmp_path / "worker-3"
    left.mkdir()
    (left / "000000000007.jsonl").write_text('["d1", 1, "2026-01-01T00:00:00", "k", null, "u", "a", "t", "i", '
                                            'false, "r", 1]\n')
    sent = []
    spool = DecisionSpool(tmp_path / "own", lambda key, rows: sent.extend(rows), lambda tid: "acme")
    (tmp_path / "worker-3.lock").touch()
    assert spool.adopt(slots.orphans(tmp_path, tmp_path / "own")) == 1
    assert not list(left.iterdir()) and spool.pending() == 1
    spool.flush()
    assert [r[0] for r in sent] == ["d1"] and spool.pending() == 0


def test_one_writer_of_the_journal_at_a_time(tmp_path):
    from scim_authz.dataplane.sync import Syncer

    class Nothing:
        unconfirmed: set = set()
    first = Syncer(None, Nothing(), None, tmp_path)
    second = Syncer(None, Nothing(), None, tmp_path)
    assert first.claim_persistence() is True and first.persist
    assert second.claim_persistence() is False and not second.persist
    os.close(first._persist_fd)  # the writer is gone: the lock is free
    assert second.claim_persistence() is True
    fd = os.open(tmp_path / "persist.lock", os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            raise AssertionError("the lock should be held")
        except BlockingIOError:
            pass
    finally:
        os.close(fd)


def test_a_journal_line_left_unfinished_is_cut_off(tmp_path):
    journal = tmp_path / "changes.jsonl"
    journal.write_bytes(b'{"revision": 1}\n{"revision": 2}\n{"revis')
    _cut_unfinished_line(journal)
    assert journal.read_bytes() == b'{"revision": 1}\n{"revision": 2}\n'
    _cut_unfinished_line(journal)  # a whole file is left alone
    assert journal.read_bytes() == b'{"revision": 1}\n{"revision": 2}\n'
    journal.write_bytes(b'{"revis')
    _cut_unfinished_line(journal)
    assert journal.read_bytes() == b""


def test_a_damaged_journal_is_replaced_by_a_fresh_snapshot(app, tenant, scim, tmp_path):
    """A journal that cannot be read (a disk fault, a hand edit) does not stop the decision point: it
    serves what it could read, then takes the tenant afresh from the control plane."""
    import httpx

    from scim_authz.credentials.keys import issue_credential
    from scim_authz.dataplane.server import create_pdp_app, stop
    from scim_authz.db.extensions import db
    from scim_authz.db.models import Tenant
    from scim_authz.db.txn import intent
    from tests.api._api_helpers import scim_user

    with app.app_context(), intent(True):
        key = issue_credential(db.session.get(Tenant, tenant[0]), "pdp", "t").secret
        db.session.commit()
    first = create_pdp_app("http://localhost", key, tmp_path, start=False, transport=httpx.WSGITransport(app=app))
    state = first.extensions["scim_authz.dataplane"]
    state.syncer.sync_once()
    scim_user(scim, "ann@example.com")
    state.syncer.sync_once()
    stop(first)
    journal = tmp_path / "tenants" / "acme" / "changes.jsonl"
    assert journal.stat().st_size > 0
    journal.write_bytes(b"not json\n")
    again = create_pdp_app("http://localhost", key, tmp_path, start=False, transport=httpx.WSGITransport(app=app))
    try:
        syncer = again.extensions["scim_authz.dataplane"].syncer
        assert syncer._afresh == {"acme"}
        syncer.sync_once()
        assert not syncer._afresh and not journal.exists()  # a fresh snapshot, and no journal yet
        copy = again.extensions["scim_authz.dataplane"].mirror.by_key["acme"]
        assert any(u.user_name == "ann@example.com" for u in again.extensions["scim_authz.engine"].stores[
            copy.id].users.values())
    finally:
        stop(again)


def test_a_round_sends_what_was_queued_when_it_began_and_leaves_later_decisions_for_the_next(tmp_path):
    """Decisions keep arriving while a batch is on its way: one round sends one batch per BATCH
    queued when it began, not a stream of small ones until the queue happens to be empty."""
    batches = []

    def ship(key, rows):
        batches.append(len(rows))
        if len(batches) < 50:  # (bounded: a round that drains until empty fails here, not hangs)
            spool.record_many([(f"late-{len(batches)}-{i}", 1) for i in range(3)])  # made meanwhile

    spool = DecisionSpool(tmp_path, ship, lambda tid: "acme")
    spool.record_many([(f"d{i}", 1) for i in range(12_000)])
    spool.flush()
    assert batches == [5_000, 5_000, 2_000] and spool.pending() == 9
    spool.flush()
    assert batches[3:] == [9] and spool.pending() == 3
