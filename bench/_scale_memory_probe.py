"""scale_memory's in-process measurements, each run in a fresh process (`scale_memory.py --probe …`)
that prints one JSON line:

  engine  the app made as gunicorn's master makes it, then `pdp.warm_up` (every tenant loaded,
          grants warmed, collected and frozen), timed whole and by phase (the reader's snapshots,
          building the stores, warming grants: the product's functions wrapped with timers), and
          the memory the process holds afterwards; with --profile, cProfile's top functions on stderr.
  engine_gc_off  the same with the cyclic garbage collector paused across the whole load (the
          stores and grants pause it while they build, but not between tenants).
  tuples  the peer: the same rows the loader reads (users, groups, memberships, roles, mappings,
          assignments), fetched per tenant as the driver's plain tuples and held, nothing else.
"""
from __future__ import annotations

import gc
import time

from _pg import _libpq_url
from _report import emit_json, log
from _scale_memory_procs import smaps

TUPLE_QUERIES = (
    "SELECT id, user_name, external_id, active, display_name FROM users WHERE tenant_id = {t}",
    "SELECT id, display_name, external_id FROM groups WHERE tenant_id = {t}",
    "SELECT m.group_id, m.member_id, m.member_type FROM groups g JOIN group_members m ON m.group_id = g.id "
    "WHERE g.tenant_id = {t}",
    "SELECT id, key, name, permissions, extends, condition FROM roles WHERE tenant_id = {t}",
    "SELECT id, group_id, role_id, resource_type, resource_id, created_by FROM group_role_mappings "
    "WHERE tenant_id = {t}",
    "SELECT id, user_id, role_id, resource_type, resource_id, assigned_by, created FROM role_assignments "
    "WHERE tenant_id = {t}",
)


def _timed(owner, name: str, into: dict) -> None:
    """Wrap owner.name so that its calls' seconds add up in into[name]."""
    fn = getattr(owner, name)
    into[name] = 0.0

    def wrapper(*a, **kw):
        t0 = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            into[name] += time.perf_counter() - t0

    setattr(owner, name, wrapper)


def probe_engine(database_url: str, profile: bool, gc_off: bool = False) -> dict:
    from scim_authz import create_app, pdp
    from scim_authz.authz import grants
    from scim_authz.authz.sql_store import SQLReader
    from scim_authz.authz.store import TenantStore

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    gc.collect()
    before = smaps()
    phases: dict[str, float] = {}
    _timed(SQLReader, "snapshot", phases)
    _timed(TenantStore, "__init__", phases)
    _timed(grants, "warm", phases)
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t0, cpu0 = time.perf_counter(), time.process_time()
    if gc_off:  # the collector paused across the whole load, not only inside each store's build
        gc.disable()
    pdp.warm_up(app)
    gc.enable()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if prof is not None:
        import pstats
        import sys

        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(30)
    after = smaps()
    eng = pdp.engine(app)
    stores = eng.stores.values()
    return {"seconds": seconds, "cpu_seconds": cpu, "profiled": profile, "gc_off": gc_off,
            "phases_s": {"snapshot": phases["snapshot"], "stores": phases["__init__"], "warm_grants": phases["warm"]},
            "tenants": len(eng.stores), "users": sum(len(s.users) for s in stores),
            "memberships": sum(len(g.users) + len(g.subgroups) for s in stores for g in s.groups.values()),
            "rss_before_mb": before["rss_mb"], "rss_after_mb": after["rss_mb"],
            "held_mb": after["rss_mb"] - before["rss_mb"]}


def probe_tuples(database_url: str) -> dict:
    held: list = []
    gc.collect()
    before = smaps()
    t0 = time.perf_counter()
    if database_url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(database_url.split("///", 1)[1])
        tids = [r[0] for r in conn.execute("SELECT id FROM tenants ORDER BY id")]
        for t in tids:
            held.append([conn.execute(q.format(t=t)).fetchall() for q in TUPLE_QUERIES])
        conn.close()
    else:
        import psycopg

        with psycopg.connect(_libpq_url(database_url)) as conn:
            tids = [r[0] for r in conn.execute("SELECT id FROM tenants ORDER BY id")]
            for t in tids:
                held.append([conn.execute(q.format(t=t)).fetchall() for q in TUPLE_QUERIES])
    seconds = time.perf_counter() - t0
    gc.collect()
    after = smaps()
    return {"seconds": seconds, "tenants": len(held), "rows": sum(len(rows) for tenant in held for rows in tenant),
            "rss_before_mb": before["rss_mb"], "rss_after_mb": after["rss_mb"],
            "held_mb": after["rss_mb"] - before["rss_mb"]}


def run_probe(kind: str, database_url: str, profile: bool) -> None:
    log(f"probe {kind}: {database_url}")
    if kind == "tuples":
        out = probe_tuples(database_url)
    else:
        out = probe_engine(database_url, profile, gc_off=kind == "engine_gc_off")
    emit_json({"probe": kind, **out})


def spawn_probe(kind: str, database_url: str, profile: bool = False, timeout: float = 1800) -> dict | None:
    """Run a probe in a fresh interpreter (this script with --probe); its JSON, or None if it failed."""
    import subprocess
    import sys

    from _paths import BENCH_DIR
    from _report import read_json_line

    argv = [sys.executable, str(BENCH_DIR / "scale_memory.py"), "--probe", kind, "--database-url", database_url]
    if profile:
        argv.append("--profile")
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if proc.stderr.strip():
        log("\n".join("    " + ln for ln in proc.stderr.strip().splitlines()[-60:]))
    if proc.returncode != 0:
        log(f"!! probe {kind} failed ({proc.returncode})")
        return None
    return read_json_line(proc.stdout)
