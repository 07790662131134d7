#!/usr/bin/env python
"""The same SCIM client workload against this server (gunicorn on SQLite, gunicorn on PostgreSQL)
and against the peer `scim2-server` 0.8.3 (its own `scim2-server` command, and its WSGI app under
gunicorn as a second, fairer peer configuration), plus a "Flask floor" (bench/bare_scim_app.py: a
Flask app that answers correctly shaped SCIM responses computed from the request alone, no
database, no validation, under the same gunicorn config as ours). floor/peer is the highest ratio
any Flask server could reach against the peer here: the ceiling of the target.

Rows, each timed sequentially (one client) and concurrently (--threads clients, an httpx.Client
each), after a warm-up of the same kind:

  create_users   POST /Users                                   (201)
  lookup         GET /Users?filter=userName eq "…"             (200, exactly that one user)
  group_patch    PATCH /Groups/{id}: add one member per request
                 to one group that already holds some           (204, or 200 with a body)
  bulk_create    POST /Bulk with --bulk-size user POSTs         (200, every operation 201)

All servers run at once (idle but one) and every measurement is split in --reps repetitions run
server after server in rotating order, so that load from other processes on the machine falls
on every server alike; a figure is the median of its repetitions. Every response is checked; a
row with any error (or cut by its time limit) is reported as such and has no throughput. After the
PATCH rows each server's group is read back and checked, except the floor's (it keeps no state).

stdout: a table, then, as the last line, one JSON object. Progress and logs go to stderr.

    python bench/scim_peer.py                 # everything (about 4 minutes on 2 cores)
    python bench/scim_peer.py --scale 0.2     # a quick run
    python bench/scim_peer.py --no-floor      # without the Flask floor
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from _gunicorn import gunicorn_defaults, prepare_our_database, start_floor_server, start_our_server
from _machine import loadavg
from _peer import start_peer_cli, start_peer_gunicorn
from _pg import DEFAULT_PG_URL, PgDatabase
from _report import emit_json, log, print_table, product_state
from _scim import BULK_SCHEMA, GROUP_SCHEMA, RunResult, expect, patch_add_member, run_requests, user_body
from _server import Server
from _stats import median, percentile, rnd

ROWS = ("create_users", "lookup", "group_patch", "bulk_create")
MODES = ("sequential", "concurrent")
TARGET_RATIO = 3.0
LABELS = {"ours_sqlite": "ours-SQLite", "ours_pg": "ours-PG", "peer": "peer (CLI)", "peer_gunicorn": "peer (gunicorn)",
          "floor": "Flask floor"}


class Workload:
    """The requests of one server; the same requests, in the same order, on every server."""

    def __init__(self, server: Server, bulk_size: int):
        self.s, self.bulk_size = server, bulk_size
        self.ids: dict[str, str] = {}          # userName -> id, as this server created it
        self.lock = threading.Lock()
        self.group_id: str | None = None
        self.patched_ok = 0
        self.initial_members = 0

    def create(self, client, user_name):
        r = client.post("/Users", json=user_body(user_name))
        err = expect(r, 201)
        if err:
            return err
        body = r.json()
        if body.get("userName") != user_name or not body.get("id"):
            return f"POST /Users answered {body!r:.200}"
        with self.lock:
            self.ids[user_name] = body["id"]
        return None

    def lookup(self, client, user_name):
        r = client.get("/Users", params={"filter": f'userName eq "{user_name}"'})
        err = expect(r, 200)
        if err:
            return err
        body = r.json()
        res = body.get("Resources") or []
        if body.get("totalResults") != 1 or len(res) != 1 or res[0].get("userName", "").lower() != user_name.lower():
            return f"lookup {user_name}: totalResults={body.get('totalResults')} resources={len(res)}"
        return None

    def make_group(self, member_names: list[str]) -> None:
        with self.s.client() as c:
            r = c.post("/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "bench-group",
                                        "members": [{"value": self.ids[n]} for n in member_names]})
        if r.status_code != 201:
            raise RuntimeError(f"{self.s.name}: POST /Groups -> {r.status_code} {r.text[:300]}")
        self.group_id = r.json()["id"]
        self.initial_members = len(member_names)

    def patch(self, client, user_name):
        member_id = self.ids.get(user_name)
        if member_id is None:
            return f"{user_name} was not created on this server"
        r = client.patch(f"/Groups/{self.group_id}", json=patch_add_member(member_id))
        err = expect(r, 204, 200)
        if err is None:
            with self.lock:
                self.patched_ok += 1
        return err

    def bulk(self, client, batch):
        tag, k = batch
        ops = [{"method": "POST", "path": "/Users", "bulkId": f"u{j}",
                "data": user_body(f"bulk-{tag}-{k:04d}-{j:03d}@example.com")} for j in range(self.bulk_size)]
        r = client.post("/Bulk", json={"schemas": [BULK_SCHEMA], "Operations": ops})
        err = expect(r, 200)
        if err:
            return err
        out = r.json().get("Operations") or []
        bad = [o for o in out if str(o.get("status", "")).split()[0:1] != ["201"]]
        if len(out) != len(ops) or bad:
            return f"bulk: {len(out)} results for {len(ops)} operations, {len(bad)} not 201: {bad[:1]!r:.200}"
        return None

    def check_group(self) -> dict:
        """After the PATCH rows: the group holds every member added, and (ours) its version counts the writes."""
        try:
            with self.s.client() as c:
                r = c.get(f"/Groups/{self.group_id}")
            body = r.json() if r.status_code == 200 else {}
        except Exception as e:  # noqa: BLE001 - reported as a failed check
            log(f"!! {self.s.name}: GET /Groups/{self.group_id} failed: {e!r}")
            body = {}
        members = len(body.get("members") or [])
        expected = self.initial_members + self.patched_ok
        check = {"members": members, "expected_members": expected, "members_ok": members == expected}
        if self.s.name.startswith("ours"):
            version, want = (body.get("meta") or {}).get("version"), f'W/"{1 + self.patched_ok}"'
            check.update(version=version, expected_version=want, version_ok=version == want)
        if not check["members_ok"] or check.get("version_ok") is False:
            log(f"!! {self.s.name}: group after the PATCH rows: {check}")
        return check


def build_plan(args) -> dict:
    """Every item of every row, mode and repetition; the same for every server."""
    rng = random.Random(args.seed)
    plan: dict = {}
    created: list[str] = []
    for mode in MODES:
        m = mode[0]
        warm = [f"warm-{m}-{i:04d}@example.com" for i in range(args.warmup)]
        reps = [[f"user-{m}{r}-{i:04d}@example.com" for i in range(args.creates)] for r in range(args.reps)]
        plan[("create_users", mode)] = (warm, reps)
        created += warm + [n for rep in reps for n in rep]
    for mode in MODES:
        plan[("lookup", mode)] = (rng.choices(created, k=args.warmup),
                                  [rng.choices(created, k=args.lookups) for _ in range(args.reps)])
    plan["group_initial"], pool = created[:args.initial_members], created[args.initial_members:]
    for mode in MODES:
        warm, pool = pool[:args.warmup], pool[args.warmup:]
        reps = []
        for _ in range(args.reps):
            rep, pool = pool[:args.patches], pool[args.patches:]
            reps.append(rep)
        if not reps[-1]:
            raise SystemExit("not enough created users for the PATCH rows; raise --scale")
        plan[("group_patch", mode)] = (warm, reps)
    for mode in MODES:
        m = mode[0]
        plan[("bulk_create", mode)] = ([(f"w{m}", k) for k in range(args.bulk_warmup)],
                                       [[(f"{m}{r}", k) for k in range(args.bulks)] for r in range(args.reps)])
    return plan


def summarise(warm: RunResult | None, reps: list[RunResult], ops_per_request: int) -> dict:
    errors = sum(r.errors for r in reps) + (warm.errors if warm else 0)
    timed_out = any(r.timed_out for r in reps) or bool(warm and warm.timed_out)
    samples = ((warm.error_samples if warm else []) + [e for r in reps for e in r.error_samples])[:5]
    status = "timeout" if timed_out else ("errors" if errors else "ok")
    rates = [r.requests / r.elapsed for r in reps if r.elapsed > 0]
    lat = [x for r in reps for x in r.latencies_ms]
    good = status == "ok" and rates
    req_s = median(rates) if good else None
    return {
        "status": status, "requests": sum(r.requests for r in reps), "errors": errors,
        "req_s": rnd(req_s, 1), "ops_s": rnd(req_s * ops_per_request, 1) if req_s else None,
        "req_s_reps": [rnd(x, 1) for x in rates],
        "p50_ms": rnd(median(lat)), "p95_ms": rnd(percentile(lat, 95)), "max_ms": rnd(max(lat) if lat else None),
        "elapsed_s": rnd(sum(r.elapsed for r in reps), 3),
        "client_cpu_s": rnd(sum(r.client_cpu_s for r in reps)),
        "server_cpu_s": rnd(sum(r.server_cpu_s or 0 for r in reps)),
        "machine_busy_cpu_s": rnd(sum(r.machine_busy_s or 0 for r in reps)),
        **({"error_samples": samples} if samples else {}),
    }


def ratio(a: dict | None, b: dict | None) -> float | None:
    if not a or not b or a.get("req_s") is None or not b.get("req_s"):
        return None
    return round(a["req_s"] / b["req_s"], 2)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL),
                   help="a loopback PostgreSQL server (any database on it); a fresh database "
                        "bench_scim_peer is created there and dropped at the end")
    p.add_argument("--no-pg", action="store_true", help="skip our server on PostgreSQL")
    p.add_argument("--no-peer-gunicorn", action="store_true",
                   help="skip the peer's WSGI app under gunicorn (1 worker x 4 threads)")
    p.add_argument("--no-floor", action="store_true",
                   help="skip the Flask floor (bench/bare_scim_app.py under our gunicorn config)")
    p.add_argument("--threads", type=int, default=8, help="clients in the concurrent mode (default 8)")
    p.add_argument("--reps", type=int, default=3, help="repetitions per row and mode (default 3)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every request count")
    p.add_argument("--bulk-size", type=int, default=50, help="user POSTs per /Bulk request (default 50)")
    p.add_argument("--initial-members", type=int, default=20, help="members of the group before the PATCH rows")
    p.add_argument("--time-limit", type=float, default=120.0, help="seconds per repetition (default 120)")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    sc = lambda n: max(args.threads, int(n * args.scale))  # noqa: E731  (per repetition)
    args.warmup, args.creates, args.lookups, args.patches, args.bulks = 20, sc(150), sc(200), sc(100), sc(8)
    args.bulk_warmup = 2
    plan = build_plan(args)

    t_start = time.monotonic()
    product = product_state()   # the code the servers will import
    tmp = Path(tempfile.mkdtemp(prefix="bench-scim-peer-"))
    pg = None if args.no_pg else PgDatabase(args.pg_url, "bench_scim_peer")
    token = "peer-" + os.urandom(16).hex()
    servers: dict[str, Server] = {}
    results: dict[tuple[str, str, str], dict] = {}
    checks: dict[str, dict] = {}
    try:
        # ---- servers: all started first, then measured in turn ---------------------------------
        log("== starting servers")
        url = f"sqlite:///{tmp / 'scim.db'}"
        servers["ours_sqlite"] = start_our_server("ours_sqlite", url, prepare_our_database(url), tmp)
        servers["ours_sqlite"].notes["store"] = ("SQLite file in a temp dir, WAL, SQLITE_SYNCHRONOUS="
                                                 + os.environ.get("SQLITE_SYNCHRONOUS", "FULL"))
        if pg:
            pg.create()
            servers["ours_pg"] = start_our_server("ours_pg", pg.url, prepare_our_database(pg.url), tmp)
            servers["ours_pg"].notes["store"] = f"PostgreSQL, fresh database {pg.name}"
        servers["peer"] = start_peer_cli("peer", token, tmp)
        if not args.no_peer_gunicorn:
            servers["peer_gunicorn"] = start_peer_gunicorn("peer_gunicorn", token, tmp)
        if not args.no_floor:
            servers["floor"] = start_floor_server("floor", token, tmp)
            servers["floor"].notes["group_check"] = ("skipped: the floor keeps no state, so the group read back "
                                                     "after the PATCH rows cannot hold the members added; every "
                                                     "response is still checked")
        names = list(servers)
        work = {n: Workload(servers[n], args.bulk_size) for n in names}
        log("   " + ", ".join(f"{n} at {s.base_url}" for n, s in servers.items()))

        for row in ROWS:
            if row == "group_patch":
                for n in names:
                    work[n].make_group(plan["group_initial"])
            for mode in MODES:
                threads = 1 if mode == "sequential" else args.threads
                warm_items, rep_items = plan[(row, mode)]
                do = {"create_users": "create", "lookup": "lookup", "group_patch": "patch", "bulk_create": "bulk"}[row]
                warm = {n: run_requests(servers[n], warm_items, getattr(work[n], do), threads, args.time_limit)
                        for n in names}
                reps: dict[str, list[RunResult]] = {n: [] for n in names}
                for r, items in enumerate(rep_items):
                    order = names[r % len(names):] + names[:r % len(names)]
                    for n in order:
                        reps[n].append(run_requests(servers[n], items, getattr(work[n], do), threads, args.time_limit))
                for n in names:
                    servers[n].check_alive()
                    s = summarise(warm[n], reps[n], args.bulk_size if row == "bulk_create" else 1)
                    results[(row, mode, n)] = s
                    log(f"   {row:13s} {mode:10s} {n:14s} {s['requests']:5d} req  "
                        f"{s['req_s'] if s['req_s'] is not None else s['status'].upper():>8} req/s  "
                        f"reps {s['req_s_reps']}  p50 {s['p50_ms']} ms  max {s['max_ms']} ms")
            if row == "group_patch":
                for n in names:
                    if n != "floor":   # stateless: nothing to read back (see its notes)
                        checks[n] = {"group_after_patches": work[n].check_group()}
    except BaseException:
        for s in servers.values():
            log(f"-- log of {s.name} (last lines):\n{s.tail_log(40)}")
        raise
    finally:
        for s in servers.values():
            s.stop()
        if pg is not None:
            pg.drop()
        shutil.rmtree(tmp, ignore_errors=True)

    # ---- report ------------------------------------------------------------------------------
    peers = [n for n in ("peer", "peer_gunicorn") if n in servers]
    ours = [n for n in ("ours_sqlite", "ours_pg") if n in servers]
    head = ["row", "mode", *[LABELS[n] for n in ours], LABELS["peer"]]
    head += [f"{'SQLite' if o == 'ours_sqlite' else 'PG'}/peer" for o in ours]
    if "peer_gunicorn" in servers:
        head += [LABELS["peer_gunicorn"]] + [f"{'SQLite' if o == 'ours_sqlite' else 'PG'}/peer-g" for o in ours]
    floor = "floor" in servers
    if floor:
        head += [LABELS["floor"], "floor/best-peer"]

    def cell(x, ops=False):
        if not x:
            return "-"
        if x["status"] != "ok":
            return f"{x['status'].upper()}({x['errors']})"
        return f"{x['ops_s' if ops else 'req_s']:.1f}"

    def rc(v):
        return "-" if v is None else f"{v:.2f}x"

    table, rows_json, r_cli, r_best, r_floor = [], [], [], [], []
    for row in ROWS:
        for mode in MODES:
            res = {n: results.get((row, mode, n)) for n in servers}
            entry = {"row": row, "mode": mode, "threads": 1 if mode == "sequential" else args.threads,
                     "ops_per_request": args.bulk_size if row == "bulk_create" else 1, "results": res}
            best_peer = max((res[p_] for p_ in peers if res[p_] and res[p_].get("req_s")),
                            key=lambda x: x["req_s"], default=None)
            for o in ours:
                short = "sqlite" if o == "ours_sqlite" else "pg"
                for p_ in peers:
                    entry[f"ratio_{short}_vs_{p_}"] = ratio(res[o], res[p_])
                entry[f"ratio_{short}_vs_best_peer"] = ratio(res[o], best_peer)
                r_cli.append(entry.get(f"ratio_{short}_vs_peer"))
                r_best.append(entry[f"ratio_{short}_vs_best_peer"])
            if floor:
                for p_ in peers:
                    entry[f"ratio_floor_vs_{p_}"] = ratio(res["floor"], res[p_])
                entry["ratio_floor_vs_best_peer"] = ratio(res["floor"], best_peer)
                r_floor.append((entry["ratio_floor_vs_best_peer"], row, mode))
            rows_json.append(entry)
            for ops in ([False, True] if row == "bulk_create" else [False]):
                line = ["  (ops/s)" if ops else row, mode, *[cell(res[o], ops) for o in ours], cell(res["peer"], ops)]
                line += ["" if ops else rc(entry.get(f"ratio_{'sqlite' if o == 'ours_sqlite' else 'pg'}_vs_peer"))
                         for o in ours]
                if "peer_gunicorn" in servers:
                    line += [cell(res["peer_gunicorn"], ops)]
                    line += ["" if ops else rc(entry.get(
                        f"ratio_{'sqlite' if o == 'ours_sqlite' else 'pg'}_vs_peer_gunicorn")) for o in ours]
                if floor:
                    line += [cell(res["floor"], ops), "" if ops else rc(entry["ratio_floor_vs_best_peer"])]
                table.append(line)
    print(f"requests/s, median of {args.reps} repetitions (bulk rows: requests/s, then operations/s); "
          f"ratio = ours / peer; target >= {TARGET_RATIO:g}x on every row")
    print_table(head, table)
    gd = gunicorn_defaults()
    print(f"ours: gunicorn -c config/gunicorn.conf.py, {gd['workers']} workers x {gd['threads']} threads (config "
          f"defaults), access log to /dev/null. peer (CLI): `scim2-server` = wsgiref ThreadingWSGIServer, 1 process, "
          f"a thread per request, HTTP/1.0 (a connection per request), listen backlog 5, data in memory only"
          + ("; peer (gunicorn): its WSGI app, 1 worker x 4 threads (memory cannot span workers)"
             if "peer_gunicorn" in servers else "")
          + ("; Flask floor: bench/bare_scim_app.py under the same gunicorn config (its server hooks dropped), "
             "answers computed from the request, no database, no validation" if floor else "") + ".")
    for n, c in checks.items():
        g = c["group_after_patches"]
        flag = "ok" if g.get("members_ok") and g.get("version_ok", True) else "MISMATCH"
        print(f"check {n}: group after the PATCH rows has {g['members']} members (expected {g['expected_members']})"
              + (f", meta.version {g['version']} (expected {g['expected_version']})" if "version" in g else "")
              + f": {flag}")
    if floor:
        print("check floor: skipped (the floor keeps no state; every response was still checked)")
    complete = bool(r_best) and all(r is not None for r in r_best)
    min_best = min((r for r in r_best if r is not None), default=None)
    min_cli = min((r for r in r_cli if r is not None), default=None)
    floor_measured = [x for x in r_floor if x[0] is not None]
    ceiling = min(floor_measured, default=None)          # (ratio, row, mode) of the lowest floor/best-peer
    max_reachable = ceiling[0] if ceiling else None
    summary = {
        "benchmark": "scim_peer", "target_ratio": TARGET_RATIO,
        "min_ratio": min_best, "min_ratio_basis": "ours / the faster peer configuration of each row",
        "min_ratio_vs_peer_cli": min_cli,
        "all_rows_measured": complete,
        "meets_target": bool(complete and min_best is not None and min_best >= TARGET_RATIO),
        "max_reachable_ratio": max_reachable,
        "max_reachable_ratio_basis": "the Flask floor / the faster peer configuration, lowest row (None without "
                                     "the floor)",
        "max_reachable_ratio_row": {"row": ceiling[1], "mode": ceiling[2]} if ceiling else None,
        "floor_all_rows_measured": bool(r_floor) and len(floor_measured) == len(r_floor) if floor else None,
        "target_reachable_with_flask": (bool(max_reachable is not None and max_reachable >= TARGET_RATIO)
                                        if floor else None),
        "rows": rows_json, "servers": {n: s.notes for n, s in servers.items()}, "checks": checks,
        "settings": {"threads": args.threads, "reps": args.reps, "bulk_size": args.bulk_size,
                     "per_rep": {"creates": args.creates, "lookups": args.lookups, "patches": args.patches,
                                 "bulks": args.bulks},
                     "warmup": args.warmup, "bulk_warmup": args.bulk_warmup, "initial_members": args.initial_members,
                     "cpus": os.cpu_count(), "loadavg_end": loadavg().split()[:3]},
        "product": product, "elapsed_s": round(time.monotonic() - t_start, 1),
    }
    print(f"min ratio ours/peer: {min_best} against the faster peer configuration, {min_cli} against the peer CLI "
          f"(target {TARGET_RATIO:g}): {'MET' if summary['meets_target'] else 'NOT MET'}; "
          f"run took {summary['elapsed_s']} s")
    if ceiling:
        print(f"ceiling: a Flask app that does nothing reaches at most {max_reachable:.2f}x the peer on row "
              f"{ceiling[1]} ({ceiling[2]}); the target {TARGET_RATIO:g}x is "
              f"{'reachable' if summary['target_reachable_with_flask'] else 'NOT reachable'} with Flask here"
              + ("" if summary["floor_all_rows_measured"] else " (the floor failed some rows)"))
    elif floor:
        print("ceiling: unknown, the Flask floor has no throughput on any row")
    emit_json(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
