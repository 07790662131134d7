"""pdp's propagation delay: a write acknowledged by the control plane, then the decision point's
/v1/check polled (without at_least, as an application that does not wait would ask) until its
answer changes; and read-your-writes: a check naming the write's revision in at_least."""
from __future__ import annotations

import http.client
import json
import random
import time
from urllib.parse import urlsplit

import httpx
from _report import log
from _stats import percentile, rnd


class PdpChecker:
    """POST /v1/check on one kept-alive connection (cheap enough to poll every ~1 ms)."""

    def __init__(self, url: str, token: str):
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self.sent = 0

    def check(self, body: dict) -> tuple[int, dict]:
        self.conn.request("POST", "/v1/check", json.dumps(body), self.headers)
        r = self.conn.getresponse()
        data = r.read()
        self.sent += 1
        return r.status, (json.loads(data) if data else {})

    def close(self) -> None:
        self.conn.close()


def measure(cp_url: str, pdp_url: str, app_key: str, user_id: str, role: str, body: dict, writes: int,
            at_least_writes: int, seed: int, max_gap_ms: float = 100.0, timeout_s: float = 5.0) -> dict:
    """`writes` writes alternating POST /v1/role-assignments (the answer becomes allowed) and DELETE of
    it (denied again), each after a random pause of 0..max_gap_ms (so writes fall at random phases of
    the decision point's poll); per write, the milliseconds from the control plane's answer to the
    first PDP answer that shows it. Then `at_least_writes` more, each followed by one check with
    at_least = the write's revision (its latency includes the wait for that revision)."""
    rng = random.Random(seed)
    api = httpx.Client(base_url=cp_url, headers={"Authorization": f"Bearer {app_key}"}, timeout=30)
    pdp = PdpChecker(pdp_url, app_key)
    out: dict = {"writes": writes, "write": "POST /v1/role-assignments then DELETE /v1/role-assignments/<id>, "
                 "alternating", "check": body, "max_gap_ms": max_gap_ms, "timeout_s": timeout_s}
    delays, write_ms, polls = [], [], []
    timeouts, stale_at_revision, errors = 0, 0, []
    aid = None

    def write() -> tuple[bool, int]:
        nonlocal aid
        if aid is None:
            r = api.post("/v1/role-assignments", json={"user": user_id, "role": role})
            if r.status_code != 201:
                raise RuntimeError(f"POST /v1/role-assignments: {r.status_code} {r.text[:300]}")
            aid = r.json()["assignment"]["id"]
            return True, r.json()["revision"]
        r = api.delete(f"/v1/role-assignments/{aid}")
        if r.status_code != 200:
            raise RuntimeError(f"DELETE /v1/role-assignments/{aid}: {r.status_code} {r.text[:300]}")
        aid = None
        return False, r.json()["revision"]

    try:
        status, first = pdp.check(body)
        if status != 200 or first.get("allowed") is not False:
            raise RuntimeError(f"the propagation check must start denied at the PDP: {status} {first}")
        pc = time.perf_counter
        for k in range(writes):
            time.sleep(rng.uniform(0, max_gap_ms) / 1e3)
            w0 = pc()
            want, revision = write()
            acked = pc()
            write_ms.append((acked - w0) * 1e3)
            n = 0
            while True:
                status, ans = pdp.check(body)
                n += 1
                if status != 200:
                    errors.append(f"{status} {ans}")
                elif ans["allowed"] is want:
                    seen = pc()
                    break
                elif ans["revision"] >= revision:
                    stale_at_revision += 1  # an answer at the write's revision that does not show it
                if pc() - acked > timeout_s:
                    seen = None
                    break
                time.sleep(0.0005)
            polls.append(n)
            if seen is None:
                timeouts += 1
                log(f"!! write {k}: the PDP did not show revision {revision} within {timeout_s}s")
            else:
                delays.append((seen - acked) * 1e3)
            if (k + 1) % 50 == 0:
                log(f"   {k + 1}/{writes} writes: p50 {percentile(delays, 50) or 0:.1f} ms, "
                    f"p99 {percentile(delays, 99) or 0:.1f} ms so far")
        # read-your-writes: at_least = the write's revision
        ryw, ryw_wrong = [], 0
        for _ in range(at_least_writes):
            time.sleep(rng.uniform(0, max_gap_ms) / 1e3)
            want, revision = write()
            t0 = pc()
            status, ans = pdp.check({**body, "consistency": {"at_least": revision}})
            ryw.append((pc() - t0) * 1e3)
            if status != 200 or ans.get("allowed") is not want or ans.get("revision", 0) < revision:
                ryw_wrong += 1
                if ryw_wrong <= 3:
                    log(f"!! at_least {revision}: {status} {ans}, expected allowed={want}")
        if aid is not None:
            write()  # leave the user as it was
    finally:
        api.close()
        pdp.close()
    out.update({
        "measured": len(delays), "timeouts": timeouts, "errors": len(errors), "error_samples": errors[:3],
        "stale_answers_at_write_revision": stale_at_revision,
        "p50_ms": rnd(percentile(delays, 50), 2), "p90_ms": rnd(percentile(delays, 90), 2),
        "p99_ms": rnd(percentile(delays, 99), 2), "max_ms": rnd(max(delays), 2) if delays else None,
        "min_ms": rnd(min(delays), 2) if delays else None,
        "write_p50_ms": rnd(percentile(write_ms, 50), 2), "write_p99_ms": rnd(percentile(write_ms, 99), 2),
        "polls_p50": percentile(polls, 50), "pdp_checks_sent": pdp.sent,
        "at_least": {"writes": at_least_writes, "wrong": ryw_wrong, "p50_ms": rnd(percentile(ryw, 50), 2),
                     "p99_ms": rnd(percentile(ryw, 99), 2), "max_ms": rnd(max(ryw), 2) if ryw else None}})
    return out
