"""pdp's load when wrk is not installed: a few threads of this process, each with one kept-alive
`http.client` connection (lighter per request than httpx, so more of the 2 cores is left to the
server), POSTing bodies drawn at random, for a fixed time. Its result has the keys of
`_wrk.run_wrk`'s, so `_http_rounds.pool_rounds` pools it. Latency here includes the client's own
wait for the GIL: figures are comparable between two servers measured this way, not with wrk's."""
from __future__ import annotations

import http.client
import math
import random
import threading
import time
from urllib.parse import urlsplit

from _machine import loadavg, machine_busy_seconds
from _server import Server


def run_python_load(server: Server, token: str, path: str, bodies: list[str], threads: int, seconds: float,
                    seed: int) -> dict:
    parts = urlsplit(server.url)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    stop_at = [0.0]
    lats: list[list[float]] = [[] for _ in range(threads)]
    errors = [{"non_2xx": 0, "connect": 0, "read": 0, "write": 0, "timeout": 0} for _ in range(threads)]
    start = threading.Barrier(threads + 1)

    def worker(k: int) -> None:
        rng = random.Random(seed + 7919 * k)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        mine, err = lats[k], errors[k]
        pc = time.perf_counter
        start.wait()
        while pc() < stop_at[0]:
            body = bodies[rng.randrange(len(bodies))]
            t = pc()
            try:
                conn.request("POST", path, body, headers)
                r = conn.getresponse()
                r.read()
                if r.status >= 300:
                    err["non_2xx"] += 1
            except TimeoutError:
                err["timeout"] += 1
                conn.close()
                continue
            except (OSError, http.client.HTTPException):
                err["read"] += 1
                conn.close()
                continue
            mine.append(pc() - t)
        conn.close()

    ts = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
    for t in ts:
        t.start()
    load = loadavg()
    busy0, srv0, cpu0 = machine_busy_seconds(), server.cpu_seconds(), time.process_time()
    t0 = time.perf_counter()
    stop_at[0] = t0 + seconds
    start.wait()
    for t in ts:
        t.join(seconds + 30)
    elapsed = time.perf_counter() - t0
    busy, srv, client_cpu = machine_busy_seconds() - busy0, server.cpu_seconds() - srv0, time.process_time() - cpu0
    all_lat = sorted(x * 1e6 for lst in lats for x in lst)  # microseconds
    n = len(all_lat)
    err = {k: sum(e[k] for e in errors) for k in errors[0]}

    def percentile(_values, p: float) -> float | None:  # nearest rank, as _stats.percentile, on the sorted list
        return all_lat[max(1, math.ceil(p / 100 * n)) - 1] if n else None

    quantiles = [percentile(all_lat, (i - 0.5) / 10) for i in range(1, 1001)] if n else []
    return {"quantiles_us": quantiles, "requests": n, "seconds": round(elapsed, 3), "req_s": n / elapsed,
            "p50_ms": (percentile(all_lat, 50) or 0) / 1e3, "p75_ms": (percentile(all_lat, 75) or 0) / 1e3,
            "p90_ms": (percentile(all_lat, 90) or 0) / 1e3, "p99_ms": (percentile(all_lat, 99) or 0) / 1e3,
            "mean_ms": (sum(all_lat) / n / 1e3) if n else 0.0, "max_ms": (all_lat[-1] / 1e3) if n else 0.0,
            "errors": err, "error_total": sum(err.values()), "loadavg_before": load,
            "load1_before": float(load.split()[0]), "server_cpu_s": round(srv, 2),
            "wrk_cpu_s": round(client_cpu, 2),  # (the Python client's CPU, under wrk's key for pool_rounds)
            "other_cpu_cores": round(max(0.0, busy - srv - client_cpu) / elapsed, 2),
            "server_cpu_us_per_req": round(srv / n * 1e6, 1) if n else None,
            "command": f"python http.client, {threads} threads x 1 kept-alive connection, {seconds}s"}
