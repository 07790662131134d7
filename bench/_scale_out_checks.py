"""scale_out's checks: wrk against one instance alone or against two at once, repetitions whose
rounds run in rotating order, a series of rounds summarised, and the PostgreSQL transactions the
checks cost (read from pg_stat_database)."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from _machine import loadavg
from _pg import _libpq_url
from _report import log
from _server import Server
from _stats import median, rnd
from _wrk import run_wrk

# The rounds of one repetition: SQLite's instance alone, each PostgreSQL instance alone (the other
# running, idle), and both PostgreSQL instances under wrk at once (they share the machine's cores).
ROUNDS = ("sqlite", "pg_a", "pg_b", "pg_both")

# With two wrk processes at once, wrk's CPU (RUSAGE_CHILDREN, counted when a child is waited for)
# and the rest of the machine's cannot be told apart per run: those figures are dropped.
OVERLAPPING = ("wrk_cpu_s", "other_cpu_cores")


def rotated(items: tuple | list, k: int) -> list:
    """items starting at k (mod its length): repetition k's order of rounds."""
    k %= len(items)
    return [*items[k:], *items[:k]]


def run_round(name: str, servers: list[Server], scripts: list[Path], threads: int, conns: int,
              seconds: float) -> list[dict]:
    """One wrk per server, all at once (one server: just that one); each run's summary."""
    out: list[dict | None] = [None] * len(servers)
    failures: list[BaseException] = []

    def go(i: int) -> None:
        try:
            out[i] = run_wrk(servers[i], scripts[i], threads, conns, seconds)
        except BaseException as e:  # noqa: BLE001 - re-raised below, in the caller's thread
            failures.append(e)

    if len(servers) == 1:
        go(0)
    else:
        pool = [threading.Thread(target=go, args=(i,), daemon=True) for i in range(len(servers))]
        for t in pool:
            t.start()
        for t in pool:
            t.join(seconds + 90)
    if failures:
        raise failures[0]
    runs = [r for r in out if r is not None]
    if len(runs) != len(servers):
        raise RuntimeError(f"round {name}: a wrk run did not finish")
    for r in runs:
        r["round"] = name
        if len(servers) > 1:
            for k in OVERLAPPING:
                r[k] = None
    return runs


def pooled_quantile(runs: list[dict], p: float) -> float | None:
    """The p-th percentile (ms) over every request of the runs: each run's 1,000 quantiles weighted
    by its requests (as check_http pools its rounds)."""
    points = sorted((v, r["requests"] / len(r["quantiles_us"])) for r in runs if r.get("quantiles_us")
                    for v in r["quantiles_us"])
    if not points:
        return None
    total, acc = sum(w for _, w in points), 0.0
    for v, w in points:
        acc += w
        if acc >= p / 100 * total - 1e-9:
            return v / 1e3
    return points[-1][0] / 1e3


def summarise(runs: list[dict], expected: int) -> dict:
    """A series of runs (one per repetition, or two, A and B): req/s is the median of the runs',
    latency percentiles are over all their requests. Any wrk error, or a missing run, fails it."""
    ok = [r for r in runs if r.get("requests")]
    errors = sum(r.get("error_total", 0) for r in runs)
    status = "ok"
    if errors:
        status = f"FAILED(wrk errors {errors})"
    elif len(ok) < expected:
        status = f"FAILED({expected - len(ok)} of {expected} runs missing)"
    requests = sum(r["requests"] for r in ok)
    cpu = sum(r["server_cpu_s"] for r in ok)
    return {"status": status, "runs": len(ok), "requests": requests,
            "req_s": rnd(median(r["req_s"] for r in ok), 1) if status == "ok" else None,
            "req_s_runs": [rnd(r["req_s"], 1) for r in ok],
            "p50_ms": rnd(pooled_quantile(ok, 50), 3), "p99_ms": rnd(pooled_quantile(ok, 99), 3),
            "p99_ms_runs": [rnd(r["p99_ms"], 2) for r in ok],
            "max_ms": rnd(max((r["max_ms"] for r in ok), default=None), 2), "errors": errors,
            "server_cpu_us_per_req": rnd(cpu / requests * 1e6, 1) if requests else None,
            "load1_before": [r["load1_before"] for r in ok]}


def sum_of_pairs(a_runs: list[dict], b_runs: list[dict]) -> list[float]:
    """A's and B's req/s of each round where both ran at once, added."""
    by_rep = {}
    for r in a_runs + b_runs:
        by_rep.setdefault(r["rep"], []).append(r["req_s"])
    return [sum(v) for v in by_rep.values() if len(v) == 2]


def measure_checks(servers: dict[str, Server], scripts: dict[str, Path], reps: int, threads: int, conns: int,
                   seconds: float) -> dict:
    """`reps` repetitions of ROUNDS, the order rotated by one each repetition; every wrk run, by series."""
    series: dict[str, list[dict]] = {"sqlite": [], "pg_a": [], "pg_b": [], "pg_both_a": [], "pg_both_b": []}
    for rep in range(reps):
        order = rotated(ROUNDS, rep)
        log(f"== checks, repetition {rep + 1}/{reps}: {' -> '.join(order)}; loadavg {loadavg()}")
        for name in order:
            targets = ["pg_a", "pg_b"] if name == "pg_both" else [name]
            runs = run_round(name, [servers[t] for t in targets], [scripts[t] for t in targets], threads, conns,
                             seconds)
            for t, r in zip(targets, runs, strict=True):
                r["rep"] = rep + 1
                series[f"pg_both_{t[-1]}" if name == "pg_both" else t].append(r)
                log(f"   {name:8s} {t}: {r['req_s']:7.0f} checks/s, p50 {r['p50_ms']:.2f} ms, "
                    f"p99 {r['p99_ms']:.2f} ms, errors {r['error_total']}")
    out = {k: summarise(v, reps) for k, v in series.items()}
    alone = series["pg_a"] + series["pg_b"]
    out["pg_alone_per_instance"] = summarise(alone, 2 * reps)
    both = series["pg_both_a"] + series["pg_both_b"]
    per_instance = summarise(both, 2 * reps)
    sums = sum_of_pairs(series["pg_both_a"], series["pg_both_b"])
    out["pg_both_per_instance"] = per_instance
    out["pg_both_sum"] = {**per_instance, "req_s": rnd(median(sums), 1) if per_instance["status"] == "ok" else None,
                          "req_s_runs": [rnd(x, 1) for x in sums]}
    # The same comparison within each repetition (its rounds ran minutes apart at most).
    by = {k: {r["rep"]: r["req_s"] for r in series[k]} for k in ("sqlite", "pg_a", "pg_b")}
    out["pg_alone_over_sqlite_reps"] = [rnd((by["pg_a"][k] + by["pg_b"][k]) / 2 / by["sqlite"][k], 3)
                                        for k in sorted(by["sqlite"]) if k in by["pg_a"] and k in by["pg_b"]]
    out["runs"] = {k: [{key: (rnd(r.get(key), 3) if isinstance(r.get(key), float) else r.get(key))
                        for key in ("rep", "round", "requests", "req_s", "p50_ms", "p99_ms", "max_ms", "error_total",
                                    "server_cpu_us_per_req", "wrk_cpu_s", "other_cpu_cores", "loadavg_before")}
                       for r in v] for k, v in series.items()}
    return out


class PgTransactions:
    """Transactions committed or rolled back in one database, from pg_stat_database. Backends report
    them when idle, at most once a second (or after 10 s idle), so `settled` waits until the
    count stops moving."""

    def __init__(self, server_url: str, dbname: str):
        self.server_url, self.dbname = server_url, dbname

    def read(self) -> int:
        import psycopg

        with psycopg.connect(_libpq_url(self.server_url), autocommit=True, connect_timeout=10) as conn:
            row = conn.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
                               (self.dbname,)).fetchone()
        return int(row[0]) if row else 0

    def settled(self, timeout: float = 12.0) -> int:
        last, deadline = self.read(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(1.0)
            now = self.read()
            if now == last:
                return now
            last = now
        return last
