#!/usr/bin/env python
"""What the Python client (clients/python, scim_authz_client) adds to a check over plain httpx,
and what a decision-cache hit costs.

One run:
  1. a temp dir with a SQLite database, migrated, a tenant, a SCIM token and an app API key (the
     `flask` CLI); our server (`gunicorn -c config/gunicorn.conf.py wsgi:app`, the config's default
     workers); through /v1 with httpx: the role `editor` (document:edit, document:view), --users
     users synced with PUT /v1/users/{key}, editor assigned to every other one (user0, user2, ...);
  2. three kinds of check, each with its own client (one connection pool, sequential calls):
     `raw`, an httpx.Client POSTing /v1/check with the JSON body the client sends and parsing the
     answer; `client`, scim_authz_client.Client(...).check(user, "edit", "document:1"), no cache;
     `cached`, the same with cache=DecisionCache() after one warm-up call per user: a local hit.
     Every user through every kind first (allowed for an editor, denied otherwise); then warm-up
     calls, then --reps repetitions of --calls calls per kind, the kinds' order rotated by one
     each repetition; the calls cycle through the users and every answer is checked.

Figures: p50 and p99 per kind over every repetition's calls (wall time of the call alone,
perf_counter_ns), client / raw at p50 and p99 (target <= 1.3), the cache hit's p50 (target < 5 us),
wrong answers (target 0). Beside them, not a target: the caller thread's CPU time per HTTP call
(thread_time_ns), which shows what the client itself adds without the server's time in it.
stdout: a table, the targets, then, as the last line, one JSON object.
Progress goes to stderr. Exit status 1 when an answer was wrong.

Our gunicorn runs sync workers (GUNICORN_THREADS unset), which keep the connection alive between
calls (GUNICORN_KEEPALIVE), as "one connection, keep-alive" means; with GUNICORN_KEEPALIVE=0 they
close it after every response, and `raw` and `client` then open a TCP connection per call alike
(the JSON says whether the server closed it: `server_closes_connection`). --gunicorn-threads 2
serves with gthread workers instead.

    .venv/bin/python bench/client_overhead.py                    # ~1 min on 2 cores
    .venv/bin/python bench/client_overhead.py --reps 3 --calls 500   # quick
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _client_overhead_rounds import (
    KINDS,
    client_files_changed,
    import_client,
    load_policy,
    make_kinds,
    run_rounds,
    summary,
    timer_floor_ns,
    verify,
)
from _gunicorn import gunicorn_defaults, issue_token, prepare_our_database, start_our_server
from _machine import loadavg
from _report import emit_json, fmt, log, note_product_change, print_table, product_state
from _stats import rnd

TARGETS = {"client_over_raw_p50_max": 1.3, "client_over_raw_p99_max": 1.3, "cache_hit_p50_us_below": 5.0,
           "wrong_answers": 0}


def _ratio(a: float | None, b: float | None) -> float | None:
    return rnd(a / b, 3) if a is not None and b else None


def judge(results: dict, verified: dict) -> tuple[dict, dict]:
    raw, client, cached = (results[k] for k in KINDS)
    figures = {"client_over_raw_p50": _ratio(client["p50_us"], raw["p50_us"]),
               "client_over_raw_p99": _ratio(client["p99_us"], raw["p99_us"]),
               "cache_hit_p50_us": cached["p50_us"],
               "wrong_answers": sum(r["wrong"] + r["errors"] for r in results.values())
               + len(verified["wrong"]), "cache_misses": cached["cache_misses"],
               # (not targets) what the client adds in the caller's own CPU time, without the server's
               "client_over_raw_cpu_p50": _ratio(client.get("cpu_p50_us"), raw.get("cpu_p50_us")),
               "client_minus_raw_cpu_p50_us": rnd(client["cpu_p50_us"] - raw["cpu_p50_us"], 2)
               if client.get("cpu_p50_us") is not None and raw.get("cpu_p50_us") is not None else None}
    meets = {"client_over_raw_p50": figures["client_over_raw_p50"] is not None
             and figures["client_over_raw_p50"] <= TARGETS["client_over_raw_p50_max"],
             "client_over_raw_p99": figures["client_over_raw_p99"] is not None
             and figures["client_over_raw_p99"] <= TARGETS["client_over_raw_p99_max"],
             "cache_hit_p50": figures["cache_hit_p50_us"] is not None
             and figures["cache_hit_p50_us"] < TARGETS["cache_hit_p50_us_below"] and not figures["cache_misses"],
             "answers_right": verified["ok"] and figures["wrong_answers"] == 0}
    return figures, meets


def print_report(result: dict) -> None:
    s, res, fig = result["settings"], result["results"], result["figures"]
    print(f"POST /v1/check, {s['reps']} reps x {s['calls']} sequential calls per kind (rotating order), "
          f"{s['users']} users; microseconds per call (wall time; CPU: this process's thread only)")
    labels = {"raw": "raw httpx (POST + .json())", "client": "Client.check, no cache",
              "cached": "Client.check, DecisionCache hit"}
    head = ["kind", "calls", "wrong", "errors", "p50 us", "p90 us", "p99 us", "max us", "CPU p50 us",
            "p50 per rep (us)"]
    rows = [[labels[k], res[k]["calls"], res[k]["wrong"], res[k]["errors"], fmt(res[k]["p50_us"], ".1f"),
             fmt(res[k]["p90_us"], ".1f"), fmt(res[k]["p99_us"], ".1f"), fmt(res[k]["max_us"], ".0f"),
             fmt(res[k].get("cpu_p50_us"), ".1f"), " ".join(f"{x:.1f}" for x in res[k]["p50_us_reps"])]
            for k in KINDS]
    rows.append(["client / raw", "", "", "", fmt(fig["client_over_raw_p50"], ".3f"), "",
                 fmt(fig["client_over_raw_p99"], ".3f"), "", fmt(fig["client_over_raw_cpu_p50"], ".3f"),
                 " ".join(fmt(x, ".3f") for x in result["ratio_p50_by_rep"])])
    print_table(head, rows)
    print(f"(client - raw, caller's CPU at p50: {fmt(fig['client_minus_raw_cpu_p50_us'], '+.1f')} us; timer "
          f"floor {result['timer_floor_ns']:.0f} ns around an empty call; cache misses in the cached rows: "
          f"{res['cached']['cache_misses']}; server closes the connection after each response: "
          f"{result['server_closes_connection']})")
    print()
    t, m = TARGETS, result["meets"]
    print_table(["target", "figure", "result"], [
        [f"client / raw p50 <= {t['client_over_raw_p50_max']}", fmt(fig["client_over_raw_p50"], ".3f"),
         "MET" if m["client_over_raw_p50"] else "NOT MET"],
        [f"client / raw p99 <= {t['client_over_raw_p99_max']}", fmt(fig["client_over_raw_p99"], ".3f"),
         "MET" if m["client_over_raw_p99"] else "NOT MET"],
        [f"cache hit p50 < {t['cache_hit_p50_us_below']:g} us", fmt(fig["cache_hit_p50_us"], ".2f"),
         "MET" if m["cache_hit_p50"] else "NOT MET"],
        ["answers right (0 wrong)", fig["wrong_answers"], "MET" if m["answers_right"] else "NOT MET"]])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5, help="repetitions (every kind once each, rotating order)")
    ap.add_argument("--calls", type=int, default=2000, help="sequential calls per kind and repetition")
    ap.add_argument("--users", type=int, default=6, help="users synced (every other one an editor; at least 2)")
    ap.add_argument("--warmup", type=int, default=200, help="untimed calls per HTTP kind before the first repetition")
    ap.add_argument("--gunicorn-threads", type=int, default=None,
                    help="set GUNICORN_THREADS for the server (>1: gthread workers, which keep connections "
                         "alive); default: the config's own (sync workers, a connection per request)")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (SQLite file, server log)")
    args = ap.parse_args()
    if args.gunicorn_threads is not None:  # (read by config/gunicorn.conf.py and by gunicorn_defaults)
        os.environ["GUNICORN_THREADS"] = str(args.gunicorn_threads)
    if args.users < 2 or args.reps < 1 or args.calls < 1:
        ap.error("--users must be at least 2, --reps and --calls at least 1")

    started = time.perf_counter()
    sac = import_client()
    tmp = Path(tempfile.mkdtemp(prefix="bench_client_overhead_"))
    server = None
    kinds = {}
    result: dict = {"benchmark": "client_overhead", "targets": TARGETS, "product": product_state(diff_hash=True)}
    load_start = loadavg()
    try:
        log(f"== temp dir {tmp}; loadavg {load_start}")
        url = f"sqlite:///{tmp / 'authz.db'}"
        scim_token = prepare_our_database(url)
        api_key = issue_token(url, "bench", "--kind", "app", "--name", "bench-app")
        server = start_our_server("ours", url, scim_token, tmp)
        server.notes.update(store="SQLite file in a temp dir",
                            worker_processes=server.wait_workers(gunicorn_defaults()["workers"]))
        log(f"== server on {server.url}; loading the policy through /v1")
        users, result["policy"] = load_policy(server.url, api_key, args.users)
        kinds = make_kinds(server.url, api_key)
        result["verify"] = verified = verify(kinds, users)
        log(f"== verified: {verified}")
        if not verified["ok"]:
            log("!! wrong answers before timing (measuring anyway; counted)")
        r = httpx.post(f"{server.url}/v1/check", json={"user": users[0][0], "action": "edit",
                                                       "resource": "document:1"},
                       headers={"Authorization": f"Bearer {api_key}"}, timeout=5)
        result["server_closes_connection"] = r.headers.get("connection", "").lower() == "close"
        log(f"== {args.reps} reps x {args.calls} calls per kind; loadavg {loadavg()}")
        result["orders"] = run_rounds(kinds, users, args.reps, args.calls, args.warmup)
        server.check_alive()
    except BaseException:
        if server is not None:
            log(f"-- log of {server.name} (last lines):\n{server.tail_log(30)}")
        raise
    finally:
        for kind in kinds.values():
            kind.close()
        if server is not None:
            server.stop()
        if args.keep_tmp:
            log(f"== kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    result["results"] = results = {k: summary(kinds[k]) for k in KINDS}
    result["ratio_p50_by_rep"] = [_ratio(c, r) for c, r in zip(results["client"]["p50_us_reps"],
                                                               results["raw"]["p50_us_reps"], strict=True)]
    result["figures"], result["meets"] = judge(results, verified)
    result["meets_all"] = all(result["meets"].values())
    result["timer_floor_ns"] = timer_floor_ns(100_000)
    result["server"] = {**server.notes, "port": server.port}
    result["settings"] = {"reps": args.reps, "calls": args.calls, "users": args.users, "warmup": args.warmup,
                          "gunicorn_threads": args.gunicorn_threads,
                          "timing": "perf_counter_ns around the call alone; p50/p99 nearest rank over all reps",
                          "rotation": "raw, client, cached, rotated by one each repetition",
                          "client": {"version": sac.__version__, "path": "clients/python", "cache": "DecisionCache()",
                                     "uncommitted_files": client_files_changed()},
                          "httpx": httpx.__version__, "python": sys.version.split()[0],
                          "gunicorn": {**gunicorn_defaults(), "config": "config/gunicorn.conf.py"}}
    result["machine"] = {"cpus": os.cpu_count(), "loadavg_start": load_start, "loadavg_end": loadavg()}
    result["run_seconds"] = round(time.perf_counter() - started, 1)
    note_product_change(result)
    print_report(result)
    emit_json(result)
    return 0 if result["meets"]["answers_right"] else 1


if __name__ == "__main__":
    sys.exit(main())
