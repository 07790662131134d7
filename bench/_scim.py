"""SCIM requests as the SCIM benchmarks send them, and a client that times them.

`run_requests` is the one load generator of scim_peer (it needs a check of every answer, which wrk
cannot do); scim_scale times single requests itself.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from _machine import machine_busy_seconds
from _server import Server

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def user_body(user_name: str, display: str | None = None) -> dict:
    """The POST /Users body every benchmark sends (and the shape scim_scale stores directly)."""
    return {"schemas": [USER_SCHEMA], "userName": user_name, "displayName": display or user_name.split("@")[0],
            "active": True, "emails": [{"value": user_name, "type": "work"}]}


def patch_add_member(member_id: str) -> dict:
    return {"schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": member_id}]}]}


def patch_remove_member(member_id: str) -> dict:
    """The Okta form: a value filter on members."""
    return {"schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "remove", "path": f'members[value eq "{member_id}"]'}]}


def expect(r: httpx.Response, *statuses: int) -> str | None:
    """None when the response has one of `statuses`, else the error of the request."""
    if r.status_code in statuses:
        return None
    return f"{r.request.method} {r.request.url.path} -> {r.status_code}: {r.text[:200]}"


@dataclass
class RunResult:
    requests: int = 0            # attempted
    ok: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    timed_out: bool = False
    client_cpu_s: float = 0.0
    server_cpu_s: float | None = None
    machine_busy_s: float | None = None   # every CPU of the machine (others' work included)

    def add_error(self, msg: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(msg[:300])


Check = Callable[[httpx.Client, Any], str | None]   # does one request; None when right, else the error


def run_requests(server: Server, items: list, do: Check, threads: int, time_limit: float) -> RunResult:
    """Run `do(client, item)` for every item, with `threads` threads (an httpx.Client each; 1 = sequential).

    Items are dealt round-robin; the clock starts when every thread is ready and stops when the
    last finishes. A thread stops early past `time_limit` seconds (the result is then marked
    timed_out and is not throughput).
    """
    threads = max(1, min(threads, len(items))) if items else 1
    result = RunResult()
    lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)
    clients = [server.client() for _ in range(threads)]
    start_box: list[float] = []

    def worker(k: int) -> None:
        client = clients[k]
        mine = items[k::threads]
        lat, errs, ok, n, timed_out = [], [], 0, 0, False
        barrier.wait()
        deadline = start_box[0] + time_limit if start_box else time.perf_counter() + time_limit
        for item in mine:
            if time.perf_counter() > deadline:
                timed_out = True
                break
            t0 = time.perf_counter()
            try:
                err = do(client, item)
            except Exception as e:  # noqa: BLE001 - a transport error is an error of the row
                err = f"{type(e).__name__}: {e}"
            lat.append((time.perf_counter() - t0) * 1000)
            n += 1
            if err is None:
                ok += 1
            else:
                errs.append(err)
        with lock:
            result.requests += n
            result.ok += ok
            result.latencies_ms += lat
            result.timed_out = result.timed_out or timed_out
            for e in errs:
                result.add_error(e)

    pool = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
    for t in pool:
        t.start()
    cpu0, scpu0, busy0 = os.times(), server.cpu_seconds(), machine_busy_seconds()
    start_box.append(time.perf_counter())
    barrier.wait()
    for t in pool:
        t.join(time_limit + 60)
    result.elapsed = time.perf_counter() - start_box[0]
    cpu1 = os.times()
    result.client_cpu_s = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    result.server_cpu_s = server.cpu_seconds() - scpu0
    result.machine_busy_s = machine_busy_seconds() - busy0
    if any(t.is_alive() for t in pool):
        result.timed_out = True
    for c in clients:
        c.close()
    return result
