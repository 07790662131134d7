#!/usr/bin/env python
"""Under gunicorn, where a SCIM request's server CPU goes: inside our WSGI app, in gunicorn around
it, in the server's other processes; and what 4 workers instead of 1 add. Ours and the durable floor
(bench/durable_scim_app.py) side by side, in the same run.

scim_cycle_cpu.py counts the app alone (no sockets, no gunicorn), scim_cycle.py the whole server;
this one splits the second. For each server and worker count (--workers), on a fresh SQLite store:

  ours_sqlite           wsgi:app on a migrated SQLite file (SQLITE_SYNCHRONOUS=FULL), a tenant and a
                        SCIM token as scim_cycle makes them
  durable_floor_sqlite  bench/durable_scim_app.py (WAL, synchronous=FULL: one committed statement
                        per write, one SELECT per read)

served as bench/_gunicorn.py serves them (free loopback port, ACCESS_LOG=/dev/null,
WEB_CONCURRENCY=<workers>), except that -c names a wrapper written to the temp dir: it evaluates the
real config (config/gunicorn.conf.py; for the floor, that minus its server hooks) with runpy, keeps
its settings and hooks, and adds a post_worker_init hook (chaining the config's own, if any) that
counts requests and the worker's CPU (time.process_time) from calling the app until its body is
iterated and closed. On SIGUSR2 a worker writes its cumulative {requests, app_cpu_s, worker_cpu_s
(its CPU since post_worker_init)} to SERVING_COST_DIR/<pid>.json (and at worker exit, which the
bench does not need); the bench signals every worker and reads the files before and after each
request kind, so the figures are exact whichever worker served which request.

After a warm-up (--warmup requests per worker, half of each kind), one httpx client sends, one
request at a time, --requests of each kind, every answer checked (200 / 201, else an error):

  lookup  GET /Users?filter=userName eq "nobody-<i>@example.invalid" (finds nothing)
  create  POST /Users, a small User (schemas, userName, active, name, emails)

Per request: server CPU (user + system of every process of the server's group, from /proc), of
which app (inside the WSGI app, summed over workers), around app (the rest of the workers' CPU:
gunicorn's accept, parse, answer and close, its heartbeat, the kernel's TCP work done in the
worker) and other processes (server CPU - workers' CPU: the gunicorn master). Then the server CPU of
4 workers minus that of 1: with one request at a time, what idle workers (each woken by every
connection, one wins the accept) and moving between processes cost, not contention. The sync worker
keeps the client's connection alive (GUNICORN_KEEPALIVE, 5 s by default), as in scim_cycle; with
GUNICORN_KEEPALIVE=0 every request is a new TCP connection, woken in whichever worker waits.

Limits: process_time counts all threads of a worker, so ours' background threads (metrics
flusher, revision feed, audit writer, directory-write counter) count as app when they run during a
request and as around app between requests; the client's CPU is not counted; the counter's own
clock reads (a few per request) fall inside the app's figure; /proc counts in clock ticks, so server
CPU, and "other" with it, are uncertain by up to one tick (10 ms) per process over a kind's
requests, 10 us a request at 1,000 requests ("other" may come out slightly negative). SQLite only:
PostgreSQL is left out to keep the run short (its server processes would have to be counted apart,
as scim_cycle_cpu does).

stdout: tables, then, as the last line, one JSON object. Progress goes to stderr.

    python bench/serving_cost.py                   # ~45 s on 2 cores
    python bench/serving_cost.py --requests 1000   # ~30 s
    python bench/serving_cost.py --reps 3 --workers 1,2,4
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path

from _durable_stores import create_schema
from _gunicorn import CONFIG, _serve, gunicorn_defaults, prepare_our_database, write_floor_config
from _report import emit_json, log, print_table, product_state
from _server import LOOPBACK, Server, free_port

SERVERS = ("ours_sqlite", "durable_floor_sqlite")
KINDS = ("lookup", "create")
COUNT_DIR_ENV = "SERVING_COST_DIR"
SNAPSHOT = signal.SIGUSR2          # reset to its default (exit) by gunicorn's workers; the wrapper takes it
FIGURES = ("server_cpu_us", "app_us", "around_app_us", "other_us", "worker_cpu_us", "req_per_s")

# The wrapper's body; write_wrapper puts `_BASE = <the real config's path>` above it.
WRAPPER = '''
import json as _json
import os as _os
import runpy as _runpy
import signal as _signal
import time as _time

_base = _runpy.run_path(_BASE)
globals().update({_k: _v for _k, _v in _base.items() if not _k.startswith("_")})
_base_post_worker_init = _base.get("post_worker_init")
_base_worker_exit = _base.get("worker_exit")
_counts = {"requests": 0, "app_cpu_s": 0.0, "worker_cpu_s": 0.0, "snapshots": 0}
_since = []  # the worker's process_time at post_worker_init (empty in the master)


def _write_counts(*_args):
    _counts["worker_cpu_s"] = _time.process_time() - _since[0]
    _counts["snapshots"] += 1
    path = _os.path.join(_os.environ["''' + COUNT_DIR_ENV + '''"], f"{_os.getpid()}.json")
    with open(path + ".tmp", "w") as f:
        f.write(_json.dumps(_counts))
    _os.replace(path + ".tmp", path)


def _in_app(fn, *args):
    t0 = _time.process_time()
    try:
        return fn(*args)
    finally:
        _counts["app_cpu_s"] += _time.process_time() - t0


class _CountedBody:
    """The app's answer: iterating and closing it is the app's CPU too."""

    def __init__(self, body):
        self._body, self._it = body, iter(body)

    def __iter__(self):
        return self

    def __next__(self):
        return _in_app(next, self._it)

    def close(self):
        if hasattr(self._body, "close"):
            _in_app(self._body.close)


def post_worker_init(worker):
    if _base_post_worker_init is not None:
        _base_post_worker_init(worker)
    app = worker.wsgi

    def counted(environ, start_response):
        _counts["requests"] += 1
        return _in_app(lambda: _CountedBody(app(environ, start_response)))

    worker.wsgi = counted
    _since.append(_time.process_time())
    _signal.signal(_signal.''' + SNAPSHOT.name + ''', _write_counts)
    _write_counts()


def worker_exit(server, worker):
    if _base_worker_exit is not None:
        _base_worker_exit(server, worker)
    if _since:  # in the worker itself (the master calls this too, for a worker gone before it could)
        _write_counts()
'''


def write_wrapper(base: Path, path: Path) -> Path:
    path.write_text(f"# Generated by bench/serving_cost.py: {base} plus a counter of the CPU spent in the app.\n"
                    f"_BASE = {str(base)!r}\n" + WRAPPER)
    return path


def start(name: str, workers: int, d: Path) -> tuple[Server, Path]:
    """A fresh store and the server on it under the counting wrapper; (the server, its count dir)."""
    count_dir = d / "counts"
    count_dir.mkdir(parents=True)
    port = free_port()
    env = {**os.environ, "BIND": f"{LOOPBACK}:{port}", "ACCESS_LOG": "/dev/null", "WEB_CONCURRENCY": str(workers),
           COUNT_DIR_ENV: str(count_dir)}
    if name == "ours_sqlite":
        url = f"sqlite:///{d / 'scim.db'}"
        os.environ["SCIM_AUTHZ_INSTANCE"] = str(d / "instance")  # the CLI's and the server's
        token = prepare_our_database(url)
        env.update(DATABASE_URL=url, SQLITE_SYNCHRONOUS="FULL", SCIM_AUTHZ_INSTANCE=str(d / "instance"))
        args = ["-c", str(write_wrapper(CONFIG, d / "serving_cost.conf.py")), "wsgi:app"]
    else:
        create_schema(str(d / "durable.db"))
        token = "serving-cost-" + os.urandom(8).hex()
        env["DURABLE_DATABASE"] = str(d / "durable.db")
        args = ["-c", str(write_wrapper(write_floor_config(d), d / "serving_cost.conf.py")),
                "--pythonpath", "bench", "durable_scim_app:app"]
    server = _serve(name, port, token, d, env, args, {"workers": workers})
    try:
        deadline = time.monotonic() + 30
        while (server.wait_workers(workers) != workers
               or not all((count_dir / f"{p}.json").exists() for p in server.worker_pids())):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: {workers} counted workers not up; log:\n{server.tail_log()}")
            time.sleep(0.05)
    except BaseException:
        server.stop()
        raise
    return server, count_dir


def snapshot(server: Server, count_dir: Path, timeout: float = 10.0) -> dict:
    """Every worker's counts, fresh (each written after this call's signal), summed."""
    def read(pid: int) -> dict:
        try:
            return json.loads((count_dir / f"{pid}.json").read_text())
        except (OSError, ValueError):
            return {"snapshots": 0}
    pids = server.worker_pids()
    seen = {p: read(p)["snapshots"] for p in pids}
    for p in pids:
        os.kill(p, SNAPSHOT)
    deadline = time.monotonic() + timeout
    while True:
        counts = {p: read(p) for p in pids}
        if all(c["snapshots"] > seen[p] for p, c in counts.items()):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server.name}: workers {pids} did not write their counts; log:\n{server.tail_log()}")
        time.sleep(0.005)
    return {"pids": pids, **{k: sum(c[k] for c in counts.values()) for k in ("requests", "app_cpu_s", "worker_cpu_s")}}


def send(client, kind: str, tag: str):
    if kind == "lookup":
        return client.get("/Users", params={"filter": f'userName eq "nobody-{tag}@example.invalid"'})
    email = f"user-{tag}@example.invalid"
    return client.post("/Users", json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email, "active": True,
        "name": {"givenName": "Serving", "familyName": f"Cost {tag}"},
        "emails": [{"value": email, "type": "work", "primary": True}]})


def measure(server: Server, count_dir: Path, client, kind: str, n: int) -> dict:
    """n requests of a kind, one at a time; their figures per request."""
    errors, samples = 0, []
    before = snapshot(server, count_dir)
    cpu0, t0 = server.cpu_seconds(), time.perf_counter()
    for i in range(n):
        r = send(client, kind, str(i))
        if r.status_code != (200 if kind == "lookup" else 201):
            errors += 1
            if len(samples) < 3:
                samples.append(f"{kind} {r.status_code}: {r.text[:120]}")
    elapsed, cpu = time.perf_counter() - t0, server.cpu_seconds() - cpu0
    after = snapshot(server, count_dir)
    if after["pids"] != before["pids"]:
        raise RuntimeError(f"{server.name}: workers changed during {kind} ({before['pids']} -> {after['pids']})")
    if after["requests"] - before["requests"] != n:
        log(f"!! {server.name} {kind}: the workers counted {after['requests'] - before['requests']} requests, not {n}")
    app, worker = after["app_cpu_s"] - before["app_cpu_s"], after["worker_cpu_s"] - before["worker_cpu_s"]
    us = 1e6 / n
    return {"requests": n, "errors": errors, "error_samples": samples,
            "app_requests": after["requests"] - before["requests"],
            "server_cpu_us": cpu * us, "app_us": app * us, "around_app_us": (worker - app) * us,
            "other_us": (cpu - worker) * us, "worker_cpu_us": worker * us, "req_per_s": n / elapsed}


def run_one(name: str, workers: int, args, d: Path) -> dict[str, dict]:
    server, count_dir = start(name, workers, d)
    try:
        with server.client() as c:
            for i in range(args.warmup * workers):
                send(c, KINDS[i % 2], f"warm-{i}")
            out = {kind: measure(server, count_dir, c, kind, args.requests) for kind in KINDS}
        if not server.check_alive():
            raise RuntimeError(f"{name} exited during the run")
        return out
    finally:
        server.stop()


def report(runs: dict, workers: list[int], settings: dict) -> tuple[list[dict], dict]:
    rows, table = [], []
    for (name, w, kind), reps in runs.items():
        row = {"server": name, "workers": w, "kind": kind, "requests": reps[0]["requests"],
               "errors": sum(r["errors"] for r in reps), "app_requests": [r["app_requests"] for r in reps],
               **{f: round(statistics.median(r[f] for r in reps), 1) for f in FIGURES},
               "server_cpu_us_reps": [round(r["server_cpu_us"], 1) for r in reps],
               "error_samples": [s for r in reps for s in r["error_samples"]][:3]}
        rows.append(row)
        table.append([name, w, kind, *(f"{row[f]:.0f}" for f in FIGURES[:4]), f"{row['req_per_s']:.0f}",
                      row["errors"]])
    print(f"Server CPU per SCIM request under gunicorn, one request at a time: {settings['requests']} requests a "
          f"kind, {settings['reps']} repetition(s), median")
    print_table(["server", "workers", "kind", "server CPU us/req", "app us/req", "around app us/req",
                 "other procs us/req", "req/s", "errors"], table)
    lo, hi = min(workers), max(workers)
    by_key = {(r["server"], r["workers"], r["kind"]): r for r in rows}
    extra = {name: {kind: {f: round(by_key[name, hi, kind][f] - by_key[name, lo, kind][f], 1) for f in FIGURES[:4]}
                    for kind in KINDS} for name in SERVERS} if lo != hi else {}
    if extra:
        print(f"\nWhat {hi} workers add over {lo}, us/req ({hi} workers - {lo})")
        print_table(["server", "kind", "server CPU", "app", "around app", "other procs"],
                    [[name, kind, *(f"{d[f]:+.0f}" for f in FIGURES[:4])]
                     for name, kinds in extra.items() for kind, d in kinds.items()])
    return rows, extra


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000, help="requests of each kind per server and worker count")
    ap.add_argument("--warmup", type=int, default=200, help="requests per worker before measuring, half of each kind")
    ap.add_argument("--workers", default="1,4", help="gunicorn worker counts, comma-separated")
    ap.add_argument("--reps", type=int, default=1, help="fresh runs of everything; medians are shown")
    args = ap.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    t0 = time.perf_counter()
    runs: dict[tuple, list[dict]] = {(s, w, k): [] for s in SERVERS for w in workers for k in KINDS}
    with tempfile.TemporaryDirectory(prefix="serving-cost-") as tmp:
        for rep in range(args.reps):
            for name in SERVERS if rep % 2 == 0 else SERVERS[::-1]:
                for w in workers:
                    out = run_one(name, w, args, Path(tmp) / f"rep{rep}" / f"{name}-w{w}")
                    for kind, r in out.items():
                        runs[(name, w, kind)].append(r)
                        log(f"rep {rep + 1}/{args.reps} {name:21s} {w} worker(s) {kind:6s} "
                            f"{r['server_cpu_us']:5.0f} us/req server CPU, {r['app_us']:5.0f} in app, "
                            f"{r['req_per_s']:4.0f} req/s, {r['errors']} errors")
    settings = {"requests": args.requests, "warmup": args.warmup, "workers": workers, "reps": args.reps,
                "servers": list(SERVERS), "store": "SQLite file in a temp dir, synchronous=FULL",
                "worker_class": gunicorn_defaults()["worker_class"], "client": "one httpx client, sequential",
                "elapsed_s": round(time.perf_counter() - t0, 1)}
    rows, extra = report(runs, workers, settings)
    emit_json({"bench": "serving_cost", "settings": settings, "rows": rows, "extra_workers_us": extra,
               "product": product_state()})


if __name__ == "__main__":
    main()
