"""Under gunicorn on PostgreSQL, one session per server listens for committed revisions, not one
per worker: the master listens for every worker (scim_authz/pdp/revision_board.py). Real gunicorn
(config/gunicorn.conf.py, four sync workers) on a private PostgreSQL; the listening session is the
one named `scim-authz revision feed` in pg_stat_activity. When it is cut off, the master listens
again, and no worker starts listening meanwhile."""
from __future__ import annotations

import time

from scim_authz.pdp.revision_feed import APPLICATION_NAME
from tests.faults.service import Service, user_body

DB = "one_listener"


def _listeners(private_pg) -> list[int]:
    return [r[0] for r in private_pg.query("SELECT pid FROM pg_stat_activity WHERE datname = %s AND "
                                           "application_name = %s", (DB, APPLICATION_NAME))]


def _until(probe, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_one_session_listens_for_all_the_workers_of_a_server(private_pg, tmp_path):
    svc = Service(private_pg.create_database(DB), tmp_path, WEB_CONCURRENCY="4").prepare(api_key=False)
    with svc.start():
        assert len(svc.worker_pids()) == 4
        with svc.scim() as scim:
            for i in range(20):  # every worker serves some: none of them starts listening
                assert scim.get("/Users", params={"filter": f'userName eq "u{i}@one.example"'}).status_code == 200
                assert scim.post("/Users", json=user_body(f"u{i}@one.example")).status_code == 201
        _until(lambda: len(_listeners(private_pg)) == 1)
        time.sleep(1.0)
        assert len(_listeners(private_pg)) == 1

        (listener,) = _listeners(private_pg)
        private_pg.query("SELECT pg_terminate_backend(%s)", (listener,))
        seen = set()

        def back():
            now = _listeners(private_pg)
            seen.add(len(now))
            return len(now) == 1 and now[0] != listener
        _until(back)
        assert seen <= {0, 1}, seen
        with svc.scim() as scim:
            assert scim.get("/Users", params={"filter": 'userName eq "u1@one.example"'}).json()["totalResults"] == 1
