"""check_http's rounds: the gunicorn settings of a row, the paced load, and a server's rounds
pooled into one measurement."""
from __future__ import annotations

import os
import runpy

from _gunicorn import CONFIG, GUNICORN_HOOKS
from _server import LOOPBACK

SETTINGS_SHOWN = ("bind", "workers", "threads", "worker_class", "keepalive", "timeout", "preload_app", "accesslog")

# Paced load: every connection waits PACED_DELAY_MS after each response, so it sends about one
# request per (delay + latency). At light load a round trip plus wrk's timer take 1.2-1.6 ms here;
# PACED_LATENCY_MS = 2 errs towards offering the rate in full (the achieved rate is what is shown).
PACED_DELAY_MS = 8
PACED_LATENCY_MS = 2
PACED_RATE_SHARE_MIN = 0.95  # below this share of the offered rate, the paced row did not reach its load


def parse_configs(spec: str) -> list[tuple[str, int | None, int | None]]:
    """--configs: 'default' and/or WORKERSxTHREADS, as (label, workers, threads)."""
    out = []
    for item in spec.split(","):
        item = item.strip()
        if item == "default":
            out.append(("default", None, None))
        else:
            w, t = item.lower().split("x")
            out.append((item, int(w), int(t)))
    return out


def config_env(workers: int | None, threads: int | None, port: int) -> dict:
    """The environment both servers get: the config reads BIND, WEB_CONCURRENCY, GUNICORN_THREADS."""
    env = {k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY", "GUNICORN_THREADS")}
    env.update({"BIND": f"{LOOPBACK}:{port}", "ACCESS_LOG": ""})  # empty: no access log
    if workers is not None:
        env["WEB_CONCURRENCY"] = str(workers)
    if threads is not None:
        env["GUNICORN_THREADS"] = str(threads)
    return env


def effective_settings(env: dict) -> dict:
    """What config/gunicorn.conf.py gives in this environment (it is evaluated the way gunicorn does)."""
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        ns = runpy.run_path(str(CONFIG))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    out = {k: ns.get(k) for k in SETTINGS_SHOWN}
    out["worker_class"] = out["worker_class"] or "sync"
    out["hooks"] = [h for h in GUNICORN_HOOKS if callable(ns.get(h))]
    return out


def paced_connections(rate: int, threads: int) -> int:
    """Connections that offer about `rate` req/s when each sends one request per delay + latency,
    rounded up to a multiple of wrk's threads (wrk gives each thread connections // threads)."""
    conns = -(-rate * (PACED_DELAY_MS + PACED_LATENCY_MS) // 1000)
    return max(threads, -(-conns // threads) * threads)


def pool_rounds(rounds: list[dict]) -> dict:
    """One server's rounds as one measurement: requests / seconds, and percentiles of all the
    requests (each round's latency distribution as 1,000 quantiles, weighted by its requests)."""
    ok = [r for r in rounds if r.get("requests")]
    bad = [r["status"] for r in rounds if r.get("status") != "ok"]
    out: dict = {"status": bad[0] if bad else "ok", "rounds": len(rounds)}
    if not ok:
        return out
    req, secs = sum(r["requests"] for r in ok), sum(r["seconds"] for r in ok)
    points = sorted((v, r["requests"] / len(r["quantiles_us"])) for r in ok for v in r["quantiles_us"])
    total = sum(w for _, w in points)

    def q(p: float) -> float:
        acc = 0.0
        for v, w in points:
            acc += w
            if acc >= p / 100 * total - 1e-9:
                return v / 1e3
        return points[-1][0] / 1e3
    errors = {k: sum(r["errors"][k] for r in ok) for k in ok[0]["errors"]}
    cpu = sum(r["server_cpu_s"] for r in ok)
    out.update({"requests": req, "seconds": round(secs, 3), "req_s": req / secs, "p50_ms": q(50), "p75_ms": q(75),
                "p90_ms": q(90), "p99_ms": q(99), "max_ms": max(r["max_ms"] for r in ok),
                "mean_ms": sum(r["mean_ms"] * r["requests"] for r in ok) / req,
                "errors": errors, "error_total": sum(errors.values()), "server_cpu_s": round(cpu, 2),
                "server_cpu_us_per_req": round(cpu / req * 1e6, 1),
                "wrk_cpu_s": round(sum(r["wrk_cpu_s"] for r in ok), 2),
                "other_cpu_cores": round(sum(r["other_cpu_cores"] * r["seconds"] for r in ok) / secs, 2),
                "loadavg_before": [r["loadavg_before"] for r in rounds if "loadavg_before" in r],
                "req_s_rounds": [round(r["req_s"], 1) for r in ok],
                "p99_ms_rounds": [round(r["p99_ms"], 2) for r in ok],
                "worker_processes": ok[0].get("worker_processes"),
                "verify_ok": all(r.get("verify", {}).get("ok") for r in rounds)})
    logs = [r["decision_log"] for r in rounds if "decision_log" in r]
    if logs:
        added, sent = sum(d["rows_added"] for d in logs), sum(d["checks_answered_at_least"] for d in logs)
        out["decision_log"] = {"rows_added": added, "checks_answered_at_least": sent,
                               "ok": all(d["ok"] for d in logs)}
    errs = [r["error"] for r in rounds if "error" in r]
    if errs:
        out["error"] = errs[0]
    return out


def pool_paced(rounds: list[dict], offered: int) -> dict:
    """One server's paced runs (row["paced"] of each round), pooled like its saturated ones. A round
    that has none (its server failed before) keeps the round's status. "rate not reached" when the
    achieved rate is below PACED_RATE_SHARE_MIN of the offered one: its p99 is not at that load."""
    runs = [r["paced"] if "paced" in r else
            {"status": r["status"] if r.get("status", "ok") != "ok" else "FAILED(no paced run)"} for r in rounds]
    out = pool_rounds(runs)
    for k in ("verify_ok", "worker_processes"):  # the round's, which the saturated row already has
        out.pop(k, None)
    out["offered_req_s"] = offered
    if out.get("req_s") is not None:
        out["achieved_share"] = out["req_s"] / offered
        out["rate_reached"] = out["achieved_share"] >= PACED_RATE_SHARE_MIN
        if out["status"] == "ok" and not out["rate_reached"]:
            out["status"] = "rate not reached"
    return out

