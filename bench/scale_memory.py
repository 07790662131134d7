#!/usr/bin/env python
"""Start-up and memory at scale: many tenants loaded by gunicorn's master, shared with its workers.

A scratch PostgreSQL database `bench_scim_scale_memory`, migrated with `flask db upgrade`, is filled
with COPY straight into the product's tables (default: 1,000 tenants x 1,000 users, each user in 10
of its tenant's 50 groups: 1,000,000 users, 10,000,000 memberships; 10 roles per tenant, 20 groups
mapped to roles, 2% of users with a role assigned by the application, 1% inactive). Then:

  * our server, `gunicorn -c config/gunicorn.conf.py wsgi:app` with WEB_CONCURRENCY workers
    (default 4), is started on it: the master loads every tenant before forking (the load time is
    the master's own log line "loaded N tenants in Xs" when its log shows it, and the time from
    start to the first answered check);
  * memory of the master and each worker from /proc/<pid>/smaps_rollup (RSS, PSS, USS), when
    ready, after one pass of checks (per tenant one POST /v1/check/bulk naming every user, answers
    checked), and after more passes until every worker has answered every tenant (so every worker
    has read every user's grants: the most copy-on-write the checks can cause);
  * peers, read against the same rows: their size in PostgreSQL (tables, and with indexes), a bare
    Python process holding them as the driver's tuples, and the engine loaded in a plain process
    (timed by phase: snapshots, stores, grants).

Targets: the master loads in under 30 s; the workers' USS together stays under 3 GiB.

    python bench/scale_memory.py                       # ~10 min the first time (the fill), then --reuse
    python bench/scale_memory.py --keep                # keep the filled database for later runs
    python bench/scale_memory.py --reuse               # use the kept database if it holds this shape
    python bench/scale_memory.py --scale 0.05          # quick: 50 tenants
    python bench/scale_memory.py --sqlite              # also the same data on SQLite (a temp file)
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _gunicorn import flask_cli, gunicorn_defaults, spawn_gunicorn
from _machine import loadavg
from _pg import DEFAULT_PG_URL, PgDatabase
from _report import emit_json, fmt, log, print_table, product_state
from _scale_memory_checks import PassResult, build_checks, cover, run_pass
from _scale_memory_data import Shape, check_documents, tenant_data
from _scale_memory_fill import data_size_pg, fill_pg, fill_sqlite, kept_marker, marker, reset_logs_pg
from _scale_memory_probe import run_probe, spawn_probe
from _scale_memory_procs import server_memory
from _server import LOOPBACK, free_port
from _stats import rnd

DB_NAME = "bench_scim_scale_memory"
TARGET_LOAD_S = 30.0
TARGET_WORKERS_USS_GIB = 3.0
LOADED = re.compile(r"loaded (\d+) tenants in ([\d.]+)s")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tenants", type=int, default=1000)
    p.add_argument("--users", type=int, default=1000, help="users per tenant")
    p.add_argument("--groups", type=int, default=50, help="groups per tenant")
    p.add_argument("--groups-per-user", type=int, default=10)
    p.add_argument("--roles", type=int, default=10, help="roles per tenant")
    p.add_argument("--perms-per-role", type=int, default=8)
    p.add_argument("--mapped-groups", type=int, default=20, help="groups of a tenant mapped to a role each")
    p.add_argument("--assigned-share", type=float, default=0.02, help="users with a role assigned by the app")
    p.add_argument("--inactive-share", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies --tenants (quick: 0.05)")
    p.add_argument("--workers", type=int, default=4, help="WEB_CONCURRENCY of the server (default 4)")
    p.add_argument("--checks-per-tenant", type=int, default=1000,
                   help="checks in each tenant's bulk request, each of a different user (default: every user)")
    p.add_argument("--threads", type=int, default=8, help="client threads sending bulk requests")
    p.add_argument("--no-cover", action="store_true", help="one pass of checks only, not every worker x tenant")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL, help="a loopback PostgreSQL server (trust auth)")
    p.add_argument("--db-name", default=DB_NAME, help=f"the scratch database (bench_scim_*; default {DB_NAME})")
    p.add_argument("--keep", action="store_true", help="keep the filled database at the end")
    p.add_argument("--reuse", action="store_true", help="use the kept database when it holds this shape (and keep it)")
    p.add_argument("--sqlite", action="store_true", help="also run the server on the same data in SQLite")
    p.add_argument("--no-probes", action="store_true", help="skip the in-process engine and tuples peers")
    p.add_argument("--profile", action="store_true", help="cProfile the in-process engine load (stderr)")
    p.add_argument("--ready-timeout", type=float, default=900.0)
    p.add_argument("--probe", choices=("engine", "engine_gc_off", "tuples"), help=argparse.SUPPRESS)
    p.add_argument("--database-url", help=argparse.SUPPRESS)
    return p.parse_args()


def serve(name: str, database_url: str, shape: Shape, workers: int, log_dir: Path, timeout: float):
    """Our server on `database_url` with `workers` workers, waited for until a check is answered;
    the server, the seconds that took, and the master's own load figure when its log has it."""
    port = free_port()
    td = tenant_data(Shape(**{**shape.__dict__, "users": 1}), 1)
    check = {"user": td.users[0][0], "action": "read", "resource": "document:1"}
    headers = {"Authorization": f"Bearer {td.token}"}
    env = {**os.environ, "DATABASE_URL": database_url, "BIND": f"{LOOPBACK}:{port}", "ACCESS_LOG": "/dev/null",
           "WEB_CONCURRENCY": str(workers)}
    t0 = time.perf_counter()
    server = spawn_gunicorn(name, ["-c", "config/gunicorn.conf.py", "wsgi:app"], f"http://{LOOPBACK}:{port}",
                            td.token, log_dir / f"{name}.log", env,
                            notes={"server": "gunicorn -c config/gunicorn.conf.py wsgi:app", **gunicorn_defaults(),
                                   "workers": workers})
    server.ready(timeout, probe=lambda url: httpx.post(f"{url}/v1/check", json=check, headers=headers, timeout=5))
    ready_s = time.perf_counter() - t0
    found = LOADED.search(server.log_path.read_text(errors="replace"))
    server.wait_workers(workers)
    return server, ready_s, (float(found.group(2)) if found else None)


def measure_server(name: str, database_url: str, shape: Shape, args, work, log_dir: Path) -> dict:
    log(f"{name}: starting gunicorn ({args.workers} workers), waiting for the master's load ...")
    server, ready_s, loaded_s = serve(name, database_url, shape, args.workers, log_dir, args.ready_timeout)
    out: dict = {"ready_s": ready_s, "master_log_load_s": loaded_s, "server_cpu_s_at_ready": server.cpu_seconds(),
                 "memory": {}, "checks": {}}
    try:
        log(f"{name}: ready in {ready_s:.1f} s (master's log: {loaded_s if loaded_s is not None else 'no line'})")
        time.sleep(1)
        out["memory"]["ready"] = server_memory(server)
        served: dict[int, set[str]] = {}
        first = run_pass(server.url, work, list(work), args.threads, served)
        log(f"{name}: one pass: {first.checks:,} checks in {first.seconds:.1f} s, errors {first.errors}, "
            f"wrong {first.wrong}")
        out["checks"]["one_pass"] = first.summary()
        out["memory"]["one_pass"] = server_memory(server)
        if not args.no_cover and not first.errors:
            more, uncovered = cover(server.url, work, args.workers, args.threads, served, log=log)
            both = PassResult()
            both.add(first)
            both.add(more)
            out["checks"]["every_worker"] = {**more.summary(), "tenants_not_covered": uncovered,
                                             "workers_seen": len({p for s in served.values() for p in s})}
            out["memory"]["every_worker"] = server_memory(server)
        out["server"] = server.notes
        out["alive"] = server.check_alive()
    finally:
        server.stop()
    return out


def memory_rows(name: str, result: dict) -> list[list]:
    rows = []
    for phase, m in result["memory"].items():
        procs = [("master", m["master"])] + [(f"worker {k + 1}", w) for k, w in enumerate(m["workers"])]
        for label, p in procs:
            rows.append([name, phase, label, fmt(p["rss_mb"], ",.0f"), fmt(p["pss_mb"], ",.0f"),
                         fmt(p["uss_mb"], ",.0f")])
        rows.append([name, phase, "workers (sum)", fmt(m["workers_rss_mb"], ",.0f"), fmt(m["workers_pss_mb"], ",.0f"),
                     fmt(m["workers_uss_mb"], ",.0f")])
        rows.append([name, phase, "all (sum)", "", fmt(m["all_pss_mb"], ",.0f"), fmt(m["all_uss_mb"], ",.0f")])
    return rows


def verdict(result: dict) -> dict:
    worst = max((m["workers_uss_mb"] for m in result["memory"].values()), default=None)
    load = result["master_log_load_s"] if result["master_log_load_s"] is not None else result["ready_s"]
    checks = result["checks"].values()
    return {"load_s": rnd(load), "load_s_source": "master log" if result["master_log_load_s"] is not None else
            "start to first answered check", "workers_uss_gib_max": rnd(worst / 1024 if worst else None, 3),
            "load_under_target": load < TARGET_LOAD_S,
            "workers_uss_under_target": worst is not None and worst / 1024 < TARGET_WORKERS_USS_GIB,
            "checks_all_right": all(c["errors"] == 0 and c["wrong_answers"] == 0 for c in checks)}


def main() -> int:
    args = parse_args()
    if args.probe:
        run_probe(args.probe, args.database_url, args.profile)
        return 0
    shape = Shape(max(1, round(args.tenants * args.scale)), args.users, args.groups, args.groups_per_user, args.roles,
                  args.perms_per_role, args.mapped_groups, args.assigned_share, args.inactive_share, args.seed)
    check_documents(shape)
    log(f"scale_memory: {shape.describe()}; load {loadavg()}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-memory-"))
    db = PgDatabase(args.pg_url, args.db_name)
    report: dict = {"dataset": shape.describe(), "targets": {"load_s": TARGET_LOAD_S,
                                                            "workers_uss_gib": TARGET_WORKERS_USS_GIB},
                    "product": product_state(diff_hash=True), "loadavg_start": loadavg(), "results": {}, "peers": {}}
    try:
        if args.reuse and kept_marker(db) == marker(shape):
            log(f"reusing {db.name} (it holds this shape); migrating it to head, emptying the decision log")
            flask_cli(["db", "upgrade"], db.url)
            reset_logs_pg(db)
            report["fill"] = {"postgresql_s": None, "reused": True}
        else:
            log(f"filling {db.name} ({shape.memberships():,} memberships) ...")
            report["fill"] = {"postgresql_s": rnd(fill_pg(db, shape), 1), "reused": False}
        report["peers"]["postgresql_size"] = data_size_pg(db)
        if not args.no_probes:
            log("peers: the rows as plain tuples, then the engine in a plain process ...")
            report["peers"]["tuples"] = spawn_probe("tuples", db.url)
            report["peers"]["engine_in_process"] = spawn_probe("engine", db.url, args.profile)
            report["peers"]["engine_in_process_gc_off"] = spawn_probe("engine_gc_off", db.url)
        log(f"building each tenant's bulk check ({args.checks_per_tenant} checks) ...")
        work = build_checks(shape, args.checks_per_tenant, args.seed)
        report["results"]["postgresql"] = measure_server("pg", db.url, shape, args, work, tmp)
        if args.sqlite:
            path = tmp / "scale.db"
            log("filling SQLite ...")
            report["fill"]["sqlite_s"] = rnd(fill_sqlite(path, shape), 1)
            if not args.no_probes:
                report["peers"]["engine_in_process_sqlite"] = spawn_probe("engine", f"sqlite:///{path}")
            report["results"]["sqlite"] = measure_server("sqlite", f"sqlite:///{path}", shape, args, work, tmp)
    finally:
        if not (args.keep or args.reuse):
            db.drop()
        shutil.rmtree(tmp, ignore_errors=True)
    return report_out(report, args)


def report_out(report: dict, args) -> int:
    rows = []
    for name, result in report["results"].items():
        rows += memory_rows(name, result)
        result["verdict"] = verdict(result)
    print_table(["store", "phase", "process", "RSS MiB", "PSS MiB", "USS MiB"], rows)
    print()
    summary = []
    for name, result in report["results"].items():
        v = result["verdict"]
        summary.append([f"{name}: master load ({v['load_s_source']})", fmt(v["load_s"], ".1f") + " s",
                        f"target < {TARGET_LOAD_S:.0f} s: {'met' if v['load_under_target'] else 'NOT met'}"])
        summary.append([f"{name}: start to first answered check", fmt(result["ready_s"], ".1f") + " s", ""])
        summary.append([f"{name}: workers' USS, most of any phase", fmt(v["workers_uss_gib_max"], ".2f") + " GiB",
                        f"target < {TARGET_WORKERS_USS_GIB:.0f} GiB: "
                        f"{'met' if v['workers_uss_under_target'] else 'NOT met'}"])
        for phase, c in result["checks"].items():
            summary.append([f"{name}: checks, {phase}", f"{c['checks']:,} in {c['seconds']:.1f} s",
                            f"{fmt(c['checks_per_s'], ',')} /s, errors {c['errors']}, wrong {c['wrong_answers']}"])
    peers = report["peers"]
    size = peers.get("postgresql_size", {}).get("all")
    if size:
        summary.append(["peer: the rows in PostgreSQL (tables / with indexes)",
                        f"{size['table_mb']:,.0f} / {size['total_mb']:,.0f} MiB", f"{size['rows']:,} rows"])
    if peers.get("tuples"):
        p = peers["tuples"]
        summary.append(["peer: the rows as the driver's tuples, held", f"{p['held_mb']:,.0f} MiB",
                        f"fetched in {p['seconds']:.1f} s"])
    for key in ("engine_in_process", "engine_in_process_gc_off", "engine_in_process_sqlite"):
        if peers.get(key):
            p = peers[key]
            ph = p["phases_s"]
            summary.append([f"peer: {key.replace('_', ' ')} (warm_up)", f"{p['held_mb']:,.0f} MiB",
                            f"{p['seconds']:.1f} s ({p['cpu_seconds']:.1f} CPU s): snapshots {ph['snapshot']:.1f}, "
                            f"stores {ph['stores']:.1f}, grants {ph['warm_grants']:.1f}"
                            + (" (profiled)" if p["profiled"] else "")])
    print_table(["figure", "value", "note"], summary)
    verdicts = [r["verdict"] for r in report["results"].values()]
    report["meets"] = {"load": all(v["load_under_target"] for v in verdicts),
                       "workers_uss": all(v["workers_uss_under_target"] for v in verdicts),
                       "checks_all_right": all(v["checks_all_right"] for v in verdicts)}
    report["settings"] = {k: v for k, v in vars(args).items() if k not in ("probe", "database_url")}
    report["loadavg_end"] = loadavg()
    emit_json(report)
    return 0 if report["meets"]["checks_all_right"] else 1


if __name__ == "__main__":
    sys.exit(main())
