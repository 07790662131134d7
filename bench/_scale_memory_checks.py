"""scale_memory's check workload: per tenant one POST /v1/check/bulk naming many of its users, sent
by several client threads at once (so every gunicorn worker is busy), every answer checked against
the data set. A decision id starts with its worker's own random prefix, so the client knows which
worker answered; `cover` sends a tenant's request again until every worker has answered it once,
so that every worker has read the grants of the same users."""
from __future__ import annotations

import json
import queue
import random
import threading
import time
from dataclasses import dataclass, field

import httpx
from _scale_memory_data import Shape, expected_checks, tenant_data


@dataclass
class TenantChecks:
    token: str
    body: bytes
    expected: list[bool]


def build_checks(shape: Shape, per_tenant: int, seed: int) -> dict[int, TenantChecks]:
    """Every tenant's bulk request and the answers it must get (made before the server starts)."""
    out = {}
    for t in range(1, shape.tenants + 1):
        td = tenant_data(shape, t)
        pairs = expected_checks(td, per_tenant, random.Random(seed * 7919 + t))
        out[t] = TenantChecks(td.token, json.dumps({"checks": [c for c, _ in pairs]}).encode(),
                              [e for _, e in pairs])
    return out


@dataclass
class PassResult:
    requests: int = 0
    checks: int = 0
    errors: int = 0
    wrong: int = 0
    seconds: float = 0.0
    by_worker: dict[str, int] = field(default_factory=dict)   # decision-id prefix -> requests answered
    samples: list[str] = field(default_factory=list)

    def add(self, other: PassResult) -> None:
        self.requests += other.requests
        self.checks += other.checks
        self.errors += other.errors
        self.wrong += other.wrong
        self.seconds += other.seconds
        for k, v in other.by_worker.items():
            self.by_worker[k] = self.by_worker.get(k, 0) + v
        self.samples = (self.samples + other.samples)[:5]

    def summary(self) -> dict:
        return {"requests": self.requests, "checks": self.checks, "errors": self.errors, "wrong_answers": self.wrong,
                "seconds": round(self.seconds, 2),
                "checks_per_s": round(self.checks / self.seconds) if self.seconds else None,
                "requests_by_worker": sorted(self.by_worker.values(), reverse=True), "error_samples": self.samples}


def run_pass(base_url: str, work: dict[int, TenantChecks], tenants: list[int], threads: int,
             served: dict[int, set[str]], timeout: float = 120.0) -> PassResult:
    """Each listed tenant's bulk request (once per time listed), `threads` at a time; `served[t]`
    gains the prefix of the worker that answered it."""
    result = PassResult()
    lock = threading.Lock()
    todo: queue.Queue = queue.Queue()
    for t in tenants:
        todo.put(t)

    def one(client: httpx.Client, t: int, r: PassResult) -> None:
        w = work[t]
        resp = client.post("/v1/check/bulk", content=w.body,
                           headers={"Authorization": f"Bearer {w.token}", "Content-Type": "application/json"})
        r.requests += 1
        if resp.status_code != 200:
            r.errors += 1
            r.samples.append(f"tenant {t}: HTTP {resp.status_code}: {resp.text[:200]}")
            return
        results = resp.json()["results"]
        r.checks += len(results)
        for got, want in zip(results, w.expected, strict=True):
            if got["allowed"] is not want:
                r.wrong += 1
                if len(r.samples) < 5:
                    r.samples.append(f"tenant {t}: {got} expected allowed={want}")
        prefix = results[0]["decision_id"].split("-", 1)[0]
        r.by_worker[prefix] = r.by_worker.get(prefix, 0) + 1
        with lock:
            served.setdefault(t, set()).add(prefix)

    def loop() -> None:
        mine = PassResult()
        with httpx.Client(base_url=base_url, timeout=timeout) as client:
            while True:
                try:
                    t = todo.get_nowait()
                except queue.Empty:
                    break
                try:
                    one(client, t, mine)
                except (httpx.HTTPError, ValueError, KeyError) as e:
                    mine.errors += 1
                    mine.samples.append(f"tenant {t}: {type(e).__name__}: {e}")
        with lock:
            result.add(mine)

    t0 = time.perf_counter()
    pool = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    result.seconds = time.perf_counter() - t0
    return result


def cover(base_url: str, work: dict[int, TenantChecks], workers: int, threads: int, served: dict[int, set[str]],
          max_rounds: int = 40, log=None) -> tuple[PassResult, int]:
    """Rounds of run_pass over the tenants some worker has not answered yet, until every worker has
    answered every tenant (or max_rounds); the pooled result and the tenants still not covered."""
    total = PassResult()
    for n in range(max_rounds):
        left = [t for t in work if len(served.get(t, ())) < workers]
        if not left:
            break
        # With fewer requests than clients an idle worker may take them all (the last one to wait
        # is woken first): repeat the tenants left so that every worker stays busy.
        batch = left * -(-4 * threads // len(left))
        r = run_pass(base_url, work, batch, threads, served)
        total.add(r)
        if log:
            log(f"  cover round {n + 1}: {len(left)} tenants, {r.checks / max(r.seconds, 1e-9):,.0f} checks/s")
        if r.errors:
            break
    return total, sum(1 for t in work if len(served.get(t, ())) < workers)
