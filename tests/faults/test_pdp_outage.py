"""The control plane stopped for a while (30 s; PDP_OUTAGE_SECONDS) under a decision point that keeps
being asked, through real processes: the decision point answers throughout at its last revision
and says so, is restarted meanwhile and serves from its local disk, catches up within a second of
the control plane's return, and every decision it made reaches the decision log exactly once."""
from __future__ import annotations

import os
import sqlite3
import time

import httpx

from tests.faults.pdp_process import PdpProcess
from tests.faults.service import TENANT, Service, user_body

OUTAGE = float(os.environ.get("PDP_OUTAGE_SECONDS", "30"))


def _pdp_decisions(db_path: str) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT count(*) FROM decisions WHERE asked_by LIKE 'pdp: %'").fetchone()[0]


def test_a_control_plane_outage_under_a_decision_point(tmp_path):
    db_path = str(tmp_path / "control.db")
    svc = Service(f"sqlite:///{db_path}", tmp_path).prepare()
    pdp_key = svc.flask(["tokens", "issue", TENANT, "--kind", "pdp"])[0].strip().splitlines()[-1].strip()
    svc.start()
    port = int(svc.origin.rsplit(":", 1)[1])
    pdp = PdpProcess(svc.origin, pdp_key, tmp_path / "pdp", tmp_path / "pdp.log")
    answered = 0  # decisions the decision point answered (each one is logged once)
    try:
        with svc.scim() as scim, svc.api() as api:
            uid = scim.post("/Users", json=user_body("alice@example.com")).json()["id"]
            assert api.post("/roles", json={"key": "reader", "permissions": ["doc:read"]}).status_code == 201
            made = api.post("/role-assignments", json={"user": uid, "role": "reader"}).json()["revision"]
        pdp.start()
        ask = {"user": uid, "action": "read", "resource": "doc:1"}

        def check(consistency=None) -> httpx.Response:
            nonlocal answered
            body = {**ask, "consistency": consistency} if consistency else ask
            r = httpx.post(f"{pdp.origin}/v1/check", json=body, headers=svc.api_headers, timeout=10)
            answered += r.status_code == 200
            return r

        first = check({"at_least": made}).json()
        assert first["allowed"] is True and first["revision"] == made and "stale" not in first

        svc.stop()
        stopped = time.monotonic()
        during, restarted = [], False
        while time.monotonic() - stopped < OUTAGE:
            if not restarted and time.monotonic() - stopped > OUTAGE / 2:
                pdp.stop()  # restarted while the control plane is down: it serves from local disk
                pdp.start()
                restarted = True
            during.append(check().json())
            time.sleep(0.2)
        assert restarted and len(during) > OUTAGE / 2
        assert all(a["allowed"] is True and a["revision"] == made and a["stale"] is True for a in during), \
            [a for a in during if not (a.get("allowed") and a.get("stale"))][:3]
        ready = pdp.ready()
        assert ready["connected"] is False and ready["tenants"][0]["revision"] == made

        svc.start(port=port)  # back, on the same address
        back = time.monotonic()
        while not pdp.ready()["connected"]:
            assert time.monotonic() - back < 1.0, f"not caught up a second after the return: {pdp.ready()}"
            time.sleep(0.02)
        assert "stale" not in check().json()
        # A write made now reaches the decision point's answers within its polling (no at_least).
        with svc.api() as api:
            api.post("/roles", json={"key": "writer", "permissions": ["doc:write"]})
            revoked = api.get("/role-assignments", params={"user": uid}).json()["assignments"][0]["id"]
            gone = api.delete(f"/role-assignments/{revoked}").json()["revision"]
        deadline = time.monotonic() + 1.0
        while (a := check().json())["revision"] < gone:
            assert time.monotonic() < deadline, a
            time.sleep(0.02)
        assert a["allowed"] is False

        # Every decision, the outage's and those made before the restart included, logged once.
        pdp.stop()  # (its last decisions are written to disk, and sent by the next start)
        pdp.start()
        deadline = time.monotonic() + 10
        while _pdp_decisions(db_path) < answered and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _pdp_decisions(db_path) == answered
    finally:
        pdp.stop()
        svc.stop()
