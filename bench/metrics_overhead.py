"""What the Prometheus metrics (scim_authz/ops/metrics.py) cost a POST /v1/check.

    .venv/bin/python bench/metrics_overhead.py              # ~1-2 min on 2 cores
    .venv/bin/python bench/metrics_overhead.py --pairs 2000 --loops 20000   # quick

Run once with prometheus_client in memory (as under `flask run` and the tests) and once in its
multiprocess mode (as under gunicorn: values in files of PROMETHEUS_MULTIPROC_DIR), each in a fresh
process of its own, since the mode is chosen when prometheus_client is imported. In each:
- the hooks alone, timed in a loop inside one request context: the WSGI middleware (the request's
  route, status and latency; less the WSGI app it wraps), `checked` (a decision and the engine's
  time), and the flush that hands the tallies to prometheus_client once a second, per request;
- whole checks through Flask's test client, on two apps alike but for METRICS_ENABLED, one on
  each in turn (the figure is the median of the differences of these pairs; the test client's own
  cost is the same on both sides, so what differs is the metrics').
Stdout: a table, then as its last line one JSON object.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import timeit

from _paths import BENCH_DIR, ROOT
from _report import emit_json, log, print_table, product_state, read_json_line
from _stats import median, percentile, rnd

CHECK = {"user": "ann", "action": "view", "resource": "doc:1"}


def _app(folder: str, enabled: bool):
    from scim_authz import create_app
    from scim_authz.db.extensions import db
    from tests.conftest import app_config, issue_app_key, make_tenant

    app = create_app({**app_config(f"sqlite:///{folder}/{'on' if enabled else 'off'}.db"), "METRICS_ENABLED": enabled})
    with app.app_context():
        db.create_all()
    tid, scim_token = make_tenant(app, "bench")
    key = issue_app_key(app, tid)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {key}"}
    user = client.post("/scim/v2/Users", json={"userName": "ann"}, headers={"Authorization": f"Bearer {scim_token}"})
    client.post("/v1/roles", json={"key": "viewer", "permissions": ["doc:view"]}, headers=auth)
    client.post("/v1/role-assignments", json={"user": user.get_json()["id"], "role": "viewer"}, headers=auth)
    return app, client, auth


def _time_check(client, auth) -> float:
    """CPU microseconds of this thread for one check (the decision log's writer and the metrics'
    flusher run in threads of their own; other processes on the machine are not counted)."""
    started = time.thread_time()
    r = client.post("/v1/check", json=CHECK, headers=auth)
    spent = time.thread_time() - started
    assert r.status_code == 200 and r.get_json()["allowed"] is True, r.get_data(as_text=True)
    return spent * 1e6


def _per_call(fn, loops: int) -> float:
    """CPU microseconds of this thread per call of fn: the best of 5 runs of `loops` calls (on a busy
    machine wall-clock time would count the time other processes had the CPU)."""
    return min(timeit.Timer(fn, timer=time.thread_time).repeat(number=loops, repeat=5)) / loops * 1e6


def _hooks(app, loops: int) -> dict:
    """Microseconds per call of each hook, timed alone."""
    from scim_authz.ops import metrics

    m = app.extensions[metrics.KEY]

    def answer(environ, start_response):  # the least a WSGI app does
        start_response("200 OK", [])
        return [b""]

    def start_response(status, headers, exc_info=None):
        return None

    bare, counting = answer, metrics.Counting(answer, m)
    out = {}
    with app.test_request_context("/v1/check", method="POST") as ctx:
        environ = ctx.request.environ  # (with the request that matched /v1/check, as in a real request)
        assert ctx.request.url_rule is not None and environ["werkzeug.request"] is ctx.request
        out["middleware"] = (_per_call(lambda: counting(environ, start_response), loops)
                             - _per_call(lambda: bare(environ, start_response), loops))
    out["checked"] = _per_call(lambda: m.checked(0.00012, True), loops)
    metrics.flush()
    # A second's worth of requests at 5,000 a second, then one flush: its cost per request.
    per_flush = 5000
    flushes = max(5, loops // per_flush)
    spent = 0.0
    with app.test_request_context("/v1/check", method="POST") as ctx:
        environ = ctx.request.environ
        for _ in range(flushes):
            for _ in range(per_flush):
                counting(environ, start_response)
                m.checked(0.00012, True)
            started = time.thread_time()
            metrics.flush()
            spent += time.thread_time() - started
    out["flush_per_request"] = spent / (flushes * per_flush) * 1e6
    out["total"] = out["middleware"] + out["checked"] + out["flush_per_request"]
    return out


def worker(mode: str, pairs: int, loops: int) -> None:
    """One mode, in this process: the hooks alone, then whole checks with metrics on and off."""
    from tests.conftest import close_app

    folder = tempfile.mkdtemp(prefix="bench-metrics-")
    values_dir = tempfile.mkdtemp(prefix="bench-metrics-values-")
    if mode == "multiprocess":  # (a directory of its own: a scrape reads every *.db file in it)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = values_dir
    from prometheus_client import values

    assert values.ValueClass._multiprocess == (mode == "multiprocess")
    try:
        on_app, on, on_auth = _app(folder, True)
        off_app, off, off_auth = _app(folder, False)
        hooks = _hooks(on_app, loops)
        for _ in range(200):  # warm both
            _time_check(on, on_auth)
            _time_check(off, off_auth)
        diffs, with_us, without_us = [], [], []
        for n in range(pairs):  # one check each side by side, in turn first: what drifts, drifts alike
            if n % 2:
                a, b = _time_check(on, on_auth), _time_check(off, off_auth)
            else:
                b, a = _time_check(off, off_auth), _time_check(on, on_auth)
            with_us.append(a)
            without_us.append(b)
            diffs.append(a - b)
        scraped = on.get("/metrics").get_data(as_text=True)
        counted = sum(float(line.rsplit(" ", 1)[1]) for line in scraped.splitlines()
                      if line.startswith('scim_authz_decisions_total{decision="allow"}'))
        close_app(on_app)
        close_app(off_app)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(values_dir, ignore_errors=True)
    emit_json({"mode": mode, "hooks_us": {k: rnd(v, 3) for k, v in hooks.items()},
               "check_with_metrics_us": rnd(median(with_us)), "check_without_metrics_us": rnd(median(without_us)),
               "difference_us": rnd(median(diffs)), "difference_p25_us": rnd(percentile(diffs, 25)),
               "difference_p75_us": rnd(percentile(diffs, 75)), "decisions_counted": counted})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=10_000, help="checks timed on each app")
    parser.add_argument("--loops", type=int, default=100_000, help="calls per run of a hook timed alone")
    parser.add_argument("--worker", choices=["single", "multiprocess"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.pairs, args.loops)
        return
    results = []
    for mode in ("single", "multiprocess"):
        log(f"measuring {mode} ...")
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        proc = subprocess.run([sys.executable, str(BENCH_DIR / "metrics_overhead.py"), "--worker", mode,
                               "--pairs", str(args.pairs), "--loops", str(args.loops)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            raise SystemExit(f"the {mode} worker failed:\n{proc.stderr[-3000:]}")
        results.append(read_json_line(proc.stdout))
    head = ["prometheus_client", "middleware", "checked", "flush/req", "hooks total",
            "check off", "check on", "on - off (median)", "on - off (p25..p75)"]
    rows = [[r["mode"], *(f"{r['hooks_us'][k]:.2f}" for k in ("middleware", "checked", "flush_per_request", "total")),
             f"{r['check_without_metrics_us']:.1f}", f"{r['check_with_metrics_us']:.1f}",
             f"{r['difference_us']:+.1f}", f"{r['difference_p25_us']:+.1f}..{r['difference_p75_us']:+.1f}"]
            for r in results]
    print("Microseconds per POST /v1/check: the hooks timed alone (CPU time, best of 5), and whole checks\n"
          "through the test client (CPU time of the request thread; medians over checks, and of the\n"
          "differences of checks made side by side on the two apps)")
    print_table(head, rows)
    emit_json({"benchmark": "metrics_overhead", "product": product_state(), "settings": vars(args),
               "results": results})


if __name__ == "__main__":
    main()
