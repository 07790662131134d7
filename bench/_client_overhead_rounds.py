"""client_overhead's policy, the three kinds of check it times, and its rounds.

Kinds, each with a client of its own (one httpx connection pool each, sequential calls):
- `raw`: an httpx.Client POSTing /v1/check with the body the client sends, the answer parsed;
- `client`: scim_authz_client.Client(...).check(user, "edit", "document:1"), no cache;
- `cached`: the same with cache=DecisionCache(), after one warm-up call per key: a local hit.
Only the call is timed (perf_counter_ns; for the HTTP kinds also this thread's CPU time, which
shows what each side costs the caller's process without the server's time in it); the answer is
checked after the clock stops.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from _paths import ROOT
from _report import log
from _stats import median, percentile, rnd

CLIENT_DIR = ROOT / "clients" / "python"   # the client library, not installed: imported from the checkout
ROLE = {"key": "editor", "name": "Editor", "permissions": ["document:edit", "document:view"]}
ACTION, RESOURCE = "edit", "document:1"
KINDS = ("raw", "client", "cached")


def import_client():
    """scim_authz_client from clients/python of this checkout."""
    import sys

    if str(CLIENT_DIR) not in sys.path:
        sys.path.insert(0, str(CLIENT_DIR))
    import scim_authz_client

    return scim_authz_client


def client_files_changed() -> int | None:
    """How many files under clients/python differ from the commit measured (product_state covers the
    server's files only)."""
    import subprocess

    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", "clients/python"], cwd=ROOT,
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return len(out.splitlines())


def load_policy(url: str, api_key: str, n_users: int) -> tuple[list[tuple[str, bool]], dict]:
    """The role `editor`, n_users users synced with PUT /v1/users/{key}, editor assigned to every
    other one (user0, user2, ...). [(userName, allowed to edit document:1)], and what was made."""
    t0 = time.perf_counter()
    users = []
    with httpx.Client(base_url=f"{url}/v1", headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as api:
        r = api.post("/roles", json=ROLE)
        if r.status_code != 201:
            raise RuntimeError(f"POST /v1/roles: {r.status_code} {r.text[:300]}")
        revision = None
        for i in range(n_users):
            name = f"user{i}@example.com"
            r = api.put(f"/users/{name}", json={"userName": name, "displayName": f"User {i}", "email": name})
            if r.status_code != 201 or r.json().get("created") is not True:
                raise RuntimeError(f"PUT /v1/users/{name}: {r.status_code} {r.text[:300]}")
            editor = i % 2 == 0
            if editor:
                r = api.post("/role-assignments", json={"user": name, "role": ROLE["key"]})
                if r.status_code != 201:
                    raise RuntimeError(f"POST /v1/role-assignments {name}: {r.status_code} {r.text[:300]}")
                revision = r.json().get("revision")
            users.append((name, editor))
        # The server's own view must be the policy's.
        for name, editor in users:
            r = api.get(f"/users/{name}/permissions")
            perms = set(r.json().get("permissions", [])) if r.status_code == 200 else None
            if perms != (set(ROLE["permissions"]) if editor else set()):
                raise RuntimeError(f"GET /v1/users/{name}/permissions differs from the policy: {r.text[:300]}")
    return users, {"users": n_users, "editors": sum(1 for _, e in users if e), "role": ROLE,
                   "check": {"action": ACTION, "resource": RESOURCE}, "revision_after_load": revision,
                   "load_seconds": round(time.perf_counter() - t0, 2)}


@dataclass
class Kind:
    """One way of making a check: `call(user)` is what is timed, `allowed(answer)` reads its answer
    (True/False, or None for an error)."""

    name: str
    call: Callable[[str], Any]
    allowed: Callable[[Any], bool | None]
    close: Callable[[], None]
    samples_ns: list[int] = field(default_factory=list)
    cpu_ns: list[int] = field(default_factory=list)   # (HTTP kinds) this thread's CPU time per call
    p50_reps_us: list[float] = field(default_factory=list)
    wrong: int = 0
    errors: int = 0
    cache_misses: int = 0      # (cached only) calls whose answer was not the warmed-up entry


def make_kinds(url: str, api_key: str) -> dict[str, Kind]:
    sac = import_client()
    raw_http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
                            timeout=5.0)

    def raw_call(user: str) -> Any:
        r = raw_http.post("/v1/check", json={"user": user, "action": ACTION, "resource": RESOURCE})
        return r.json() if r.status_code == 200 else None

    def raw_allowed(answer: Any) -> bool | None:
        return answer.get("allowed") if isinstance(answer, dict) else None

    def result_allowed(result: Any) -> bool | None:
        return None if result.failed_closed else result.allowed

    plain = sac.Client(url, api_key)
    cached = sac.Client(url, api_key, cache=sac.DecisionCache())
    return {
        "raw": Kind("raw", raw_call, raw_allowed, raw_http.close),
        "client": Kind("client", lambda user: plain.check(user, ACTION, RESOURCE), result_allowed, plain.close),
        "cached": Kind("cached", lambda user: cached.check(user, ACTION, RESOURCE), result_allowed, cached.close),
    }


def verify(kinds: dict[str, Kind], users: list[tuple[str, bool]]) -> dict:
    """Every user through every kind before timing (for `cached` this is its first, uncached, call):
    each must give the policy's answer."""
    wrong = []
    for kind in kinds.values():
        for user, want in users:
            got = kind.allowed(kind.call(user))
            if got is not want:
                wrong.append({"kind": kind.name, "user": user, "want": want, "got": got})
    return {"ok": not wrong, "checks": len(kinds) * len(users), "wrong": wrong[:5]}


def _timed(kind: Kind, users: list[tuple[str, bool]], calls: int, warm: dict | None) -> None:
    """`calls` sequential calls cycling through the users; the answers checked once the clock stops."""
    clock, cpu, call = time.perf_counter_ns, time.thread_time_ns, kind.call
    n = len(users)
    times = [0] * calls
    answers = [None] * calls
    if warm is None:  # HTTP kinds: also this thread's CPU time, read outside the wall clock
        cpu_times = [0] * calls
        for i in range(calls):
            user = users[i % n][0]
            c0 = cpu()
            t0 = clock()
            answer = call(user)
            t1 = clock()
            cpu_times[i] = cpu() - c0
            times[i] = t1 - t0
            answers[i] = answer
        kind.cpu_ns.extend(cpu_times)
    else:  # a cache hit: the wall clock alone (reading the thread's CPU clock costs about as much as a hit)
        for i in range(calls):
            user = users[i % n][0]
            t0 = clock()
            answer = call(user)
            times[i] = clock() - t0
            answers[i] = answer
    for i, answer in enumerate(answers):
        user, want = users[i % n]
        got = kind.allowed(answer)
        if got is None:
            kind.errors += 1
        elif got is not want:
            kind.wrong += 1
        if warm is not None and answer is not warm[user]:
            kind.cache_misses += 1
    kind.samples_ns.extend(times)
    kind.p50_reps_us.append(median(times) / 1000)


def run_rounds(kinds: dict[str, Kind], users: list[tuple[str, bool]], reps: int, calls: int, warmup: int) -> list:
    """Warm the HTTP kinds up, then `reps` repetitions of every kind in turn, the order rotated by
    one each repetition (a slow stretch of the machine falls on every kind in turn)."""
    for name in ("raw", "client"):
        for i in range(warmup):
            kinds[name].call(users[i % len(users)][0])
    orders = []
    for rep in range(reps):
        order = list(KINDS[rep % len(KINDS):] + KINDS[:rep % len(KINDS)])
        orders.append(order)
        for name in order:
            kind = kinds[name]
            warm = None
            if name == "cached":
                # One warm-up call per key, this repetition: entries live ttl_seconds (5 s), a
                # repetition of the HTTP kinds takes longer than that.
                warm = {user: kind.call(user) for user, _ in users}
            _timed(kind, users, calls, warm)
        log(f"   rep {rep + 1}/{reps} ({', '.join(order)}): p50 "
            + ", ".join(f"{k} {kinds[k].p50_reps_us[-1]:.1f}" for k in KINDS) + " us")
    return orders


def timer_floor_ns(calls: int) -> float:
    """The median cost of the timing itself around a call that does nothing (a lambda)."""
    clock, call = time.perf_counter_ns, (lambda user: None)
    times = []
    for _ in range(calls):
        t0 = clock()
        call("x")
        times.append(clock() - t0)
    return median(times)


def summary(kind: Kind) -> dict:
    us = [t / 1000 for t in kind.samples_ns]
    out = {"calls": len(us), "wrong": kind.wrong, "errors": kind.errors,
           "p50_us": rnd(percentile(us, 50), 2), "p90_us": rnd(percentile(us, 90), 2),
           "p99_us": rnd(percentile(us, 99), 2), "max_us": rnd(max(us) if us else None, 1),
           "mean_us": rnd(sum(us) / len(us) if us else None, 2),
           "p50_us_reps": [rnd(x, 2) for x in kind.p50_reps_us]}
    if kind.cpu_ns:
        cpu_us = [t / 1000 for t in kind.cpu_ns]
        out.update(cpu_p50_us=rnd(median(cpu_us), 2), cpu_mean_us=rnd(sum(cpu_us) / len(cpu_us), 2))
    if kind.name == "cached":
        out["cache_misses"] = kind.cache_misses
    return out
