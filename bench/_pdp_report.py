"""bench/pdp.py's figures: its targets, the check rounds pooled into ratios, and the table it prints."""
from __future__ import annotations

from _http_rounds import pool_rounds
from _report import fmt, print_table
from _stats import rnd

TARGETS = {"pdp_over_control_req_s_min": 1.0, "pdp_over_control_p99_max": 1.0, "propagation_p99_ms_max": 100.0,
           "big_pdp_ready_s_max": 10.0}
ROUND_KEYS = ("status", "requests", "seconds", "req_s", "p50_ms", "p99_ms", "max_ms", "error_total",
              "server_cpu_s", "server_cpu_us_per_req", "wrk_cpu_s", "other_cpu_cores", "loadavg_before",
              "other_server_cpu_s", "command")
POOLED_KEYS = ("status", "rounds", "requests", "seconds", "req_s", "p50_ms", "p75_ms", "p90_ms", "p99_ms", "mean_ms",
               "max_ms", "errors", "error_total", "server_cpu_s", "server_cpu_us_per_req", "wrk_cpu_s",
               "other_cpu_cores", "req_s_rounds", "p99_ms_rounds", "loadavg_before", "other_server_cpu_s")


def ratio(a: dict, b: dict, key: str) -> float | None:
    return rnd(a[key] / b[key], 3) if a.get(key) and b.get(key) else None


def clean(d: dict, keys: tuple) -> dict:
    return {k: (round(d[k], 3) if isinstance(d[k], float) else d[k]) for k in keys if k in d}


def pooled(rounds: dict[str, list[dict]]) -> dict:
    """The control plane's rounds and the PDP's, each pooled, with the PDP / control ratios."""
    pools = {k: pool_rounds(v) for k, v in rounds.items()}
    for k, v in pools.items():
        v["other_server_cpu_s"] = round(sum(r["other_server_cpu_s"] for r in rounds[k]), 2)
    pc, pp = pools["control"], pools["pdp"]
    return {"control": clean(pc, POOLED_KEYS), "pdp": clean(pp, POOLED_KEYS),
            "rounds": {k: [clean(r, ROUND_KEYS) for r in v] for k, v in rounds.items()},
            "ratio_req_s": ratio(pp, pc, "req_s"),
            "ratio_p50": ratio(pp, pc, "p50_ms"),
            "ratio_p99": ratio(pp, pc, "p99_ms"),
            "ratio_req_s_rounds": [rnd(b["req_s"] / a["req_s"], 3) for a, b in
                                   zip(rounds["control"], rounds["pdp"], strict=False)]}


def report(r: dict) -> None:
    c, p = r["checks"]["control"], r["checks"]["pdp"]
    print(f"PDP against its control plane (SQLite), load: {r['load_generator']}; "
          f"{r['workload']['load']}")
    print()
    print_table(["/v1/check", "control plane", "PDP", "PDP / control", "target"], [
        ["checks/s", fmt(rnd(c.get("req_s"), 0), ",.0f"), fmt(rnd(p.get("req_s"), 0), ",.0f"),
         fmt(r["checks"]["ratio_req_s"], ".2f"), f">= {TARGETS['pdp_over_control_req_s_min']:.1f}"],
        ["p50 ms", fmt(rnd(c.get("p50_ms"), 2)), fmt(rnd(p.get("p50_ms"), 2)),
         fmt(r["checks"]["ratio_p50"], ".2f"), ""],
        ["p99 ms", fmt(rnd(c.get("p99_ms"), 2)), fmt(rnd(p.get("p99_ms"), 2)),
         fmt(r["checks"]["ratio_p99"], ".2f"), f"<= {TARGETS['pdp_over_control_p99_max']:.1f}"],
        ["server CPU us/check", fmt(c.get("server_cpu_us_per_req")), fmt(p.get("server_cpu_us_per_req")), "", ""],
        ["other server's CPU s", fmt(c.get("other_server_cpu_s")), fmt(p.get("other_server_cpu_s")), "", ""],
        ["errors", fmt(c.get("error_total")), fmt(p.get("error_total")), "", ""],
    ])
    fl = r.get("floor") or {}
    floor_rows = [[f"the floor: {mode}", fmt(rnd(fl[mode]["control"].get("p99_ms"), 2)),
                   fmt(rnd(fl[mode]["pdp"].get("p99_ms"), 2)), fmt(fl[mode]["ratio_p99"], ".2f"),
                   fmt(fl[mode]["pdp"].get("other_server_cpu_s"))] for mode in ("insert", "sink") if mode in fl]
    if floor_rows:
        print()
        print_table(["p99, the PDP's decisions taken by", "control p99 ms", "PDP p99 ms", "PDP / control",
                     "control plane CPU s in the PDP's rounds"],
                    [["our control plane (above)", fmt(rnd(c.get("p99_ms"), 2)), fmt(rnd(p.get("p99_ms"), 2)),
                      fmt(r["checks"]["ratio_p99"], ".2f"), fmt(p.get("other_server_cpu_s"))], *floor_rows])
    print()
    pr, big, snap = r["propagation"], r["big_pdp"], r["snapshot"]
    ds = r["dataset"]["big"]
    print_table(["measure", "value", "target"], [
        [f"propagation p50 / p99 / max ms ({pr['measured']} writes)",
         f"{fmt(pr['p50_ms'])} / {fmt(pr['p99_ms'])} / {fmt(pr['max_ms'])}",
         f"p99 < {TARGETS['propagation_p99_ms_max']:.0f}"],
        ["propagation timeouts / stale answers", f"{pr['timeouts']} / {pr['stale_answers_at_write_revision']}",
         "0 / 0"],
        ["check with at_least p50 / p99 ms", f"{fmt(pr['at_least']['p50_ms'])} / {fmt(pr['at_least']['p99_ms'])}", ""],
        ["decisions logged / PDP answers counted",
         f"{r['decision_log']['logged_at_control_plane']} / {r['decision_log']['pdp_answers_counted']}",
         "all logged"],
        [f"large tenant ({ds['users']:,} users, {ds['relationships']:,} relationships) fill s",
         fmt(ds["fill_seconds"]), ""],
        ["control plane start with it s", fmt(r["control_with_big"]["ready_s"]), ""],
        ["snapshot seconds (end to end)", fmt(rnd(snap["seconds"], 2)), ""],
        ["snapshot MB on the wire / JSON", f"{snap['bytes'] / 2**20:.1f} / {snap['json_bytes'] / 2**20:.1f}", ""],
        ["fresh PDP ready s", fmt(big["ready_s"]), f"< {TARGETS['big_pdp_ready_s_max']:.0f}"],
        ["PDP ready from local disk s", fmt(big.get("ready_from_disk_s")), ""],
        ["PDP worker RSS MB (peak)", f"{fmt(big['memory']['worker_rss_mb'])} ({fmt(big['memory']['worker_vmhwm_mb'])})",
         ""],
        ["PDP master + workers, proportional MB", fmt(big["memory"]["all_pss_mb"]), ""],
        ["PDP worker RSS MB, small tenant", fmt(big["memory"]["small_tenant_worker_rss_mb"]), ""],
        ["wrong answers, large tenant (control / PDP)", f"{big['wrong']['control']} / {big['wrong']['pdp']}", "0 / 0"],
    ])
    print()
    print("meets: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in r["meets"].items())
          + f"; all answers right: {'yes' if r['all_right'] else 'NO'}")
