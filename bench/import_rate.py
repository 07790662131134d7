#!/usr/bin/env python
"""How many users a second does `scim-authz import` write, and how far is it from a bare loader?

A CSV of --users users (default 100,000: userName, externalId, given and family name, a work email,
active, title, department, employeeNumber) each in one or two of --groups groups (default 200, by
displayName in a `groups` column) is written to a temp dir. Then, side by side in the same run:

  sqlite        a fresh SQLite file migrated by `flask db upgrade`, a tenant made by the CLI, and the
                real command as a subprocess: `scim-authz import users.csv --tenant bench --quiet`
                (SQLITE_SYNCHRONOUS at its default FULL), timed from start to exit
  sqlite floor  another fresh SQLite file migrated and given a tenant the same way, then the same rows
                read from the same CSV and inserted with the standard library's sqlite3 executemany
                into the same tables (indexes and access-history triggers included), the same number
                of users per transaction, the same pragmas: no validation, no change log, no revision
  postgresql    the command against a scratch database bench_scim_import on --pg-url (--no-pg: none)

and, for ours, a second run of the same command (`rerun`: every user already present, nothing
written). Each import is checked: exit status 0, the tenant holds N users, the groups and every
membership, and its revision advanced by exactly the transactions the command reports.

stdout: a table, then as the last line one JSON object with every figure. Progress to stderr.

    python bench/import_rate.py                      # 100,000 users: ~1-2 min on 2 cores
    python bench/import_rate.py --users 20000 --no-pg
    python bench/import_rate.py --pg-url postgresql://postgres@127.0.0.1:5432/test
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _gunicorn import flask_cli
from _import_rate_data import floor_sqlite, write_csv
from _machine import children_cpu_seconds, loadavg
from _paths import BIN, ROOT
from _pg import DEFAULT_PG_URL, PgDatabase
from _report import emit_json, log, print_table, product_state
from _stats import rnd

TARGET = 5000  # users/s on SQLite
TENANT = "bench"
_SUMMARY = re.compile(r"in ([\d.]+) s: ([\d,]+) users? \(([\d,]+) users/s\), (\d+) transactions?")


def prepare(database_url: str) -> None:
    """Migrate the database and create the tenant, with the CLI."""
    flask_cli(["db", "upgrade"], database_url)
    flask_cli(["tenants", "create", TENANT, "--name", "Import benchmark"], database_url)


def held(database_url: str) -> dict:
    """What the tenant holds, read back."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    q = {"users": "SELECT count(*) FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE t.key = :k",
         "groups": "SELECT count(*) FROM groups g JOIN tenants t ON t.id = g.tenant_id WHERE t.key = :k",
         "memberships": "SELECT count(*) FROM group_members m JOIN tenants t ON t.id = m.tenant_id WHERE t.key = :k",
         "revision": "SELECT revision FROM tenants WHERE key = :k",
         "tenant_id": "SELECT id FROM tenants WHERE key = :k"}
    try:
        with engine.connect() as conn:
            return {name: conn.execute(text(sql), {"k": TENANT}).scalar_one() for name, sql in q.items()}
    finally:
        engine.dispose()


def run_import(database_url: str, csv_path: Path, batch_size: int | None) -> dict:
    """`scim-authz import` as a subprocess: wall and CPU seconds, and what it reported."""
    cmd = [str(BIN / "scim-authz"), "import", str(csv_path), "--tenant", TENANT, "--quiet"]
    if batch_size:
        cmd += ["--batch-size", str(batch_size)]
    env = {**os.environ, "DATABASE_URL": database_url}
    load = loadavg()
    cpu0, t0 = children_cpu_seconds(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    wall, cpu = time.perf_counter() - t0, children_cpu_seconds() - cpu0
    if proc.returncode != 0:
        raise RuntimeError(f"import failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}")
    m = _SUMMARY.search(proc.stdout)
    if m is None:
        raise RuntimeError(f"unexpected output of the import:\n{proc.stdout}")
    return {"seconds": wall, "cpu_seconds": cpu, "reported_seconds": float(m.group(1)),
            "reported_users_s": int(m.group(3).replace(",", "")), "transactions": int(m.group(4)),
            "output": proc.stdout.strip().splitlines(), "loadavg_before": load}


def measure_ours(name: str, database_url: str, csv_path: Path, data: dict, batch_size: int | None,
                 rerun: bool) -> dict:
    log(f"{name}: migrating, creating the tenant")
    prepare(database_url)
    before = held(database_url)
    log(f"{name}: importing {data['users']:,} users")
    first = run_import(database_url, csv_path, batch_size)
    after = held(database_url)
    want = {"users": data["users"], "groups": data["groups"], "memberships": data["memberships"],
            "revision": before["revision"] + first["transactions"]}
    got = {k: after[k] for k in want}
    if got != want:
        raise RuntimeError(f"{name}: the tenant holds {got}, not {want}")
    out = {"import": _rates(first, data["users"])}
    log(f"{name}: {out['import']['users_s']:,.0f} users/s ({first['seconds']:.1f} s)")
    if rerun:
        log(f"{name}: the same import again (everything already present)")
        again = run_import(database_url, csv_path, batch_size)
        if held(database_url) != after or not any(f"already present {data['users']:,}," in line
                                                  for line in again["output"]):
            raise RuntimeError(f"{name}: the re-run changed something:\n" + "\n".join(again["output"]))
        out["rerun"] = _rates(again, data["users"])
    out["checks"] = {"held": got, "ok": True}
    return out


def _rates(r: dict, users: int) -> dict:
    return {"seconds": rnd(r["seconds"], 2), "users_s": rnd(users / r["seconds"], 0),
            "cpu_seconds": rnd(r["cpu_seconds"], 2), "reported_seconds": r["reported_seconds"],
            "reported_users_s": r["reported_users_s"], "transactions": r.get("transactions"),
            "loadavg_before": r.get("loadavg_before"), "summary": r.get("output")}


def measure_floor(database_url: str, db_path: Path, csv_path: Path, data: dict, batch: int) -> dict:
    log("sqlite floor: migrating, creating the tenant")
    prepare(database_url)
    tenant_id = held(database_url)["tenant_id"]
    log(f"sqlite floor: inserting {data['users']:,} users with sqlite3 executemany")
    load = loadavg()
    f = floor_sqlite(db_path, csv_path, tenant_id, batch)
    got = {k: held(database_url)[k] for k in ("users", "groups", "memberships")}
    want = {k: data[k] for k in got}
    if got != want:
        raise RuntimeError(f"floor: the tenant holds {got}, not {want}")
    log(f"sqlite floor: {data['users'] / f['seconds']:,.0f} users/s ({f['seconds']:.1f} s)")
    return {"import": {"seconds": rnd(f["seconds"], 2), "users_s": rnd(data["users"] / f["seconds"], 0),
                       "cpu_seconds": rnd(f["cpu_seconds"], 2), "loadavg_before": load}, "checks": {"held": got}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--groups", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=None,
                   help="passed to the command as --batch-size (default: the command's own default)")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL)
    p.add_argument("--no-pg", action="store_true")
    p.add_argument("--no-rerun", action="store_true")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()

    from scim_authz.scim.bulk_import import DEFAULT_BATCH
    batch = args.batch_size or DEFAULT_BATCH
    tmp = Path(tempfile.mkdtemp(prefix="bench-import-rate-"))
    pg = None if args.no_pg else PgDatabase(args.pg_url, "bench_scim_import")
    results: dict = {}
    try:
        csv_path = tmp / "users.csv"
        log(f"writing {args.users:,} users in {args.groups} groups to {csv_path}")
        data = write_csv(csv_path, args.users, args.groups, args.seed)
        log(f"  {data['bytes'] / 1e6:.1f} MB, {data['memberships']:,} memberships")
        results["sqlite"] = measure_ours("sqlite", f"sqlite:///{tmp / 'ours.db'}", csv_path, data, args.batch_size,
                                         not args.no_rerun)
        results["sqlite_floor"] = measure_floor(f"sqlite:///{tmp / 'floor.db'}", tmp / "floor.db", csv_path, data,
                                                batch)
        if pg is not None:
            pg.create()
            results["postgresql"] = measure_ours("postgresql", pg.url, csv_path, data, args.batch_size,
                                                 not args.no_rerun)
    finally:
        if pg is not None:
            pg.drop()
        shutil.rmtree(tmp, ignore_errors=True)

    ours, floor = results["sqlite"]["import"], results["sqlite_floor"]["import"]
    ratio = rnd(ours["seconds"] / floor["seconds"], 2)
    ratio_reported = rnd(ours["reported_seconds"] / floor["seconds"], 2)
    print(f"import of {args.users:,} users, {args.groups} groups, {data['memberships']:,} memberships "
          f"({batch:,} users per transaction); target {TARGET:,} users/s")
    rows = []
    for store, r in results.items():
        for step in ("import", "rerun"):
            if step in r:
                x = r[step]
                vs_floor = "1.00x" if store == "sqlite_floor" else (
                    f"{x['seconds'] / floor['seconds']:.2f}x" if store == "sqlite" else "-")
                rows.append([store.replace("_", " "), step, x["seconds"], f"{x['users_s']:,.0f}", x["cpu_seconds"],
                             vs_floor, "yes" if x["users_s"] >= TARGET else "no"])
    print_table(["store", "run", "seconds", "users/s", "CPU s", "time / floor", f">= {TARGET:,}/s"], rows)
    print(f"ours / floor on SQLite: {ratio}x the floor's time (the command's own timing, without start-up: "
          f"{ratio_reported}x); load average at the start: {ours['loadavg_before']}")
    emit_json({"bench": "import_rate", "sizes": {**data, "batch_size": batch}, "target_users_s": TARGET,
               "results": results, "ratio_ours_to_floor_sqlite": ratio,
               "ratio_ours_reported_to_floor_sqlite": ratio_reported,
               "meets_target": {s: results[s]["import"]["users_s"] >= TARGET for s in ("sqlite", "postgresql")
                                if s in results},
               "machine": {"loadavg_end": loadavg(), "cpus": os.cpu_count()}, "product": product_state()})


if __name__ == "__main__":
    main()
