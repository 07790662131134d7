#!/usr/bin/env python
"""The decision point (`scim-authz pdp`) against the control plane it syncs from, on SQLite.

One run, in a temp dir:
  1. a fresh SQLite database migrated by `flask db upgrade`, two tenants (`flask tenants create`):
     `bench`, loaded through /v1 and SCIM with check_http's generated tenant (--small-users users,
     roles, groups, mappings), and `big`; per tenant an app key and a PDP key (`flask tokens issue
     --kind app|pdp`), a SCIM token for `bench`;
  2. the control plane as in production (`gunicorn -c config/gunicorn.conf.py wsgi:app`, its default
     workers, without an access log, as the decision point has none) and a decision point for
     `bench` (`scim-authz pdp --control-plane … --key pdp_… --bind … --data-dir …`, no
     DATABASE_URL: its default workers, loaded by the master before it forks);
  3. checks: the same check_http mix (2,000 bodies, half allowed, 30% by user id, 2% unknown users)
     on both /v1/check with the same app key and the same wrk settings (-t2 -c16, --duration s after
     a --warmup s warm-up), --rounds rounds alternating which goes first; both servers run
     throughout (the PDP polls the control plane every 50 ms and ships its decisions to it, so
     the control plane's CPU during the PDP's run is given too). Without wrk, a Python load of
     --py-threads threads (http.client, kept-alive) instead, said so in the output (--no-wrk forces it);
  4. propagation: --writes writes on the control plane (a role assignment made, then deleted),
     each followed by polling the PDP's /v1/check, without at_least, until its answer flips:
     milliseconds from the write's answer to the first PDP answer that shows it; then
     --at-least-writes writes each followed by one check naming the write's revision;
  5. the decision log: every PDP answer must reach the control plane's decision log (`pdp: …`);
     then the floor (--floor-rounds rounds each, 0: none): the control plane restarted on the same
     port as bench/pdp_floor_control.py, our control plane whose intake of a decision point's
     decisions is replaced by the least one that keeps them must do (`insert`: one durable row each
     in the same table and indexes, nothing checked; their arrival is checked), then by nothing
     (`sink`: answered, dropped), and the same rounds again: what the PDP's p99 is when its
     decisions cost the control plane, on the same cores, the least possible, then nothing;
  6. the large tenant: the control plane stopped, --users users and --relationships relationships
     written into `big` with SQL (one revision, its change log kept; bench/_pdp_big.py), the control
     plane started again (its start-up with the big tenant is timed), GET /v1/pdp/tenants/big/snapshot
     timed end to end (--snapshot-reps times: bytes on the wire, JSON bytes, seconds), then a fresh PDP
     for `big` timed from its start to /readyz 200, checked (owners, folder viewers two hops away,
     others denied, on both servers), its memory read from /proc (each worker's RSS, and the
     proportional share of master and workers together: the data is shared copy-on-write), and
     started again on its data dir (ready from local disk).

Targets: PDP checks/s >= control plane's (ratio >= 1.0) and p99 <= the control plane's, propagation
p99 < 100 ms, a fresh PDP of the large tenant ready in < 10 s. Both servers share the machine: while
the decision point is measured, the control plane also writes the decisions it ships to its log.

stdout: a table, then, as the last line, one JSON object. Progress goes to stderr.

    .venv/bin/python bench/pdp.py                 # 100,000 users, 1,000,000 relationships: ~3 min on 2 cores
    .venv/bin/python bench/pdp.py --quick         # 2,000 users, 20,000 relationships, short runs: < 1 min
    .venv/bin/python bench/pdp.py --quick --no-wrk   # the Python load instead of wrk
    .venv/bin/python bench/pdp.py --floor-rounds 0   # without the floor rounds
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _gunicorn import BIN, CONFIG, flask_cli, issue_token, spawn_gunicorn
from _http_rounds import config_env, effective_settings
from _http_tenant import Tenant, load_tenant, verify_ours
from _machine import loadavg
from _pdp_big import SCHEMA, BigTenant, fill
from _pdp_load import run_python_load
from _pdp_propagation import measure
from _pdp_report import TARGETS, pooled, report
from _report import emit_json, log, note_product_change, product_state
from _scale_memory_procs import server_memory
from _server import LOOPBACK, Server, free_port
from _stats import median, rnd


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100_000, help="users of the large tenant")
    ap.add_argument("--relationships", type=int, default=1_000_000, help="relationships of the large tenant")
    ap.add_argument("--small-users", type=int, default=1000, help="users of the checked tenant (check_http's)")
    ap.add_argument("--roles", type=int, default=50)
    ap.add_argument("--perms-per-role", type=int, default=20)
    ap.add_argument("--groups", type=int, default=20)
    ap.add_argument("--bodies", type=int, default=2000, help="pre-generated check bodies the load draws from")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of load before each measurement")
    ap.add_argument("--rounds", type=int, default=2, help="measurements per server, alternating which goes first")
    ap.add_argument("--no-wrk", action="store_true", help="use the Python load even if wrk is installed")
    ap.add_argument("--py-threads", type=int, default=8, help="threads (connections) of the Python load")
    ap.add_argument("--writes", type=int, default=200, help="writes whose propagation is timed")
    ap.add_argument("--at-least-writes", type=int, default=50, help="writes each followed by a check with at_least")
    ap.add_argument("--snapshot-reps", type=int, default=2)
    ap.add_argument("--pdp-ship-seconds", type=float, default=None,
                    help="the decision point's --ship-seconds (e.g. 60: its decisions are not written by the "
                         "control plane during a round, to see what that costs the decision point here)")
    ap.add_argument("--floor-rounds", type=int, default=None,
                    help="rounds of each floor (the control plane's intake of decisions replaced by the least it "
                         "must do, then by nothing: bench/pdp_floor_control.py); 0: none [default: --rounds]")
    ap.add_argument("--quick", action="store_true",
                    help="2,000 users, 20,000 relationships, 300 small users, 1 round of 3 s, 60 writes")
    ap.add_argument("--profile", type=int, default=0, metavar="SECONDS",
                    help="after the check rounds, py-spy the PDP (then the control plane) under wrk for this long")
    ap.add_argument("--profile-gil", action="store_true", help="py-spy --gil: only samples holding the GIL")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (database, logs, PDP data dirs)")
    args = ap.parse_args()
    if args.quick:
        args.users, args.relationships, args.small_users = 2000, 20_000, 300
        args.rounds, args.duration, args.warmup, args.writes, args.at_least_writes = 1, 3, 1, 60, 20
        args.snapshot_reps = 1
    if args.floor_rounds is None:
        args.floor_rounds = args.rounds
    use_wrk = not args.no_wrk and shutil.which("wrk") is not None
    load_note = "wrk" if use_wrk else ("python load (--no-wrk)" if args.no_wrk else
                                       "python load: wrk is not installed (apt-get install -y wrk)")
    if not use_wrk:
        log(f"!! {load_note}; checks/s are measured with {args.py_threads} Python threads instead")
    if use_wrk:
        from _wrk import run_wrk, write_lua

    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench_pdp_"))
    db_path = tmp / "authz.db"
    database_url = f"sqlite:///{db_path}"
    servers: list[Server] = []
    started = time.perf_counter()
    result: dict = {"benchmark": "pdp", "targets": TARGETS, "product": product_state(diff_hash=True),
                    "load_generator": load_note}
    pdp_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ACCESS_LOG")}

    def start_control(tag: str, app: str = "wsgi:app", port: int | None = None, extra: dict | None = None) -> Server:
        env = {**config_env(None, None, port or free_port()), "DATABASE_URL": database_url, "ACCESS_LOG": "",
               **(extra or {})}
        argv = ["-c", str(CONFIG), *(["--pythonpath", "bench"] if app != "wsgi:app" else []), app]
        s = spawn_gunicorn(f"control[{tag}]", argv, f"http://{env['BIND']}", keys["bench_app"], tmp / "control.log",
                           env, append=True)
        s.notes["spawned"] = time.perf_counter()
        servers.append(s)
        return s

    def start_pdp(tag: str, key: str, app_key: str, data_dir: Path) -> Server:
        port = free_port()
        argv = [str(BIN / "scim-authz"), "pdp", "--control-plane", control.url, "--key", key,
                "--bind", f"{LOOPBACK}:{port}", "--data-dir", str(data_dir)]
        if args.pdp_ship_seconds is not None:
            argv += ["--ship-seconds", str(args.pdp_ship_seconds)]
        s = Server.spawn(f"pdp[{tag}]", argv, f"http://{LOOPBACK}:{port}", app_key, tmp / f"pdp-{tag}.log",
                         env=pdp_env)
        s.notes["spawned"] = time.perf_counter()
        servers.append(s)
        return s

    def stop(s: Server) -> None:
        if s in servers:
            s.stop()
            servers.remove(s)

    def readyz(u: str):
        return httpx.get(f"{u}/readyz", timeout=5)

    def timed_ready(s: Server, probe, timeout: float) -> float:
        t0 = s.notes["spawned"]
        s.wait_ready(timeout, probe)
        return time.perf_counter() - t0

    keys: dict[str, str] = {}
    try:
        log(f"== temp dir {tmp}; loadavg {loadavg()}; load: {load_note}")
        flask_cli(["db", "upgrade"], database_url)
        for t in ("bench", "big"):
            flask_cli(["tenants", "create", t, "--name", f"PDP benchmark tenant {t}"], database_url)
            keys[f"{t}_app"] = issue_token(database_url, t, "--kind", "app", "--name", "bench-app")
            keys[f"{t}_pdp"] = issue_token(database_url, t, "--kind", "pdp", "--name", "bench-pdp")
        keys["bench_scim"] = issue_token(database_url, "bench", "--kind", "scim", "--name", "bench-scim")
        if not keys["bench_pdp"].startswith("pdp_") or not keys["bench_app"].startswith("sk_"):
            raise RuntimeError(f"unexpected tokens: {keys['bench_pdp'][:6]}…, {keys['bench_app'][:4]}…")

        # ---- the control plane, the checked tenant ---------------------------------------------
        control = start_control("1")
        cp_probe = lambda u: httpx.get(f"{u}/v1/roles", headers={"Authorization": f"Bearer {keys['bench_app']}"},  # noqa: E731
                                       timeout=5)
        control.wait_ready(90.0, cp_probe)
        tenant = Tenant(rng, args.small_users, args.roles, args.perms_per_role, args.groups)
        log("== loading tenant bench through /v1 and SCIM")
        result["dataset"] = {"bench": load_tenant(control.url, keys["bench_app"], keys["bench_scim"], tenant)}
        r = httpx.post(f"{control.url}/v1/schema", json={"source": SCHEMA},
                       headers={"Authorization": f"Bearer {keys['big_app']}"}, timeout=30)
        if r.status_code != 201:
            raise RuntimeError(f"POST /v1/schema (big): {r.status_code} {r.text[:300]}")

        checks = tenant.check_bodies(rng, args.bodies)
        bodies = [json.dumps(b, separators=(",", ":")) for b, _ in checks]
        known = checks[:20] + [(b, w) for b, w in checks[20:] if not w and b["user"].startswith("nobody")][:2]
        lua = write_lua(tmp / "check.lua", keys["bench_app"], "/v1/check", bodies, args.seed) if use_wrk else None

        # ---- the decision point of bench -----------------------------------------------------
        pdp = start_pdp("bench", keys["bench_pdp"], keys["bench_app"], tmp / "pdp-bench")
        small_ready_s = timed_ready(pdp, readyz, 60.0)
        log(f"== PDP of bench ready in {small_ready_s:.2f}s: {readyz(pdp.url).json()['tenants']}")
        cp_settings = effective_settings(config_env(None, None, control.port))
        result["servers"] = {
            "control": {"command": "gunicorn -c config/gunicorn.conf.py wsgi:app", "workers": cp_settings["workers"],
                        "threads": cp_settings["threads"], "worker_class": cp_settings["worker_class"],
                        "database": "SQLite (temp file), SQLITE_SYNCHRONOUS default"},
            "pdp": {"command": "scim-authz pdp --control-plane URL --key pdp_… --bind … --data-dir …",
                    "workers": len(server_memory(pdp)["workers"]), "threads": 1,
                    "worker_class": "scim_authz.ops.sync_worker.SyncWorker (preloaded)", "poll_seconds": 0.05,
                    "environment": "DATABASE_URL unset"}}
        verify = {"control": verify_ours(control.url, keys["bench_app"], known),
                  "pdp": verify_ours(pdp.url, keys["bench_app"], known)}
        for k, v in verify.items():
            if not v["ok"]:
                log(f"!! {k} verification failed: {v}")
        pdp_requests = len(known) + 1  # verify's checks (and its bad-key one) reached the PDP
        result["workload"] = {
            "check_bodies": len(bodies), "allowed_share": sum(1 for _, w in checks if w) / len(checks),
            "example_body": bodies[0],
            "load": (f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency --timeout 10s"
                     if use_wrk else f"python http.client, {args.py_threads} threads, {args.duration}s")
            + f" after a {args.warmup}s warm-up, {args.rounds} rounds alternating which server goes first"}

        # ---- 1. checks/s --------------------------------------------------------------------------
        wrk_runs_on_pdp = 0

        def load(s: Server, secs: float) -> dict:
            if use_wrk:
                return run_wrk(s, lua, args.threads, args.connections, secs)
            return run_python_load(s, keys["bench_app"], "/v1/check", bodies, args.py_threads, secs, args.seed)

        def check_rounds(n: int, label: str = "") -> dict:
            """n rounds on each server, alternating which goes first; pooled, with the ratios."""
            nonlocal pdp_requests, wrk_runs_on_pdp
            rounds: dict[str, list[dict]] = {"control": [], "pdp": []}
            for rno in range(n):
                order = [("control", control), ("pdp", pdp)]
                if rno % 2:
                    order.reverse()
                for name, s in order:
                    other = pdp if s is control else control
                    warm = load(s, args.warmup)
                    log(f"== {label}round {rno + 1}: {name}, {args.duration}s; loadavg {loadavg()}")
                    o0 = other.cpu_seconds()
                    m = load(s, args.duration)
                    m["other_server_cpu_s"] = round(other.cpu_seconds() - o0, 2)
                    errors = warm["error_total"] + m["error_total"]
                    m["status"] = f"FAILED(errors {errors})" if errors else ("ok" if verify[name]["ok"] else
                                                                            "FAILED(verify)")
                    if name == "pdp":
                        pdp_requests += warm["requests"] + m["requests"]
                        wrk_runs_on_pdp += 2
                    rounds[name].append(m)
                    log(f"   {name}: {m['req_s']:.0f} checks/s, p50 {m['p50_ms']:.2f} ms, p99 {m['p99_ms']:.2f} ms, "
                        f"errors {m['error_total']}, server CPU {m['server_cpu_us_per_req']} us/check, "
                        f"the other server {m['other_server_cpu_s']} CPU s")
            return pooled(rounds)

        checks_res = check_rounds(args.rounds)
        checks_res["verify"] = verify
        pc, pp = checks_res["control"], checks_res["pdp"]
        both_ok = pc.get("status") == "ok" and pp.get("status") == "ok"
        result["checks"] = checks_res
        log(f"== checks: control {pc.get('req_s', 0):.0f}/s, PDP {pp.get('req_s', 0):.0f}/s, "
            f"PDP/control {checks_res['ratio_req_s']}")

        # ---- 2. propagation ------------------------------------------------------------------------
        prop_user = prop_role = prop_body = None
        for u in tenant.users:
            for role, perms in tenant.roles.items():
                missing = [p for p in perms if p not in tenant.effective[u]]
                if missing and role not in tenant.direct[u]:
                    t_, a_ = missing[0].split(":")
                    prop_user, prop_role = tenant.ids[u], role
                    prop_body = {"user": prop_user, "action": a_, "resource": f"{t_}:42"}
                    break
            if prop_body:
                break
        log(f"== propagation: {args.writes} writes, then {args.at_least_writes} with at_least")
        prop = measure(control.url, pdp.url, keys["bench_app"], prop_user, prop_role, prop_body, args.writes,
                       args.at_least_writes, args.seed)
        pdp_requests += prop["pdp_checks_sent"]
        result["propagation"] = prop
        log(f"   write -> PDP answer changed: p50 {prop['p50_ms']} ms, p99 {prop['p99_ms']} ms, max {prop['max_ms']} "
            f"ms, timeouts {prop['timeouts']}; at_least check p50 {prop['at_least']['p50_ms']} ms, "
            f"p99 {prop['at_least']['p99_ms']} ms")

        # ---- decisions shipped -------------------------------------------------------------------
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and readyz(pdp.url).json().get("decisions_pending"):
            time.sleep(0.2)
        time.sleep(0.5)  # a batch the spool took from its queue is on its way
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30) as conn:
            logged = conn.execute("SELECT count(*) FROM decisions WHERE asked_by LIKE 'pdp:%'").fetchone()[0]
        slack = wrk_runs_on_pdp * (args.connections if use_wrk else args.py_threads)
        result["decision_log"] = {
            "pdp_answers_counted": pdp_requests - 1,  # (less verify's bad-key request, which decides nothing)
            "logged_at_control_plane": logged, "slack_in_flight": slack,
            "ok": pdp_requests - 1 <= logged <= pdp_requests - 1 + slack,
            "note": "every PDP answer the clients counted must be in the control plane's decision log; up to "
                    "`slack` more were answered while a load stopped (in flight, not counted by the client)"}
        log(f"== decision log: {logged} PDP decisions logged for {pdp_requests - 1} answers counted "
            f"(ok: {result['decision_log']['ok']})")
        result["memory_small_pdp"] = server_memory(pdp)["workers"]
        if args.profile and use_wrk:
            from _pyspy import profile
            for name, s in (("pdp", pdp), ("control", control)):
                log(f"== py-spy on {name} for {args.profile}s under wrk")
                prof = profile(s, lua, args.profile, tmp, name, (args.threads, args.connections), args.profile_gil)
                result.setdefault("profile", {})[name] = prof
                for f in prof.get("inclusive", [])[:18]:
                    log(f"   {f['pct']:5.1f}%  {f['frame']}")
                log("   self:")
                for f in prof.get("self", [])[:10]:
                    log(f"   {f['pct']:5.1f}%  {f['frame']}")

        # ---- the floor: what the p99 is when the control plane does the least for the PDP's decisions --
        if args.floor_rounds:
            result["floor"] = floor_res = {
                "what": "the same rounds with the control plane's POST …/decisions replaced by the least a "
                        "control plane that keeps them must do (bench/pdp_floor_control.py): insert = each "
                        "decision one row of the same table and indexes, durably, nothing checked; sink = "
                        "answered, nothing stored. Every other route is the control plane's own."}

            def logged_now() -> int:
                with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30) as conn:
                    return conn.execute("SELECT count(*) FROM decisions WHERE asked_by LIKE 'pdp:%'").fetchone()[0]

            def pdp_caught_up(timeout: float) -> bool:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    st = readyz(pdp.url).json()
                    if st.get("connected") and not st.get("decisions_pending"):
                        return True
                    time.sleep(0.2)
                return False

            for mode in ("insert", "sink"):  # (sink last: what reaches it is lost)
                port = control.port
                stop(control)
                control = start_control(f"floor-{mode}", "pdp_floor_control:app", port, {"FLOOR_DECISIONS": mode})
                control.wait_ready(90.0, cp_probe)
                if not pdp_caught_up(60.0):
                    raise RuntimeError(f"the PDP did not reconnect to the floor control plane ({mode})")
                time.sleep(0.5)
                before, counted = logged_now(), pdp_requests
                res = check_rounds(args.floor_rounds, f"floor ({mode}) ")
                floor_res[mode] = res
                if mode == "insert":  # (each PDP worker ships its own, every --ship-seconds or so)
                    res["pdp_answers_counted"] = pdp_requests - counted
                    deadline = time.monotonic() + 30
                    while logged_now() - before < res["pdp_answers_counted"] and time.monotonic() < deadline:
                        time.sleep(0.5)
                    res["decisions_logged"] = logged_now() - before
                    res["log_ok"] = res["decisions_logged"] >= res["pdp_answers_counted"]
                log(f"== floor ({mode}): PDP/control p99 {res['ratio_p99']}, checks/s {res['ratio_req_s']}; the "
                    f"control plane's CPU during the PDP's rounds {res['pdp']['other_server_cpu_s']} s")

        stop(pdp)

        # ---- 3. the large tenant -------------------------------------------------------------------
        stop(control)
        log(f"== filling tenant big: {args.users} users, {args.relationships} relationships (SQL)")
        big = BigTenant(args.users, args.relationships, args.seed)
        result["dataset"]["big"] = fill(db_path, "big", big)
        log(f"   {result['dataset']['big']}")
        control = start_control("2")
        big_probe = lambda u: httpx.get(f"{u}/v1/pdp/tenants", headers={"Authorization": f"Bearer {keys['big_pdp']}"},  # noqa: E731
                                        timeout=5)
        cp_start_s = timed_ready(control, big_probe, 300.0)
        log(f"== control plane ready with the big tenant in {cp_start_s:.1f}s")
        snaps = []
        for k in range(args.snapshot_reps):
            with httpx.Client(base_url=control.url, headers={"Authorization": f"Bearer {keys['big_pdp']}"},
                              timeout=600) as c:
                t0 = time.perf_counter()
                with c.stream("GET", "/v1/pdp/tenants/big/snapshot") as resp:
                    first = None
                    parts = []
                    for chunk in resp.iter_raw():
                        if first is None:
                            first = time.perf_counter() - t0
                        parts.append(chunk)
                    secs = time.perf_counter() - t0
                    status = resp.status_code
            raw = b"".join(parts)
            if status != 200:
                raise RuntimeError(f"GET snapshot: {status} {raw[:300]!r}")
            doc_bytes = gzip.decompress(raw)
            doc = json.loads(doc_bytes)
            snaps.append({"seconds": round(secs, 3), "first_byte_s": rnd(first, 3), "bytes": len(raw),
                          "json_bytes": len(doc_bytes), "revision": doc["tenant"][4], "users": len(doc["users"]),
                          # relationships are sent grouped: [type, relation, subject type, subject
                          # relation, [[resource id, subject id], ...]] (scim_authz/dataplane/wire.py)
                          "relationships": sum(len(g[4]) for g in doc["relationships"])})
            del raw, doc_bytes, doc, parts
            log(f"   snapshot {k + 1}: {snaps[-1]}")
        result["snapshot"] = {"reps": snaps, "seconds": median(s["seconds"] for s in snaps),
                              "bytes": snaps[0]["bytes"], "json_bytes": snaps[0]["json_bytes"],
                              "complete": all(s["users"] == args.users and s["relationships"] ==
                                              result["dataset"]["big"]["relationships"] for s in snaps)}

        big_pdp = start_pdp("big", keys["big_pdp"], keys["big_app"], tmp / "pdp-big")
        big_ready_s = timed_ready(big_pdp, readyz, 300.0)
        ready_body = readyz(big_pdp.url).json()
        log(f"== fresh PDP of big ready in {big_ready_s:.2f}s: {ready_body['tenants']}")
        mem_ready = server_memory(big_pdp)
        big_checks = big.expected_checks(300)
        wrong = {"control": 0, "pdp": 0}
        for name, s in (("control", control), ("pdp", big_pdp)):
            with httpx.Client(base_url=s.url, headers={"Authorization": f"Bearer {keys['big_app']}"}, timeout=30) as c:
                for body, want, why in big_checks:
                    r = c.post("/v1/check", json=body)
                    if r.status_code != 200 or r.json().get("allowed") is not want:
                        wrong[name] += 1
                        if wrong[name] <= 3:
                            log(f"!! {name}: {body} ({why}) -> {r.status_code} {r.text[:200]}, expected {want}")
        mem_checked = server_memory(big_pdp)
        worker = mem_checked["workers"][0] if mem_checked["workers"] else {}
        status_kb = {}
        if worker:
            for line in Path(f"/proc/{worker['pid']}/status").read_text().splitlines():
                if line.startswith(("VmRSS", "VmHWM")):
                    status_kb[line.split(":")[0]] = int(line.split()[1])
        result["big_pdp"] = {
            "ready_s": rnd(big_ready_s, 2), "readyz": ready_body["tenants"],
            "checks": len(big_checks), "wrong": wrong,
            "memory": {"worker_rss_mb": rnd(worker.get("rss_mb"), 1), "worker_uss_mb": rnd(worker.get("uss_mb"), 1),
                       "worker_vmhwm_mb": rnd(status_kb.get("VmHWM", 0) / 1024, 1),
                       "worker_rss_mb_at_ready": rnd(mem_ready["workers"][0]["rss_mb"], 1) if mem_ready["workers"]
                       else None,
                       "master_rss_mb": rnd(mem_checked["master"]["rss_mb"], 1),
                       "workers_rss_mb": [rnd(w["rss_mb"], 1) for w in mem_checked["workers"]],
                       "all_pss_mb": rnd(mem_checked["all_pss_mb"], 1),
                       "small_tenant_worker_rss_mb": rnd(result["memory_small_pdp"][0]["rss_mb"], 1)
                       if result["memory_small_pdp"] else None}}
        cp_mem = server_memory(control)
        result["control_with_big"] = {"ready_s": rnd(cp_start_s, 2),
                                      "master_rss_mb": rnd(cp_mem["master"]["rss_mb"], 1),
                                      "workers_rss_mb": [rnd(w["rss_mb"], 1) for w in cp_mem["workers"]],
                                      "all_pss_mb": rnd(cp_mem["all_pss_mb"], 1)}
        log(f"== PDP of big: worker RSS {result['big_pdp']['memory']['worker_rss_mb']} MB "
            f"(peak {result['big_pdp']['memory']['worker_vmhwm_mb']} MB); wrong answers {wrong}")
        stop(big_pdp)
        again = start_pdp("big-restart", keys["big_pdp"], keys["big_app"], tmp / "pdp-big")
        result["big_pdp"]["ready_from_disk_s"] = rnd(timed_ready(again, readyz, 300.0), 2)
        log(f"== PDP of big restarted on its data dir: ready in {result['big_pdp']['ready_from_disk_s']}s")
        stop(again)
        del result["memory_small_pdp"]

        # ---- figures -----------------------------------------------------------------------------
        prop_ok = prop["timeouts"] == 0 and prop["errors"] == 0 and prop["stale_answers_at_write_revision"] == 0 \
            and prop["at_least"]["wrong"] == 0
        result["meets"] = {
            "pdp_over_control_req_s": both_ok
            and (checks_res["ratio_req_s"] or 0) >= TARGETS["pdp_over_control_req_s_min"],
            "pdp_over_control_p99": both_ok and checks_res["ratio_p99"] is not None
            and checks_res["ratio_p99"] <= TARGETS["pdp_over_control_p99_max"],
            "propagation_p99_ms": prop_ok and prop["p99_ms"] is not None
            and prop["p99_ms"] < TARGETS["propagation_p99_ms_max"],
            "big_pdp_ready_s": big_ready_s < TARGETS["big_pdp_ready_s_max"] and not wrong["pdp"]}
        floor_ok = all(f["control"].get("status") == "ok" and f["pdp"].get("status") == "ok" and f.get("log_ok", True)
                       for k, f in result.get("floor", {}).items() if k != "what")
        result["all_right"] = both_ok and prop_ok and result["decision_log"]["ok"] and not any(wrong.values()) \
            and result["snapshot"]["complete"] and floor_ok
        result["settings"] = {k: v for k, v in vars(args).items()}
        result["machine"] = {"cpus": os.cpu_count(), "loadavg_end": loadavg()}
        result["run_seconds"] = round(time.perf_counter() - started, 1)
        note_product_change(result)
        report(result)
        emit_json(result)
        return 0 if result["all_right"] else 1
    finally:
        for s in list(servers):
            s.stop()
        if args.keep_tmp:
            log(f"== kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
