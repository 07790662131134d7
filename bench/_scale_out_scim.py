"""scale_out's SCIM writes: POST /Users and PATCH /Groups/{id} adding one member, from concurrent
clients, the same requests on every server, repetitions in rotating order (the figure is the
median); every response checked, and the group read back after the PATCHes."""
from __future__ import annotations

import threading

from _report import log
from _scim import GROUP_SCHEMA, RunResult, expect, patch_add_member, run_requests, user_body
from _server import Server
from _stats import median, percentile, rnd

ROWS = ("create_users", "group_patch")
WARMUP = 20           # requests of each row before its repetitions
INITIAL_MEMBERS = 20  # members of the group before the first PATCH


class Writes:
    """One server's side of the workload: the ids it gave, its group, the PATCHes it accepted."""

    def __init__(self, server: Server):
        self.s = server
        self.ids: dict[str, str] = {}
        self.lock = threading.Lock()
        self.group_id: str | None = None
        self.patched_ok = 0

    def create(self, client, user_name: str) -> str | None:
        r = client.post("/Users", json=user_body(user_name))
        err = expect(r, 201)
        if err:
            return err
        body = r.json()
        if body.get("userName") != user_name or not body.get("id"):
            return f"POST /Users answered {body!r:.200}"
        with self.lock:
            self.ids[user_name] = body["id"]
        return None

    def make_group(self, members: list[str]) -> None:
        with self.s.client() as c:
            r = c.post("/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "scale-out-writes",
                                        "members": [{"value": self.ids[n]} for n in members]})
        if r.status_code != 201:
            raise RuntimeError(f"{self.s.name}: POST /Groups -> {r.status_code} {r.text[:300]}")
        self.group_id = r.json()["id"]

    def patch(self, client, user_name: str) -> str | None:
        member = self.ids.get(user_name)
        if member is None:
            return f"{user_name} was not created on this server"
        err = expect(client.patch(f"/Groups/{self.group_id}", json=patch_add_member(member)), 204, 200)
        if err is None:
            with self.lock:
                self.patched_ok += 1
        return err

    def check_group(self) -> dict:
        """The group holds its first members and every member a PATCH added."""
        with self.s.client() as c:
            r = c.get(f"/Groups/{self.group_id}")
        members = len(r.json().get("members") or []) if r.status_code == 200 else None
        want = INITIAL_MEMBERS + self.patched_ok
        return {"members": members, "expected_members": want, "ok": members == want}


def plan(per_rep: int, reps: int) -> dict:
    """The user names of every request: created, then the first INITIAL_MEMBERS put in the group,
    every other one added to it by one PATCH."""
    created_warm = [f"scale-warm-{i:04d}@bench.example" for i in range(INITIAL_MEMBERS + WARMUP)]
    created = [[f"scale-{r}-{i:05d}@bench.example" for i in range(per_rep)] for r in range(reps)]
    pool = created_warm[INITIAL_MEMBERS:] + [n for rep in created for n in rep]
    patch_warm, rest = pool[:WARMUP], pool[WARMUP:]
    patches = [rest[r * per_rep:(r + 1) * per_rep] for r in range(reps)]
    return {"create_users": (created_warm, created), "group_initial": created_warm[:INITIAL_MEMBERS],
            "group_patch": (patch_warm, patches)}


def summarise(warm: RunResult, reps: list[RunResult]) -> dict:
    errors = warm.errors + sum(r.errors for r in reps)
    timed_out = warm.timed_out or any(r.timed_out for r in reps)
    status = "timeout" if timed_out else ("errors" if errors else "ok")
    rates = [r.requests / r.elapsed for r in reps if r.elapsed > 0]
    lat = [x for r in reps for x in r.latencies_ms]
    return {"status": status, "requests": sum(r.requests for r in reps), "errors": errors,
            "req_s": rnd(median(rates), 1) if status == "ok" and rates else None,
            "req_s_reps": [rnd(x, 1) for x in rates], "p50_ms": rnd(median(lat)),
            "p95_ms": rnd(percentile(lat, 95)), "max_ms": rnd(max(lat, default=None)),
            "server_cpu_s": rnd(sum(r.server_cpu_s or 0 for r in reps)),
            "error_samples": (warm.error_samples + [e for r in reps for e in r.error_samples])[:3]}


def measure_scim(servers: dict[str, Server], per_rep: int, reps: int, threads: int, time_limit: float) -> dict:
    """Both rows on every server; per row and server a summary, and the group checks."""
    p = plan(per_rep, reps)
    names = list(servers)
    work = {n: Writes(servers[n]) for n in names}
    out: dict = {}
    for row in ROWS:
        if row == "group_patch":
            for n in names:
                work[n].make_group(p["group_initial"])
        do = {"create_users": "create", "group_patch": "patch"}[row]
        warm_items, rep_items = p[row]
        warm = {n: run_requests(servers[n], warm_items, getattr(work[n], do), threads, time_limit) for n in names}
        results: dict[str, list[RunResult]] = {n: [] for n in names}
        for r, items in enumerate(rep_items):
            for n in names[r % len(names):] + names[:r % len(names)]:
                results[n].append(run_requests(servers[n], items, getattr(work[n], do), threads, time_limit))
        out[row] = {}
        for n in names:
            s = out[row][n] = summarise(warm[n], results[n])
            log(f"   {row:12s} {n:8s} {s['requests']:5d} req  {s['req_s'] or s['status'].upper():>8} req/s  "
                f"reps {s['req_s_reps']}  p50 {s['p50_ms']} ms  p95 {s['p95_ms']} ms")
    out["group_check"] = {n: work[n].check_group() for n in names}
    return out
