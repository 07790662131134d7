"""scim_cycle's figures: each server's repetitions summed up, the ratios against the peer, the
targets, the tables on stdout and the JSON object of the last line."""
from __future__ import annotations

from _report import fmt, print_table
from _scim_cycle_client import KINDS, WRITE_KINDS
from _stats import median, percentile, rnd

PHASES = ("entra_initial", "okta_incremental")
LABELS = {"ours_sqlite": "ours-SQLite", "ours_pg": "ours-PG", "peer": "peer (gunicorn)", "floor": "Flask floor",
          "durable_floor_sqlite": "durable floor SQLite", "durable_floor_pg": "durable floor PG"}
TARGETS = {"sqlite_vs_peer": 1.5, "pg_vs_peer": 1.0, "p99_over_p50": 4}
COMPARED = ("ours_sqlite", "ours_pg", "floor", "durable_floor_sqlite", "durable_floor_pg")   # each / peer
# The durable floor of each store against the target ours must reach there: is it reachable at all?
REACHABLE = {"sqlite_vs_peer": "durable_floor_sqlite", "pg_vs_peer": "durable_floor_pg"}
MIN_N_FOR_TAIL = 20     # a write kind's p99/p50 counts towards the target from this many requests


def _per_request(x: float, n: int) -> float | None:
    return x / n if n else None


def summarise(runs: list[dict]) -> dict:
    """One server over its repetitions: req/s the median of the repetitions', latencies pooled,
    errors and differences summed, CPU per request over all of them."""
    ok = [r for r in runs if r.get("status") == "ok"]
    if not ok:
        return {"status": "FAILED", "error": runs[0].get("error") if runs else "not run"}
    out: dict = {"status": "ok", "phases": {}}
    for ph in PHASES:
        p = [r["phases"][ph] for r in ok]
        n = sum(x["requests"] for x in p)
        out["phases"][ph] = {
            "requests": n, "req_s": rnd(median(x["req_s"] for x in p), 1),
            "req_s_reps": [rnd(x["req_s"], 1) for x in p],
            "seconds": rnd(median(x["seconds"] for x in p), 2), "errors": sum(x["errors"] for x in p),
            "steps_s": p[len(p) // 2]["steps_s"],
            "server_cpu_s_per_request": rnd(_per_request(sum(x["server_cpu_s"] for x in p), n), 5),
            "client_cpu_s_per_request": rnd(_per_request(sum(x["client_cpu_s"] for x in p), n), 5),
            "machine_cpu_s_per_request": rnd(_per_request(sum(x["machine_cpu_s"] for x in p), n), 5)}
    overall = [sum(r["phases"][ph]["requests"] for ph in PHASES) / sum(r["phases"][ph]["seconds"] for ph in PHASES)
               for r in ok]
    n = sum(r["phases"][ph]["requests"] for r in ok for ph in PHASES)
    kinds = {}
    for k in KINDS:
        lat = [x for r in ok for x in r["latencies"][k]]
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        kinds[k] = {"p50_ms": rnd(p50), "p99_ms": rnd(p99), "n": len(lat), "errors": sum(r["errors"][k] for r in ok),
                    "p99_over_p50": rnd(p99 / p50) if p50 else None}
    stateful = ok[0]["state"] is not None
    out.update({
        "req_s": rnd(median(overall), 1), "req_s_reps": [rnd(x, 1) for x in overall], "requests": n,
        "kinds": kinds, "errors": sum(k["errors"] for k in kinds.values()),
        "not_sent": sum(r["not_sent"] for r in ok), "client_errors": sum(r["client_errors"] for r in ok),
        "warmup_errors": sum(r["warmup_errors"] for r in ok),
        "error_samples": [s for r in ok for s in r["error_samples"]][:8],
        "differences": sum(r["state"]["differences"] for r in ok) if stateful else None,
        "difference_samples": [s for r in ok for s in r["state"]["samples"]][:10] if stateful else [],
        "readback_s": [rnd(r["state"]["readback_s"], 2) for r in ok] if stateful else None,
        "cpu_s_per_request": rnd(_per_request(sum(r["phases"][ph]["server_cpu_s"] for r in ok for ph in PHASES), n), 5),
        "client_cpu_s_per_request": rnd(_per_request(
            sum(r["phases"][ph]["client_cpu_s"] for r in ok for ph in PHASES), n), 5),
        "machine_cpu_s_per_request": rnd(_per_request(
            sum(r["phases"][ph]["machine_cpu_s"] for r in ok for ph in PHASES), n), 5),
        "reps_failed": len(runs) - len(ok), "server": ok[0]["notes"]})
    if not stateful:
        out["final_state_check"] = ok[0].get("state_skipped") or "skipped"
    return out


def max_write_tail(s: dict | None) -> float | None:
    """The largest p99/p50 over the write kinds with at least MIN_N_FOR_TAIL requests."""
    if not s or s.get("status") != "ok":
        return None
    tails = [s["kinds"][k]["p99_over_p50"] for k in WRITE_KINDS
             if s["kinds"][k]["n"] >= MIN_N_FOR_TAIL and s["kinds"][k]["p99_over_p50"] is not None]
    return max(tails, default=None)


def _ratio(a: dict | None, b: dict | None, phase: str | None = None) -> float | None:
    def rate(s):
        if not s or s.get("status") != "ok":
            return None
        return s["phases"][phase]["req_s"] if phase else s["req_s"]
    x, y = rate(a), rate(b)
    return round(x / y, 2) if x is not None and y else None


def figures(servers: dict[str, dict]) -> dict:
    """Ratios against the peer, tails of our writes, which targets are met."""
    peer = servers.get("peer")
    out = {"ratio_sqlite_vs_peer": _ratio(servers.get("ours_sqlite"), peer),
           "ratio_pg_vs_peer": _ratio(servers.get("ours_pg"), peer),
           "ratio_floor_vs_peer": _ratio(servers.get("floor"), peer),
           "ratio_durable_floor_sqlite_vs_peer": _ratio(servers.get("durable_floor_sqlite"), peer),
           "ratio_durable_floor_pg_vs_peer": _ratio(servers.get("durable_floor_pg"), peer),
           "ratios_by_phase": {ph: {f"{n}_vs_peer": _ratio(servers.get(n), peer, ph) for n in COMPARED}
                               for ph in PHASES},
           "p99_over_p50_max_write_sqlite": max_write_tail(servers.get("ours_sqlite")),
           "p99_over_p50_max_write_pg": max_write_tail(servers.get("ours_pg")),
           "targets": TARGETS}
    # null where that durable floor (or the peer) was not measured
    out["reachable"] = {key: None if out[f"ratio_{n}_vs_peer"] is None else out[f"ratio_{n}_vs_peer"] >= TARGETS[key]
                        for key, n in REACHABLE.items()}
    meets = {}
    for store, key in (("sqlite", "sqlite_vs_peer"), ("pg", "pg_vs_peer")):
        s = servers.get(f"ours_{store}")
        if s is None:
            continue
        tail = out[f"p99_over_p50_max_write_{store}"]
        ratio = out[f"ratio_{store}_vs_peer"]
        meets[key] = ratio is not None and ratio >= TARGETS[key]
        meets[f"p99_over_p50_{store}"] = tail is not None and tail <= TARGETS["p99_over_p50"]
        meets[f"correct_{store}"] = s.get("status") == "ok" and s["errors"] == 0 and s["differences"] == 0 \
            and s["not_sent"] == 0 and s["client_errors"] == 0
    out["meets"] = meets
    out["meets_targets"] = bool(meets) and all(meets.values())
    return out


def ms(seconds: float | None) -> str:
    return fmt(None if seconds is None else seconds * 1000, ".2f")


def print_report(servers: dict[str, dict], figs: dict, settings: dict) -> None:
    names = list(servers)
    print(f"SCIM provisioning cycle: {settings['users']} users, {settings['groups']} groups, "
          f"{settings['connections']} connections, {settings['reps']} repetition(s) (req/s: median)")
    rows = []
    for n in names:
        s = servers[n]
        if s.get("status") != "ok":
            rows.append([LABELS[n], "FAILED", "", "", "", "", "", "", "", ""])
            continue
        ph = s["phases"]
        rows.append([LABELS[n], fmt(ph["entra_initial"]["req_s"], ".1f"), fmt(ph["okta_incremental"]["req_s"], ".1f"),
                     fmt(s["req_s"], ".1f"), s["requests"], s["errors"],
                     "skipped" if s["differences"] is None else s["differences"],
                     ms(s["cpu_s_per_request"]),
                     ms(s["client_cpu_s_per_request"]), ms(s["machine_cpu_s_per_request"])])
    print_table(["server", "entra req/s", "okta req/s", "overall req/s", "requests", "errors", "differences",
                 "server CPU ms/req", "client CPU ms/req", "machine CPU ms/req"], rows)
    print("CPU per request: the server's process group (on PostgreSQL without its backends), this client, "
          "the whole machine (PostgreSQL included)")
    print()
    ok = [n for n in names if servers[n].get("status") == "ok"]
    head = ["kind", "n"] + [f"{LABELS[n]} p50/p99 ms" for n in ok] + [f"{LABELS[n]} p99/p50" for n in ok
                                                                       if n.startswith("ours")]
    rows = []
    for k in KINDS:
        ns = {servers[n]["kinds"][k]["n"] for n in ok}
        row = [k + (" (w)" if k in WRITE_KINDS else ""), "/".join(str(x) for x in sorted(ns))]
        for n in ok:
            x = servers[n]["kinds"][k]
            err = f" ERR({x['errors']})" if x["errors"] else ""
            row.append(f"{fmt(x['p50_ms'], '.1f')} / {fmt(x['p99_ms'], '.1f')}{err}")
        row += [fmt(servers[n]["kinds"][k]["p99_over_p50"], ".1f") for n in ok if n.startswith("ours")]
        rows.append(row)
    print_table(head, rows)
    print()

    def r(v):
        return "-" if v is None else f"{v:.2f}x"
    t = TARGETS
    print(f"ours-SQLite / peer {r(figs['ratio_sqlite_vs_peer'])} (target {t['sqlite_vs_peer']}x); "
          f"ours-PG / peer {r(figs['ratio_pg_vs_peer'])} (target {t['pg_vs_peer']}x); "
          f"floor / peer {r(figs['ratio_floor_vs_peer'])} (the most a Flask app reaches here)")
    if "durable_floor_sqlite" in servers or "durable_floor_pg" in servers:
        reach = figs["reachable"]

        def verdict(key):
            v = reach[key]
            return "not measured" if v is None else f"{t[key]}x {'reachable' if v else 'NOT reachable'}"
        print(f"durable floor: a Flask app that only makes each write durable reaches "
              f"{r(figs['ratio_durable_floor_sqlite_vs_peer'])} the peer on SQLite, "
              f"{r(figs['ratio_durable_floor_pg_vs_peer'])} on PostgreSQL "
              f"(target SQLite {verdict('sqlite_vs_peer')}, PostgreSQL {verdict('pg_vs_peer')})")
    print(f"largest p99/p50 of a write kind (n >= {MIN_N_FOR_TAIL}): SQLite "
          f"{fmt(figs['p99_over_p50_max_write_sqlite'], '.1f')}, "
          f"PostgreSQL {fmt(figs['p99_over_p50_max_write_pg'], '.1f')} (target <= {t['p99_over_p50']})")
    met = ", ".join(f"{k} {'MET' if v else 'NOT MET'}" for k, v in figs["meets"].items())
    print(f"targets: {met or 'none measured'}")
