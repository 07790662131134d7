"""The board a process keeps the newest revision heard per tenant on, shared with the processes
forked after it was made (scim_authz/pdp/revision_board.py). Revisions only grow; a listener that
stopped saying it is there is not believed for long; a table with no room left answers "only the
database knows" for what it could not keep."""
from __future__ import annotations

import json
import os
import time

from scim_authz.pdp.revision_board import SharedBoard


def test_revisions_only_grow_and_credential_changes_are_counted():
    board = SharedBoard(stale_seconds=10)
    assert board.newest(7) == 0 and board.credentials_changed(7) == 0
    board.heard(7, 5, credentials=False)
    board.heard(7, 3, credentials=True)  # an older revision: heard late, changes nothing
    assert board.newest(7) == 5 and board.credentials_changed(7) == 3 and board.credential_changes == 1
    board.heard(7, 9, credentials=True)
    assert board.newest(7) == 9 and board.credentials_changed(7) == 9 and board.credential_changes == 2
    assert board.newest(8) == 0


def test_a_listener_that_stopped_saying_so_is_not_believed():
    board = SharedBoard(stale_seconds=0.3)
    assert not board.live
    board.live = True
    assert board.live
    time.sleep(0.4)
    assert not board.live
    board.beat()
    assert board.live
    board.live = False
    assert not board.live


def test_a_full_table_answers_only_the_database_knows_for_what_it_could_not_keep():
    board = SharedBoard(stale_seconds=10, slots=4)
    for tenant in (1, 2, 3, 4):
        board.heard(tenant, 10 + tenant, credentials=False)
    assert board.newest(99) is None  # (no empty slot to say it was never heard)
    board.heard(5, 50, credentials=True)
    assert board.newest(5) is None and board.credentials_changed(5) is None
    assert [board.newest(t) for t in (1, 2, 3, 4)] == [11, 12, 13, 14]


def test_processes_forked_after_it_share_what_each_of_them_hears():
    board = SharedBoard(stale_seconds=10)
    board.live = True
    from_parent, to_child = os.pipe()
    from_child, to_parent = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: sees what the parent hears after the fork, and tells it its own
        try:
            os.close(to_child)
            os.read(from_parent, 1)
            seen = {"newest": board.newest(1), "live": board.live}
            board.heard(2, 20, credentials=True)
            os.write(to_parent, json.dumps(seen).encode())
        finally:
            os._exit(0)
    os.close(from_parent)
    board.heard(1, 10, credentials=False)
    os.write(to_child, b".")
    seen = json.loads(os.read(from_child, 1000))
    os.waitpid(pid, 0)
    assert seen == {"newest": 10, "live": True}
    assert board.newest(2) == 20 and board.credentials_changed(2) == 20 and board.credential_changes == 1
