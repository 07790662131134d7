#!/usr/bin/env python
"""A whole IdP provisioning cycle, the same requests against this server (gunicorn on SQLite, on
PostgreSQL), the peer `scim2-server` 0.8.3 (its WSGI app under gunicorn, 1 worker x 4 threads), the
Flask floor (bench/bare_scim_app.py: correctly shaped answers computed from the request alone) and
the durable floors (bench/durable_scim_app.py on SQLite and on PostgreSQL: one committed
transaction of one statement per write, one indexed SELECT per read; the least a server that
acknowledges writes durably must do).

  entra_initial     Microsoft Entra ID's initial cycle: per user a userName look-up that finds
                    nothing, then POST /Users with the enterprise extension (managers first, then
                    the users naming them); per group a displayName look-up (members excluded),
                    POST /Groups without members, then PATCHes adding members 50 at a time ("Add");
                    groups holding other groups come last. Each user is in 1-3 groups.
  okta_incremental  Okta's incremental cycle, its units shuffled: GET then a full PUT echoing the
                    user with title or name.familyName changed (10% of users), a pathless
                    deactivation PATCH (5%), member deltas (remove by members[value eq] filter,
                    add) on 30% of groups, one group renamed.

A unit (a user's look-up and create, a group's look-up, create and adds, a GET and its PUT, a
PATCH) runs on one connection from start to end; --connections clients (an httpx.Client each)
take the next unit when done. Every response is checked, errors counted by request kind. Then
every user and group is read back (paged) and compared with the state the client's own model
expects, except on the floors (the Flask floor keeps nothing, the durable ones do not apply
PATCHes). Servers run one after another, each fresh
(a new SQLite file, PostgreSQL database, peer process) for every repetition.

stdout: tables, then, as the last line, one JSON object. Progress goes to stderr.

    python bench/scim_cycle.py                # 2,000 users, 100 groups (~1-2 minutes on 2 cores)
    python bench/scim_cycle.py --quick        # --scale 0.2 (~25 s)
    python bench/scim_cycle.py --reps 3       # three fresh runs per server, req/s the median (~4-5 min)
    python bench/scim_cycle.py --no-pg --no-floor --no-durable-floor
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _durable_stores import create_schema
from _gunicorn import (
    gunicorn_defaults,
    prepare_our_database,
    start_durable_floor,
    start_floor_server,
    start_our_server,
)
from _machine import loadavg
from _peer import start_peer_gunicorn
from _pg import DEFAULT_PG_URL, PgDatabase
from _report import emit_json, log, product_state
from _scim_cycle_client import Cycle, run_phase
from _scim_cycle_plan import build_plan
from _scim_cycle_report import PHASES, figures, print_report, summarise
from _scim_cycle_state import compare
from _server import Server

PG_DB = "bench_scim_cycle"
PG_FLOOR_DB = "bench_scim_cycle_floor"
# Servers whose final state is read back and compared; why the others are not.
STATE_SKIPPED = {"floor": "skipped: the floor keeps no state",
                 "durable_floor_sqlite": "skipped: the durable floor stores PATCHes without applying them",
                 "durable_floor_pg": "skipped: the durable floor stores PATCHes without applying them"}


def start(name: str, args, d: Path, token: str) -> tuple[Server, PgDatabase | None]:
    """A fresh server of that name (and, for ours on PostgreSQL, its fresh database)."""
    if name == "ours_sqlite":
        url = f"sqlite:///{d / 'scim.db'}"
        s = start_our_server(name, url, prepare_our_database(url), d)
        s.notes["store"] = ("SQLite file in a temp dir, SQLITE_SYNCHRONOUS="
                            + os.environ.get("SQLITE_SYNCHRONOUS", "FULL") + ", SQLITE_GROUP_COMMIT="
                            + os.environ.get("SQLITE_GROUP_COMMIT", "1"))
        return s, None
    if name == "ours_pg":
        pg = PgDatabase(args.pg_url, PG_DB).create()
        try:
            s = start_our_server(name, pg.url, prepare_our_database(pg.url), d)
        except BaseException:
            pg.drop()
            raise
        s.notes["store"] = f"PostgreSQL, fresh database {pg.name}"
        return s, pg
    if name == "peer":
        return start_peer_gunicorn(name, token, d), None
    if name == "durable_floor_sqlite":
        path = str(d / "durable.db")
        create_schema(path)
        return start_durable_floor(name, token, d, path, "SQLite file in a temp dir, WAL, synchronous=FULL"), None
    if name == "durable_floor_pg":
        pg = PgDatabase(args.pg_url, PG_FLOOR_DB).create()
        try:
            create_schema(pg.libpq_url)
            s = start_durable_floor(name, token, d, pg.libpq_url, f"PostgreSQL, fresh database {pg.name}")
        except BaseException:
            pg.drop()
            raise
        return s, pg
    return start_floor_server(name, token, d), None


def run_one(name: str, plan, args, d: Path, token: str) -> dict:
    """One server, fresh, through both cycles and the read-back; its raw figures."""
    d.mkdir(parents=True, exist_ok=True)
    server: Server | None = None
    pg: PgDatabase | None = None
    try:
        server, pg = start(name, args, d, token)
        if name != "peer":       # ours and the floors: gunicorn with the config's workers
            server.wait_workers(gunicorn_defaults()["workers"])
        cycle = Cycle(server, plan, stateful=name != "floor")
        clients = [server.client() for _ in range(args.connections)]
        try:
            warm_bad = cycle.warm_up(clients)
            if warm_bad:
                log(f"   !! {name}: {len(warm_bad)} warm-up look-ups failed, e.g. {warm_bad[0]}")
            phases = {}
            for ph, steps in (("entra_initial", plan.entra_steps), ("okta_incremental", plan.okta_steps)):
                phases[ph] = p = run_phase(cycle, steps, clients)
                log(f"   {name:20s} {ph:17s} {p['requests']:6d} req  {p['req_s']:7.1f} req/s  "
                    f"{p['errors']} errors  steps {p['steps_s']}")
        finally:
            for c in clients:
                c.close()
        state = None if name in STATE_SKIPPED else compare(cycle)
        if state:
            log(f"   {name:20s} final state: {state['users_read']} users, {state['groups_read']} groups read back "
                f"in {state['readback_s']:.1f} s, {state['differences']} differences")
            for s in state["samples"][:5]:
                log(f"      {s}")
        for s in cycle.rec.samples[:5]:
            log(f"   !! {name}: {s}")
        if not server.check_alive():
            raise RuntimeError(f"{name} exited during the run")
        return {"status": "ok", "phases": phases, "latencies": cycle.rec.latencies, "errors": cycle.rec.errors,
                "error_samples": cycle.rec.samples, "not_sent": cycle.not_sent,
                "client_errors": cycle.rec.client_errors, "warmup_errors": len(warm_bad), "state": state,
                "state_skipped": STATE_SKIPPED.get(name),
                "notes": server.notes}
    except Exception as e:  # noqa: BLE001 - the other servers still run; this one is FAILED
        log(f"!! {name} failed: {type(e).__name__}: {e}"
            + (f"\n-- its log (last lines):\n{server.tail_log(30)}" if server else ""))
        return {"status": "FAILED", "error": f"{type(e).__name__}: {e}"[:500]}
    finally:
        if server is not None:
            server.stop()
        if pg is not None:
            pg.drop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=2000, help="users provisioned (before --scale)")
    ap.add_argument("--groups", type=int, default=100, help="groups provisioned (before --scale)")
    ap.add_argument("--connections", type=int, default=4, help="concurrent connections (threads) of the IdP")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply --users and --groups")
    ap.add_argument("--quick", action="store_true", help="the same as --scale 0.2")
    ap.add_argument("--reps", type=int, default=1, help="repetitions, each on fresh servers (req/s: the median)")
    ap.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL),
                    help=f"a loopback PostgreSQL server; a fresh database {PG_DB} is made there and dropped")
    ap.add_argument("--no-pg", action="store_true", help="skip our server (and the durable floor) on PostgreSQL")
    ap.add_argument("--no-peer", action="store_true", help="skip the peer (no ratios then)")
    ap.add_argument("--no-floor", action="store_true", help="skip the Flask floor")
    ap.add_argument("--no-durable-floor", action="store_true",
                    help="skip the durable floors (bench/durable_scim_app.py on SQLite and PostgreSQL)")
    ap.add_argument("--seed", type=int, default=20240611)
    args = ap.parse_args()
    scale = 0.2 if args.quick else args.scale
    n_users, n_groups = max(20, round(args.users * scale)), max(4, round(args.groups * scale))
    plan = build_plan(n_users, n_groups, args.seed)
    names = ["ours_sqlite"] + ([] if args.no_pg else ["ours_pg"]) + ([] if args.no_peer else ["peer"]) \
        + ([] if args.no_floor else ["floor"]) \
        + ([] if args.no_durable_floor else ["durable_floor_sqlite"] + ([] if args.no_pg else ["durable_floor_pg"]))

    started = time.monotonic()
    product = product_state()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scim-cycle-"))
    token = "cycle-" + os.urandom(16).hex()
    runs: dict[str, list[dict]] = {n: [] for n in names}
    load_start = loadavg()
    log(f"== {n_users} users, {n_groups} groups, {args.connections} connections; requests per server "
        f"{plan.request_count}; loadavg {load_start}")
    try:
        for rep in range(args.reps):
            order = names[rep % len(names):] + names[:rep % len(names)]
            for n in order:
                log(f"== rep {rep + 1}/{args.reps}: {n}")
                runs[n].append(run_one(n, plan, args, tmp / f"rep{rep}" / n, token))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    servers = {n: summarise(runs[n]) for n in names}
    figs = figures(servers)
    settings = {"users": n_users, "groups": n_groups, "connections": args.connections, "reps": args.reps,
                "scale": scale, "seed": args.seed, "member_batch": 50, "requests_per_server": plan.request_count,
                "phases": list(PHASES), "order": "servers one after another, rotating by one each repetition",
                "cpus": os.cpu_count(), "loadavg_start": load_start.split()[:3], "loadavg_end": loadavg().split()[:3],
                "elapsed_s": round(time.monotonic() - started, 1)}
    print_report(servers, figs, settings)
    print(f"run took {settings['elapsed_s']} s")
    emit_json({"bench": "scim_cycle", "settings": settings, "servers": servers,
               **{k: v for k, v in figs.items() if k != "meets"}, "meets": figs["meets"],
               "product": product})
    return 0


if __name__ == "__main__":
    sys.exit(main())
