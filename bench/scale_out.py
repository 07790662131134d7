#!/usr/bin/env python
"""Several instances over one PostgreSQL: checks per instance, how fast a write made through one
instance reaches a check on another, and SCIM write throughput, against one instance on SQLite.

One run:
  1. a fresh SQLite file in a temp dir and a fresh PostgreSQL database `bench_scim_scale_out`,
     each migrated, with a tenant, a SCIM token and an app API key (the `flask` CLI);
  2. our server (`gunicorn -c config/gunicorn.conf.py wsgi:app`, the config's default workers) on
     SQLite, and instance A on PostgreSQL; check_http's tenant (roles, users with direct roles,
     SCIM groups, group mappings) loaded into both at once through the HTTP APIs (users 200 per
     request: /v1/users/bulk of 1,000 can outlast the request deadline); then instance B, a
     second gunicorn on the same PostgreSQL database;
  3. checks: every instance verified (known allowed and denied checks), warmed up with wrk, then
     --reps repetitions of four rounds in rotating order: SQLite alone, A alone, B alone (the
     other instances running, idle), A and B under wrk at once (two wrk processes; the instances
     share the machine's cores). wrk as check_http drives it: a Lua request() drawing one of
     --bodies check bodies (half allowed). checks/s is the median of the repetitions; p50/p99
     over all their requests. The PostgreSQL transactions per check come from pg_stat_database;
  4. propagation: --writes SCIM PATCHes on A, each adding the user to (or removing it from) a
     group mapped to a role, so each flips a decision; after each, checks on B with no pause until
     B's answer flips: delay = A's write response received -> B's first flipped answer (p50, p99,
     max). Then --writes more writes, each followed by one check on B passing
     `consistency: {"at_least": <the write's revision>}`: right on the first try or not (SCIM
     writes when their responses carry X-Authz-Revision, else /v1 role assignments);
  5. SCIM writes: POST /Users and PATCH /Groups/{id} (add one member) from --scim-threads clients
     on SQLite's instance and on A, --reps repetitions in rotating order, every response checked.

Targets: PostgreSQL checks/s per instance (alone) >= 0.9 x SQLite's one instance; propagation p99
< 100 ms; SCIM writes on PostgreSQL >= SQLite's; at_least right on the first try every time.
stdout: tables, then, as the last line, one JSON object. Progress goes to stderr.

    .venv/bin/python bench/scale_out.py                  # ~5 min on 2 cores (more when others load them)
    .venv/bin/python bench/scale_out.py --scale 0.2      # quick: ~2 min
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _gunicorn import gunicorn_defaults, issue_token, prepare_our_database, start_our_server
from _http_tenant import Tenant, load_tenant, verify_ours
from _machine import loadavg
from _pg import DEFAULT_PG_URL, PgDatabase
from _report import emit_json, log, note_product_change, product_state
from _scale_out_checks import PgTransactions, measure_checks
from _scale_out_propagation import Propagation
from _scale_out_report import TARGETS, judge, print_report
from _scale_out_scim import measure_scim
from _server import Server
from _wrk import require_wrk, run_wrk, write_lua

PG_DB = "bench_scim_scale_out"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL),
                    help=f"a loopback PostgreSQL server; a fresh database {PG_DB} is made there and dropped")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply the wrk duration, the writes and the SCIM requests, and below 1 the "
                         "tenant's users (0.2: a quick run)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions of the check rounds and SCIM rows (median)")
    ap.add_argument("--duration", type=int, default=6, help="seconds per wrk run, before --scale")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of wrk per instance before measuring")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections (per instance)")
    ap.add_argument("--writes", type=int, default=200, help="propagation writes (and at_least writes), before --scale")
    ap.add_argument("--poll-timeout", type=float, default=5.0, help="seconds B may take to reflect a write")
    ap.add_argument("--scim-threads", type=int, default=8, help="concurrent SCIM clients")
    ap.add_argument("--scim-requests", type=int, default=200, help="requests per SCIM row and repetition, "
                                                                      "before --scale")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--roles", type=int, default=50)
    ap.add_argument("--perms-per-role", type=int, default=20)
    ap.add_argument("--groups", type=int, default=20)
    ap.add_argument("--bodies", type=int, default=2000, help="pre-generated check bodies wrk draws from")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (SQLite file, logs, Lua scripts)")
    args = ap.parse_args()
    duration = max(2, round(args.duration * args.scale))
    writes = max(20, int(args.writes * args.scale))
    scim_per_rep = max(args.scim_threads * 4, int(args.scim_requests * args.scale))
    # Loading the tenant is the longest part of a quick run; a check's cost does not depend on its size.
    users = args.users if args.scale >= 1 else max(200, int(args.users * args.scale))
    require_wrk()

    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench_scale_out_"))
    pg = PgDatabase(args.pg_url, PG_DB)
    servers: dict[str, Server] = {}
    phases: dict[str, float] = {}
    result: dict = {"benchmark": "scale_out", "targets": TARGETS, "product": product_state(diff_hash=True)}
    try:
        log(f"== temp dir {tmp}; loadavg {loadavg()}")
        sqlite_url = f"sqlite:///{tmp / 'authz.db'}"
        pg.create()
        creds = {}
        for store, url in (("sqlite", sqlite_url), ("pg", pg.url)):
            log(f"== {store}: migrate, tenant, tokens")
            scim_token = prepare_our_database(url)
            creds[store] = (scim_token, issue_token(url, "bench", "--kind", "app", "--name", "bench-app"))
        servers["sqlite"] = start_our_server("sqlite", sqlite_url, creds["sqlite"][0], tmp)
        servers["pg_a"] = start_our_server("pg_a", pg.url, creds["pg"][0], tmp)
        # The same seed: the same policy in both stores (user ids are each server's own). Both
        # loads at once: they wait on different databases.
        tenants = {store: Tenant(random.Random(args.seed), users, args.roles, args.perms_per_role, args.groups)
                   for store in ("sqlite", "pg")}
        log("== loading the tenant into both stores through /v1 and SCIM")
        with ThreadPoolExecutor(2) as pool:
            # (users in requests of 200: a request of thousands can outlast the request deadline on a busy machine)
            loads = {store: pool.submit(load_tenant, servers[name].url, creds[store][1], creds[store][0],
                                        tenants[store], 200) for store, name in (("sqlite", "sqlite"), ("pg", "pg_a"))}
            result["dataset"] = {store: f.result() for store, f in loads.items()}
        log(f"   {result['dataset']['pg']}")
        phases["setup"] = time.perf_counter() - started
        log("== starting instance B on the same PostgreSQL database")
        servers["pg_b"] = start_our_server("pg_b", pg.url, creds["pg"][0], tmp)
        workers = gunicorn_defaults()["workers"]
        for name, s in servers.items():
            s.notes.update(store="SQLite file in a temp dir" if name == "sqlite" else f"PostgreSQL database {pg.name}",
                           worker_processes=s.wait_workers(workers))

        def run_checks() -> dict:
            scripts, verify = {}, {}
            for store in ("sqlite", "pg"):
                checks = tenants[store].check_bodies(random.Random(args.seed + 1), args.bodies)
                bodies = [json.dumps(b, separators=(",", ":")) for b, _ in checks]
                scripts[store] = write_lua(tmp / f"check_{store}.lua", creds[store][1], "/v1/check", bodies,
                                           args.seed)
                known = checks[:20] + [(b, w) for b, w in checks[20:] if b["user"].startswith("nobody")][:2]
                for name in (("sqlite",) if store == "sqlite" else ("pg_a", "pg_b")):
                    verify[name] = verify_ours(servers[name].url, creds[store][1], known)
                    if not verify[name]["ok"]:
                        raise RuntimeError(f"{name} answered known checks wrongly: {verify[name]}")
                    warm = run_wrk(servers[name], scripts[store], args.threads, args.connections, args.warmup)
                    log(f"== {name} verified and warmed up ({warm['req_s']:.0f} checks/s over {args.warmup}s, "
                        f"{warm['error_total']} errors)")
            tx = PgTransactions(args.pg_url, pg.name)
            t0 = time.perf_counter()
            tx0 = tx.settled()
            log(f"== pg_stat_database settled in {time.perf_counter() - t0:.1f}s")
            out = measure_checks(servers, {"sqlite": scripts["sqlite"], "pg_a": scripts["pg"], "pg_b": scripts["pg"]},
                                 args.reps, args.threads, args.connections, duration)
            tx1 = tx.settled()
            pg_checks = sum(r["requests"] for k in ("pg_a", "pg_b", "pg_both_a", "pg_both_b") for r in out["runs"][k])
            out.update(pg_transactions=tx1 - tx0, pg_checks_measured=pg_checks, verify=verify,
                       pg_transactions_per_check=round((tx1 - tx0) / pg_checks, 4) if pg_checks else None)
            return out

        def run_propagation() -> None:
            log(f"== propagation: {writes} writes on A, checks on B; loadavg {loadavg()}")
            prop = Propagation(servers["pg_a"], servers["pg_b"], creds["pg"][1], args.poll_timeout)
            try:
                prop.prepare()
                result["propagation"] = p = prop.measure_delay(writes)
                log(f"   p50 {p['p50_ms']} ms, p99 {p['p99_ms']} ms, max {p['max_ms']} ms, timeouts {p['timeouts']}")
                log(f"== consistency.at_least: {writes} writes on A, one check on B each")
                result["consistency_at_least"] = c = prop.measure_at_least(writes)
                log(f"   {c['first_try_right']} of {writes} right on the first try; writes: {c['write']}")
            finally:
                prop.close()

        def run_scim() -> dict:
            log(f"== SCIM writes: {scim_per_rep} requests x {args.reps} per row and store, {args.scim_threads} "
                f"clients; loadavg {loadavg()}")
            return measure_scim({"sqlite": servers["sqlite"], "pg": servers["pg_a"]}, scim_per_rep, args.reps,
                                args.scim_threads, 120.0)

        phases["start_b"] = time.perf_counter() - started - sum(phases.values())
        for key, fn in (("checks", run_checks), ("propagation", run_propagation), ("scim", run_scim)):
            try:
                out = fn()
                if out is not None:
                    result[key] = out
            except Exception as e:  # noqa: BLE001 - the phase fails, the run goes on
                log(f"!! {key} failed: {e!r}")
                result.setdefault(key, {}).update(status=f"FAILED({type(e).__name__})", error=str(e)[:2000])
            phases[key] = time.perf_counter() - started - sum(phases.values())
        for s in servers.values():
            s.check_alive()
    except BaseException:
        for s in servers.values():
            log(f"-- log of {s.name} (last lines):\n{s.tail_log(30)}")
        raise
    finally:
        for s in servers.values():
            s.stop()
        pg.drop()
        if args.keep_tmp:
            log(f"== kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    result["servers"] = {n: {**s.notes, "port": s.port} for n, s in servers.items()}
    result["settings"] = {
        "scale": args.scale, "reps": args.reps, "wrk": f"-t{args.threads} -c{args.connections} -d{duration}s "
                                                        f"--latency (warm-up {args.warmup:g}s per instance)",
        "writes": writes, "poll_timeout_s": args.poll_timeout, "scim_threads": args.scim_threads,
        "scim_requests_per_rep": scim_per_rep, "check_bodies": args.bodies, "users": users, "seed": args.seed,
        "gunicorn": {**gunicorn_defaults(), "config": "config/gunicorn.conf.py"},
        "rounds": "sqlite, pg_a, pg_b, pg_both, rotated by one each repetition"}
    result["judged"] = judge(result)
    result["meets"] = result["judged"]["meets"]
    result["meets_all"] = all(result["meets"].values())
    result["machine"] = {"cpus": os.cpu_count(), "loadavg_end": loadavg()}
    result["run_seconds"] = round(time.perf_counter() - started, 1)
    result["phase_seconds"] = {k: round(v, 1) for k, v in phases.items()}
    note_product_change(result)
    print_report(result, args)
    emit_json(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
