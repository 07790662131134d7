#!/usr/bin/env python
"""What a request of bench/scim_cycle.py costs in CPU inside our server, next to the durable floor.

scim_cycle.py measures the figure the issue names (requests/s over HTTP, 4 connections, everything
on the same two cores), and between two runs a server's rate moves by 10-20%, too much to see a
change of a few per cent. This script measures, more steadily (repetitions 1-3% apart on
PostgreSQL and for the floors, 3-12% for ours on SQLite), the part of it that is ours: the CPU
the app spends per request kind. The same plan (2,000 users, 100 groups, both cycles)
is sent through one in-process client (httpx's WSGI transport, no sockets, no gunicorn) to each
WSGI app, each in a process of its own and on a fresh store:

  ours_sqlite / ours_pg      wsgi:app on a migrated SQLite file (SQLITE_SYNCHRONOUS=FULL) or
                             PostgreSQL database, a tenant and a SCIM token as scim_cycle makes them
  durable_sqlite / _pg       bench/durable_scim_app.py, scim_cycle's durable floor: one committed
                             statement per write, one indexed SELECT per read

Counted: the process's CPU (user + system, so SQLite's fsync too) from the moment the app is called
until its body is produced, per request kind; on PostgreSQL also the CPU of the database's server
processes serving it (/proc, same machine), shown apart. The client's work is not counted. Every
response is checked as scim_cycle checks it, and ours is read back and compared with the plan's
final state. The ratio is ours over the durable floor on the same store, total CPU per request.

Not here: the scim2-server peer. Measured this way it spent 1.8-2.1 ms a request, more than the
1.2-1.5 ms scim_cycle measures for it under gunicorn (why is not pinned down), so a ratio to it
taken here would not be the one that matters; scim_cycle.py is where ours meets it. Nor what
serving over HTTP adds (gunicorn's accept, parse, answer and close, the kernel's loopback TCP),
nor what running four workers adds: bench/serving_cost.py measures both, for ours and the floor.

stdout: tables, then, as the last line, one JSON object. Progress goes to stderr.

    python bench/scim_cycle_cpu.py                  # ~40 s
    python bench/scim_cycle_cpu.py --reps 3 --no-pg
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _paths import BENCH_DIR, ROOT
from _pg import DEFAULT_PG_URL, PgDatabase
from _report import emit_json, log, print_table, product_state

SERVERS = ("ours_sqlite", "ours_pg", "durable_sqlite", "durable_pg")
FLOOR = {"ours_sqlite": "durable_sqlite", "ours_pg": "durable_pg"}
KINDS = ("lookup_user", "create_user", "lookup_group", "create_group", "add_members", "get_user", "put_user",
         "deactivate", "member_delta", "rename")


# ---- one server, in a process of its own -------------------------------------------------------

class _InProcess:
    """What Cycle and compare() use of a Server, over httpx's WSGI transport."""

    def __init__(self, app, base_url: str, token: str):
        import httpx

        self._make = lambda timeout=30.0: httpx.Client(
            transport=httpx.WSGITransport(app=app), base_url=base_url, timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json",
                     "Accept": "application/scim+json"})

    def client(self, timeout: float = 30.0):
        return self._make(timeout)

    def cpu_seconds(self) -> float:
        return 0.0


class _Counted:
    """A WSGI app whose calls add the process's CPU time to `seconds`."""

    def __init__(self, app):
        self.app, self.seconds = app, 0.0

    def __call__(self, environ, start_response):
        t0 = time.process_time()
        try:
            out = self.app(environ, start_response)
            try:
                body = b"".join(out)
            finally:
                getattr(out, "close", lambda: None)()
            return [body]
        finally:
            self.seconds += time.process_time() - t0


def _backend_ticks(libpq_url: str | None) -> int:
    """CPU ticks so far of the PostgreSQL processes serving the database (0 without one)."""
    if libpq_url is None:
        return 0
    import psycopg

    with psycopg.connect(libpq_url, autocommit=True) as conn:
        pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                           "AND pid <> pg_backend_pid()")]
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return ticks


def _app(server: str, database: str | None):
    """(the WSGI app, its SCIM base URL, a token it accepts, the libpq URL of its database or None)."""
    if server.startswith("ours"):
        from _gunicorn import prepare_our_database

        token = prepare_our_database(database)
        os.environ.update(DATABASE_URL=database, ACCESS_LOG="")
        from wsgi import app
        libpq = database.replace("postgresql+psycopg://", "postgresql://") if server == "ours_pg" else None
        return app, "http://127.0.0.1:8000/scim/v2", token, libpq
    from _durable_stores import create_schema

    create_schema(database)
    os.environ["DURABLE_DATABASE"] = database
    from durable_scim_app import app
    return app, "http://127.0.0.1:8000/scim/v2", "durable-token", database if server == "durable_pg" else None


def run_one(server: str, database: str | None, users: int, groups: int, seed: int) -> dict:
    from _scim_cycle_client import Cycle
    from _scim_cycle_plan import build_plan
    from _scim_cycle_state import compare

    app, base_url, token, libpq = _app(server, database)
    counted = _Counted(app)
    target = _InProcess(counted, base_url, token)
    plan = build_plan(users, groups, seed)
    cycle = Cycle(target, plan, stateful=server.startswith("ours"))
    cpu: dict[str, float] = {}
    call = cycle.call

    def timed_call(client, kind, *args, **kwargs):
        before = counted.seconds
        try:
            return call(client, kind, *args, **kwargs)
        finally:
            cpu[kind] = cpu.get(kind, 0.0) + counted.seconds - before
    cycle.call = timed_call
    with target.client() as c:
        for i in range(50):  # on this thread (Cycle.warm_up uses threads of its own)
            c.get("/Users", params={"filter": f'userName eq "warm-{i}@example.invalid"'})
        cpu.clear()
        counted.seconds, n0, ticks0 = 0.0, cycle.rec.requests(), _backend_ticks(libpq)
        for steps in (plan.entra_steps, plan.okta_steps):
            for _, units in steps:
                for unit in units:
                    cycle.unit(c, unit)
        ticks = _backend_ticks(libpq) - ticks0
    n = cycle.rec.requests() - n0
    counts = {k: len(v) for k, v in cycle.rec.latencies.items()}
    state = compare(cycle) if cycle.stateful else None
    return {"server": server, "requests": n, "errors": cycle.rec.error_count(), "error_samples": cycle.rec.samples[:3],
            "differences": state["differences"] if state else None,
            "difference_samples": (state or {}).get("samples", [])[:3],
            "app_us": counted.seconds / n * 1e6,
            "backend_us": ticks / os.sysconf("SC_CLK_TCK") / n * 1e6 if libpq else None,
            "kinds": {k: {"n": counts.get(k), "app_us": cpu[k] / counts[k] * 1e6} for k in cpu if counts.get(k)}}


# ---- the run -------------------------------------------------------------------------------------

def _database(server: str, tmp: Path, pg_url: str, rep: int) -> tuple[str, PgDatabase | None]:
    """A fresh store: (what the server takes, the PostgreSQL database to drop afterwards)."""
    if server.endswith("sqlite"):
        path = tmp / f"{server}-{rep}.db"
        return (f"sqlite:///{path}" if server.startswith("ours") else str(path)), None
    pg = PgDatabase(pg_url, f"bench_scim_cpu_{server}").create()
    return (pg.url if server.startswith("ours") else pg.libpq_url), pg


def run_server(server: str, args, tmp: Path, rep: int) -> dict:
    database, pg = _database(server, tmp, args.pg_url, rep)
    try:
        env = {**os.environ, "SQLITE_SYNCHRONOUS": "FULL", "SCIM_AUTHZ_INSTANCE": str(tmp / f"instance-{server}-{rep}")}
        proc = subprocess.run([sys.executable, __file__, "--one", server, "--database", database,
                               "--users", str(args.users), "--groups", str(args.groups), "--seed", str(args.seed)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            return {"server": server, "status": f"failed ({proc.returncode}): {proc.stderr[-1500:]}"}
        return {**json.loads(proc.stdout.strip().splitlines()[-1]), "status": "ok"}
    finally:
        if pg is not None:
            pg.drop()


def _pg_reachable(url: str) -> bool:
    try:
        import psycopg

        psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3).close()
        return True
    except Exception:  # noqa: BLE001 - no server: the PostgreSQL rows are left out, and said so
        return False


def median_of(runs: list[dict]) -> dict:
    ok = [r for r in runs if r.get("status") == "ok"]
    if not ok:
        return runs[-1]
    out = dict(ok[0])
    for key in ("app_us", "backend_us"):
        if ok[0].get(key) is not None:
            out[key] = statistics.median(r[key] for r in ok)
            out[f"{key}_reps"] = [round(r[key], 1) for r in ok]
    out["kinds"] = {k: {"n": v["n"], "app_us": statistics.median(r["kinds"][k]["app_us"] for r in ok
                                                                 if k in r["kinds"])}
                    for k, v in ok[0]["kinds"].items()}
    out["errors"] = sum(r["errors"] for r in ok)
    out["differences"] = None if ok[0]["differences"] is None else sum(r["differences"] for r in ok)
    return out


def report(results: dict[str, dict], settings: dict) -> dict:
    def total(name):
        r = results.get(name) or {}
        return r["app_us"] + (r["backend_us"] or 0) if r.get("status") == "ok" else None
    rows, figs = [], {}
    for name, r in results.items():
        if r.get("status") != "ok":
            rows.append([name, "-", "-", "-", "-", "-", "-", r.get("status", "")[:60]])
            continue
        floor = total(FLOOR[name]) if name in FLOOR else None
        ratio = round(total(name) / floor, 2) if floor else None
        figs[name] = {"app_us": round(r["app_us"], 1),
                      "backend_us": None if r["backend_us"] is None else round(r["backend_us"], 1),
                      "total_us": round(total(name), 1), "over_durable_floor": ratio, "errors": r["errors"],
                      "differences": r["differences"], "app_us_reps": r.get("app_us_reps")}
        rows.append([name, r["requests"], f"{r['app_us']:.0f}",
                     "-" if r["backend_us"] is None else f"{r['backend_us']:.0f}", f"{total(name):.0f}",
                     ratio if ratio is not None else "-", r["errors"],
                     "skipped" if r["differences"] is None else r["differences"]])
    print(f"SCIM cycle, CPU per request inside each server (no sockets, no gunicorn): {settings['users']} users, "
          f"{settings['groups']} groups, {settings['reps']} repetition(s), median")
    print_table(["server", "requests", "app us/req", "PostgreSQL us/req", "total us/req", "x durable floor",
                 "errors", "differences"], rows)
    names = [n for n in results if results[n].get("status") == "ok"]
    print()
    print_table(["kind", *(f"{n} us" for n in names)],
                [[k, *(f"{results[n]['kinds'][k]['app_us']:.0f}" if k in results[n]["kinds"] else "-"
                       for n in names)] for k in KINDS])
    print("(per kind: the app's own CPU per request, without PostgreSQL's)")
    return figs


def _progress(r: dict) -> str:
    if r["status"] != "ok":
        return r["status"]
    pg = f" + {r['backend_us']:.0f} PostgreSQL" if r.get("backend_us") else ""
    return f"{r['app_us']:.0f} us/req app{pg}, {r['errors']} errors, differences {r['differences']}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--groups", type=int, default=100)
    ap.add_argument("--reps", type=int, default=1, help="fresh runs per server; the median is shown")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL))
    ap.add_argument("--no-pg", action="store_true", help="leave out the PostgreSQL rows")
    ap.add_argument("--one", choices=SERVERS, help=argparse.SUPPRESS)
    ap.add_argument("--database", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        sys.path[:0] = [str(BENCH_DIR), str(ROOT)]
        print(json.dumps(run_one(args.one, args.database or None, args.users, args.groups, args.seed)))
        return
    pg = not args.no_pg and _pg_reachable(args.pg_url)
    if not args.no_pg and not pg:
        log(f"PostgreSQL at {args.pg_url} is not reachable: its rows are left out")
    servers = [s for s in SERVERS if pg or not s.endswith("_pg")]
    t0 = time.perf_counter()
    runs: dict[str, list[dict]] = {s: [] for s in servers}
    with tempfile.TemporaryDirectory(prefix="scim-cycle-cpu-") as d:
        for rep in range(args.reps):
            for server in servers[rep % len(servers):] + servers[:rep % len(servers)]:
                r = run_server(server, args, Path(d), rep)
                runs[server].append(r)
                log(f"rep {rep + 1}/{args.reps} {server:15s} {_progress(r)}")
    results = {s: median_of(runs[s]) for s in servers}
    settings = {"users": args.users, "groups": args.groups, "reps": args.reps, "seed": args.seed,
                "elapsed_s": round(time.perf_counter() - t0, 1)}
    figs = report(results, settings)
    emit_json({"bench": "scim_cycle_cpu", "settings": settings, "servers": figs,
               "kinds_us": {s: {k: round(v["app_us"], 1) for k, v in results[s]["kinds"].items()}
                            for s in servers if results[s].get("status") == "ok"},
               "product": product_state()})


if __name__ == "__main__":
    main()
