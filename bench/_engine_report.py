"""check_engine's report: one row of figures per size from the workers' results, and the tables."""
from __future__ import annotations

from _engine_casbin import CASBIN_CONFIGS, PERMISSIONS_ENGINES
from _report import fmt

ENGINES = ("ours",) + tuple(CASBIN_CONFIGS)


def size_row(n: int, r: dict) -> dict:
    """The figures of one size: per engine (load, checks, latency, memory, permissions), ours' warm
    pass, and ours / each casbin configuration."""
    ours = r.get("ours")
    row = {"users": n}
    for eng, res in r.items():
        c = res["checks"]
        row[eng] = {
            "load_s": res["load_s"],
            "checks": c["n"],
            "checks_per_s": c["per_s"],
            "checks_per_cpu_s": c["per_cpu_s"],
            "loadavg_1m": res.get("loadavg_1m"),
            "p50_us": c["p50_us"],
            "p99_us": c["p99_us"],
            "peak_mem_mb": res["memory"]["delta_mb"],
            **(
                {
                    "capped": c["capped"],
                    "compared_with_ours": c.get("compared_with_ours"),
                    "disagreements_with_ours": c.get("disagreements_with_ours"),
                }
                if eng != "ours"
                else {}
            ),
            **(
                {
                    "checks_warm_per_s": res["checks_warm"]["per_s"],
                    "checks_warm_per_cpu_s": res["checks_warm"]["per_cpu_s"],
                    "warm_p50_us": res["checks_warm"]["p50_us"],
                    "warm_p99_us": res["checks_warm"]["p99_us"],
                    "users_with_grants_computed_in_first_pass": c["users_with_grants_computed"],
                    "snapshot_build_s": res["snapshot_build_s"],
                }
                if eng == "ours"
                else {}
            ),
        }
        if "permissions" in res:
            p = res["permissions"]
            row[eng]["permissions"] = {
                "calls": p["n"],
                "p50_us": p["p50_us"],
                "p95_us": p["p95_us"],
                "p99_us": p["p99_us"],
                "capped": p.get("capped", False),
                "disagreements_with_ours": p.get("disagreements_with_ours"),
            }
        if "permissions_probe" in res:
            row[eng]["permissions_probe"] = res["permissions_probe"]
        if "rules" in res:
            row[eng]["rules"] = res["rules"]
    if ours:
        row["data"] = ours["data"]
        oc = ours["checks"]["per_s"]
        for eng in CASBIN_CONFIGS:
            if eng in r and r[eng]["checks"]["per_s"]:
                row[f"ratio_checks_ours_vs_{eng}"] = round(oc / r[eng]["checks"]["per_s"], 1)
                row[f"ratio_checks_ours_warm_vs_{eng}"] = round(
                    ours["checks_warm"]["per_s"] / r[eng]["checks"]["per_s"], 1
                )
                if ours["checks"]["per_cpu_s"] and r[eng]["checks"]["per_cpu_s"]:
                    row[f"ratio_checks_cpu_ours_vs_{eng}"] = round(
                        ours["checks"]["per_cpu_s"] / r[eng]["checks"]["per_cpu_s"], 1
                    )
            if eng in r and "permissions" in r[eng] and r[eng]["permissions"]["p50_us"]:
                row[f"ratio_permissions_p50_{eng}_over_ours"] = round(
                    r[eng]["permissions"]["p50_us"] / ours["permissions"]["p50_us"], 1
                )
        fast = [r[e]["checks"]["per_s"] for e in CASBIN_CONFIGS if e.startswith("casbin_fast") and e in r]
        if fast:
            row["ratio_checks_ours_vs_best_fast_enforcer"] = round(oc / max(fast), 1)
            row["ratio_checks_ours_warm_vs_best_fast_enforcer"] = round(ours["checks_warm"]["per_s"] / max(fast), 1)
        fast_cpu = [
            r[e]["checks"]["per_cpu_s"]
            for e in CASBIN_CONFIGS
            if e.startswith("casbin_fast") and e in r and r[e]["checks"]["per_cpu_s"]
        ]
        if fast_cpu:
            row["ratio_cpu_ours_vs_best_fast_enforcer"] = round(ours["checks"]["per_cpu_s"] / max(fast_cpu), 1)
            row["ratio_cpu_ours_warm_vs_best_fast_enforcer"] = round(
                ours["checks_warm"]["per_cpu_s"] / max(fast_cpu), 1
            )
        if "casbin_enforcer" in r:
            row["ratio_checks_ours_vs_enforcer"] = row.get("ratio_checks_ours_vs_casbin_enforcer")
    return row


def print_tables(summary_sizes: list[dict], rel: dict | None, f: dict, errors: int, runs: int) -> None:
    """The checks table, the permissions table, the relationship part and the targets; `f` holds
    the figures of the JSON line (meets, ratios and max/min by size)."""
    meets, meets_cpu = f["meets"], f["meets_by_cpu_time"]
    ratios = f["ratio_ours_vs_best_fast_enforcer_by_size"]
    ratios_warm = f["ratio_ours_warm_vs_best_fast_enforcer_by_size"]
    ratios_cpu = f["ratio_cpu_ours_vs_best_fast_enforcer_by_size"]
    ratios_cpu_warm = f["ratio_cpu_ours_warm_vs_best_fast_enforcer_by_size"]
    flat, flat_warm = f["ours_checks_flat_max_over_min"], f["ours_checks_warm_flat_max_over_min"]
    flat_cpu, flat_cpu_warm = f["ours_checks_cpu_flat_max_over_min"], f["ours_checks_cpu_warm_flat_max_over_min"]
    flat_rounds, flat_rounds_warm = f["ours_checks_flat_by_round"], f["ours_checks_warm_flat_by_round"]
    perm_p95 = f["ours_permissions_p95_us_by_size"]
    out = []
    out.append("RBAC with tenants: checks (single thread; checks/s = calls / sum of per-call times)")
    out.append(
        f"{'users':>7} {'engine':<24} {'load s':>7} {'checks':>7} {'checks/s':>10} {'p50 µs':>8} "
        f"{'p99 µs':>9} {'peak MB':>8} {'ours/x':>7} {'chk/CPU-s':>10} {'load1':>5}"
    )
    for row in summary_sizes:
        for eng in ENGINES:
            if eng not in row:
                continue
            x = row[eng]
            ratio = "" if eng == "ours" else fmt(row.get(f"ratio_checks_ours_vs_{eng}"), ".1f")
            cap = "*" if x.get("capped") else ""
            out.append(
                f"{row['users']:>7} {eng:<24} {fmt(x['load_s'], '.3f'):>7} {x['checks']:>6}{cap:1} "
                f"{fmt(x['checks_per_s'], ',.0f'):>10} {fmt(x['p50_us'], '.1f'):>8} {fmt(x['p99_us'], '.1f'):>9} "
                f"{fmt(x['peak_mem_mb'], '.1f'):>8} {ratio:>7} {fmt(x['checks_per_cpu_s'], ',.0f'):>10} "
                f"{fmt((x.get('loadavg_1m') or [None])[-1], '.1f'):>5}"
            )
            if eng == "ours":
                wr = row.get("ratio_checks_ours_warm_vs_best_fast_enforcer")
                out.append(
                    f"{'':>7} {'ours (warm, 2nd pass)':<24} {'':>7} {x['checks']:>6}  "
                    f"{fmt(x['checks_warm_per_s'], ',.0f'):>10} {fmt(x['warm_p50_us'], '.1f'):>8} "
                    f"{fmt(x['warm_p99_us'], '.1f'):>9} {'':>8} {fmt(wr, '.1f'):>7} "
                    f"{fmt(x['checks_warm_per_cpu_s'], ',.0f'):>10}"
                )
    out.append(f"  ours and casbin_fast_dom_obj_act: each figure the median of {runs} fresh processes' "
               "(run in rounds that")
    out.append("  take every size in turn; p50/p99 from the run with the median checks/s of that pass);")
    out.append("  * capped by --casbin-seconds; peak MB = ru_maxrss - VmRSS after generating the neutral data set;")
    out.append(
        "  ours/x = ours checks/s / x's (warm row: / the fastest FastEnforcer); chk/CPU-s = checks per CPU "
        "second of the loop;\n  load1 = 1-min load average when the worker ended (2 cores)"
    )
    out.append("")
    out.append("permissions(user) (casbin: get_implicit_permissions_for_user(user, domain))")
    out.append(
        f"{'users':>7} {'engine':<24} {'calls':>6} {'p50 µs':>10} {'p95 µs':>10} {'p99 µs':>10} {'x/ours p50':>11}"
    )
    for row in summary_sizes:
        for eng in PERMISSIONS_ENGINES:
            if eng not in row or "permissions" not in row[eng]:
                continue
            p = row[eng]["permissions"]
            ratio = "" if eng == "ours" else fmt(row.get(f"ratio_permissions_p50_{eng}_over_ours"), ",.1f")
            out.append(
                f"{row['users']:>7} {eng:<24} {p['calls']:>6} {fmt(p['p50_us'], ',.1f'):>10} "
                f"{fmt(p['p95_us'], ',.1f'):>10} {fmt(p['p99_us'], ',.1f'):>10} {ratio:>11}"
            )
    if rel:
        out.append("")
        m = rel["memory"]
        out.append(
            f"Relationships (ours): {rel['relationships']:,} tuples + {rel['memberships']:,} SCIM memberships "
            f"= {rel['facts']:,} facts; load_all {rel['load_s']:.2f}s ({rel['load_cpu_s']:.2f} CPU s); "
            f"{m['bytes_per_fact_load']:.0f} B/fact during load ({m['rss_growth_during_load_mb']} MB), "
            f"{m['bytes_per_fact_kept']:.0f} B/fact kept incl. id strings ({m['rss_kept_after_dropping_input_mb']} MB)"
        )
        for k in ("allowed", "denied"):
            x = rel[k]
            out.append(
                f"  check view document (3 hops) {k:<8} n={x['n']:>6}  p50 {x['p50_us']:.1f} µs  "
                f"p99 {x['p99_us']:.1f} µs  ({fmt(x['per_s'], ',.0f')} checks/s)"
            )
        lk = rel["lookup_resources"]
        out.append(f"  lookup_resources view document -> {lk['results']:,} results, {lk['runs']} runs with the "
                   f"cache emptied: p50 {lk['p50_ms']} ms, max {lk['max_ms']} ms")
    out.append("")
    out.append(
        "Targets: " + ", ".join(f"{k}={'n/a' if v is None else 'PASS' if v else 'MISS'}" for k, v in meets.items())
    )
    out.append(f"  ours/best FastEnforcer checks/s by size: first pass {ratios}, warm {ratios_warm} (target >= 30)")
    out.append(
        f"  ours checks/s max/min over sizes: first pass {flat}, warm {flat_warm} (target <= 1.5); "
        f"permissions p95 µs by size: {perm_p95} (target < 1000)"
    )
    out.append(f"  the same within each round (not the target; one process per size): first pass {flat_rounds}, "
               f"warm {flat_rounds_warm}")
    out.append(
        f"  per CPU second: ours/best FastEnforcer first pass {ratios_cpu}, warm {ratios_cpu_warm}; ours max/min over "
        f"sizes first pass {flat_cpu}, warm {flat_cpu_warm} -> "
        + ", ".join(f"{k}={'PASS' if v else 'MISS'}" for k, v in meets_cpu.items())
    )
    out.append(
        "  first pass = the requests answered once after load_all (which computes every user's grants); warm = the "
        "same requests again, their users' data then more often in the CPU cache"
    )
    out.append(f"Errors (disagreements with the generator or between engines, failed workers): {errors}")
    print("\n".join(out))
