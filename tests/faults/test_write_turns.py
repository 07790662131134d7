"""SCIM writers on one SQLite file take turns instead of sleeping in SQLite's busy handler.

Real gunicorn with four sync workers on a SQLite file, and SQLite's busy timeout set to 0: a write
that found SQLite's lock taken would fail at once ("database is locked"), so every write of four
IdP connections succeeding shows each one waited its turn (scim_authz/db/write_turn.py) and none
waited in the busy handler. The decision log writes to the same file meanwhile (checks)."""
from __future__ import annotations

import threading

import pytest

from tests.faults.service import Service, user_body

CONNECTIONS, USERS_EACH = 4, 40


@pytest.fixture
def service(tmp_path):
    svc = Service(f"sqlite:///{tmp_path / 'turns.db'}", tmp_path, WEB_CONCURRENCY="4", SQLITE_BUSY_TIMEOUT_MS="0",
                  SQLITE_SYNCHRONOUS="FULL")
    with svc.prepare().start():
        yield svc


def test_concurrent_scim_writers_never_find_the_database_locked(service):
    with service.scim() as scim:
        r = scim.post("/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                       "displayName": "Everyone"})
        assert r.status_code == 201, r.text
        group_id = r.json()["id"]
    failures: list[str] = []
    created: list[str] = []

    def connection(n: int) -> None:
        with service.scim() as scim, service.api() as api:
            for i in range(USERS_EACH):
                r = scim.post("/Users", json=user_body(f"c{n}-u{i}@turns.example"))
                if r.status_code != 201:
                    failures.append(f"POST {r.status_code} {r.text[:200]}")
                    continue
                uid = r.json()["id"]
                created.append(uid)
                r = scim.patch(f"/Groups/{group_id}", json={
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]})
                if r.status_code not in (200, 204):
                    failures.append(f"PATCH {r.status_code} {r.text[:200]}")
                r = api.post("/check", json={"user": uid, "action": "read", "resource": "doc:1"})
                if r.status_code != 200:
                    failures.append(f"check {r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=connection, args=(n,)) for n in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures[:5]
    assert len(created) == CONNECTIONS * USERS_EACH
    with service.scim() as scim:
        members = scim.get(f"/Groups/{group_id}").json()["members"]
        assert {m["value"] for m in members} == set(created)
        assert scim.get("/Users", params={"count": 1}).json()["totalResults"] == CONNECTIONS * USERS_EACH
    locked = [line for line in service.log_tail(400).splitlines() if "database is locked" in line]
    assert not locked, locked[:3]
