#!/usr/bin/env python
"""Our decision engine in-process against pycasbin, on the same RBAC-with-tenants model and data.

Per size (users in total, spread over 10 tenants; 200 roles x 50 permissions per tenant; every user
in 1-3 memberships: IdP groups mapped to roles, or direct assignments; some roles extend a base
role) every engine runs in its own subprocess (so its peak memory is its own):

  ours                      Engine(SnapshotReader(snapshots)); load_all() timed (cold start)
  casbin_fast_dom_obj_act   casbin.FastEnforcer, cache_key_order=[1, 2, 3] (policies indexed by
                            (domain, obj, act)): the fastest correct configuration for enforce()
  casbin_fast_dom_obj       casbin.FastEnforcer, cache_key_order=[1, 2] (the only key length whose
                            whole-policy iteration, and so get_implicit_permissions_for_user, works)
  casbin_enforcer           casbin.Enforcer (linear scan of every policy per request)

Every casbin configuration gets `get_role_manager().add_matching_func(None)` before its policies are
loaded (the DomainManager's default matching function is plain equality, which only makes building
role links quadratic), and its policies from an in-memory adapter (add_policies is quadratic: every
insert first scans the policy list, or len()s the whole FastPolicy).

The same random requests (half allowed, half denied; checked against the value the generator
expects) go to every engine in the same order; ours answers all of them, casbin as many as fit in
--casbin-seconds. Every answer is compared with the expected value and with every other engine's
answer to the same request; `permissions(user)` results are compared as sets (through hashes).
A separate subprocess measures our relationship check three hops deep over ~1,000,000 facts.

stdout: tables, then, as the LAST line, one JSON object. Progress goes to stderr. Exit status 1 when
any answer disagreed (with the generator or another engine) or a worker failed.

    python bench/check_engine.py                      # 1k, 10k, 100k users + 1M facts (~4.5 min)
    python bench/check_engine.py --sizes 1000,10000   # fewer sizes
    python bench/check_engine.py --quick              # ~1 min
    python bench/check_engine.py --profile            # also cProfile ours (to stderr, not timed)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from _engine_casbin import CASBIN_CONF, CASBIN_CONFIGS, worker_casbin
from _engine_data import (
    ACTIONS,
    BASE_ROLES,
    EXTENDS_P,
    GROUP_P,
    GROUPS_PER_TENANT,
    PERMS_PER_ROLE,
    ROLES_PER_TENANT,
    TENANTS,
)
from _engine_relationships import LOOKUP_RESULTS, worker_relationships
from _engine_report import ENGINES, print_tables, size_row
from _engine_worker import worker_ours
from _paths import ROOT
from _report import emit_json, log, read_json_line
from _stats import middle

TARGETS = {
    "checks_ratio_vs_fast_enforcer_min": 30.0,
    "checks_flat_max_over_min_max": 1.5,
    "permissions_p95_us_max": 1000.0,
    "relationship_check_p99_us_max": 1000.0,
    "lookup_10k_ms_max": 100.0,
    "relationship_load_s_max": 5.0,
    "relationship_bytes_per_fact_max": 200.0,
}


# Arguments every worker gets, as the orchestrator got them (--size and the flags are added apart).
WORKER_ARGS = ("seed", "requests", "perm_calls", "casbin_seconds", "perm_seconds", "rel_tuples", "rel_checks",
               "rtypes", "actions")


def run_worker(args, engine: str, size: int | None) -> dict | None:
    """This script again with --worker `engine` in a fresh process (its memory its own): its result,
    the last line it prints, or None when it failed."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", engine]
    for name in WORKER_ARGS:
        cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if size is not None:
        cmd += ["--size", str(size)]
    if args.profile:
        cmd.append("--profile")
    if args.gc_freeze:
        cmd.append("--gc-freeze")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, check=False, stdout=subprocess.PIPE, stderr=None, text=True, cwd=str(ROOT))
    if proc.returncode != 0 or (res := read_json_line(proc.stdout)) is None:
        log(f"ERROR: worker {engine} size={size} failed (exit {proc.returncode})")
        return None
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    return res


# A process's speed on these machines varies by up to half from one process to the next (memory
# placement, a shared host) and drifts from one minute to the next, so the engines the ratios
# compare run --runs times each, in fresh processes that take turns: each round runs them at every
# size, one after the other, so a slow minute falls on every size and engine of that round rather
# than on one size's every run. Each figure is then the median of the runs' (pick_median).
REPEATED = ("ours", "casbin_fast_dom_obj_act")


def run_rounds(args, sizes, started: float) -> tuple[dict, set]:
    """Every (size, engine) of REPEATED, --runs rounds of each size in turn: (size, engine) -> results."""
    runs: dict[tuple[int, str], list[dict]] = {(n, e): [] for n in sizes for e in REPEATED}
    failed: set[tuple[int, str]] = set()
    for k in range(max(args.runs, 1)):
        for n in sizes:
            for eng in REPEATED:
                if (n, eng) in failed:
                    continue
                log(f"[{time.perf_counter() - started:6.1f}s] round {k + 1}/{max(args.runs, 1)} size {n}: {eng}")
                res = run_worker(args, eng, n)
                if res is None:
                    failed.add((n, eng))
                else:
                    runs[(n, eng)].append(res)
    return runs, failed


def _median_run(runs: list[dict], key: str) -> dict:
    return middle(runs, key=lambda r: r[key]["per_s"])


def _median_cpu(runs: list[dict], key: str) -> float | None:
    return middle(r[key]["per_cpu_s"] for r in runs if r[key]["per_cpu_s"])


def pick_median(runs: list[dict], engine: str, size: int) -> dict:
    """Each figure the median of the runs': the first pass's latencies from the run with the median
    first-pass checks/s, the warm pass's from the run with the median warm checks/s (not
    necessarily the same run), checks per CPU second the median of each pass's; every run's attached."""
    if len(runs) == 1:
        return runs[0]
    chosen = dict(_median_run(runs, "checks"))
    chosen["checks"] = {**chosen["checks"], "per_cpu_s": _median_cpu(runs, "checks")}
    if all("checks_warm" in r for r in runs):
        chosen["checks_warm"] = {**_median_run(runs, "checks_warm")["checks_warm"],
                                 "per_cpu_s": _median_cpu(runs, "checks_warm")}
    chosen["runs"] = {"count": len(runs), "chosen": "the median of each figure",
                      "checks_per_s": [round(r["checks"]["per_s"], 1) for r in runs],
                      "checks_warm_per_s": [round(r["checks_warm"]["per_s"], 1) for r in runs
                                            if "checks_warm" in r]}
    chosen["expected_errors"] = sum(r["expected_errors"] for r in runs)
    answers = {r["checks"]["answers"] for r in runs}
    if len(answers) > 1:
        log(f"ERROR size {size}: runs of {engine} answered differently")
        chosen["expected_errors"] += 1
    return chosen


def flat_by_round(runs: dict, sizes: list[int], key: str) -> list[float]:
    """Ours' max/min over sizes within each round (the sizes of a round ran minutes apart at most)."""
    per_size = [runs.get((n, "ours"), []) for n in sizes]
    rounds = min((len(r) for r in per_size), default=0)
    out = []
    for k in range(rounds):
        v = [r[k][key]["per_s"] for r in per_size]
        if len(v) > 1 and all(v):
            out.append(round(max(v) / min(v), 2))
    return out


def compare_answers(n: int, engines: dict[str, dict]) -> tuple[int, list[dict]]:
    """Every answer of size n against every other engine's answer to the same request (permission
    listings as sets, through their hashes): the count of disagreements, and what they were."""
    errors, disagreements = 0, []
    # every answer against every other engine's answer to the same request
    ours = engines.get("ours")
    for eng, res in engines.items():
        if eng == "ours" or ours is None:
            continue
        a, b = ours["checks"]["answers"], res["checks"]["answers"]
        diff = [k for k in range(min(len(a), len(b))) if a[k] != b[k]]
        res["checks"]["compared_with_ours"] = min(len(a), len(b))
        res["checks"]["disagreements_with_ours"] = len(diff)
        if diff:
            errors += len(diff)
            disagreements.append(
                {"size": n, "engine": eng, "kind": "check", "count": len(diff), "first": diff[:10]}
            )
            log(f"ERROR size {n}: {eng} disagrees with ours on {len(diff)} checks, e.g. requests {diff[:5]}")
        if "permissions" in res and "permissions" in ours:
            ha, hb = ours["permissions"]["hashes"], res["permissions"]["hashes"]
            pdiff = [k for k in range(min(len(ha), len(hb))) if ha[k] != hb[k]]
            res["permissions"]["compared_with_ours"] = min(len(ha), len(hb))
            res["permissions"]["disagreements_with_ours"] = len(pdiff)
            if pdiff:
                errors += len(pdiff)
                disagreements.append(
                    {"size": n, "engine": eng, "kind": "permissions", "count": len(pdiff), "first": pdiff[:10]}
                )
                log(f"ERROR size {n}: {eng} permission sets differ from ours for calls {pdiff[:5]}")
    # casbin against casbin, where both answered
    names = [e for e in CASBIN_CONFIGS if e in engines]
    for i, x in enumerate(names):
        for y in names[i + 1 :]:
            a, b = engines[x]["checks"]["answers"], engines[y]["checks"]["answers"]
            diff = [k for k in range(min(len(a), len(b))) if a[k] != b[k]]
            if diff:
                errors += len(diff)
                disagreements.append(
                    {"size": n, "engine": f"{x} vs {y}", "kind": "check", "count": len(diff), "first": diff[:10]}
                )
                log(f"ERROR size {n}: {x} and {y} disagree on {len(diff)} checks")
    return errors, disagreements


def figures(summary_sizes: list[dict], runs: dict, sizes: list[int], rel: dict | None) -> dict:
    """The figures the targets are taken over, each the median of the runs' per size, and whether
    each target is met (wall time, and per CPU second of the loop); keyed as in the JSON line."""
    ours_cps = [row["ours"]["checks_per_s"] for row in summary_sizes if "ours" in row]
    ours_warm = [row["ours"]["checks_warm_per_s"] for row in summary_sizes if "ours" in row]
    ratios = [
        row["ratio_checks_ours_vs_best_fast_enforcer"]
        for row in summary_sizes
        if "ratio_checks_ours_vs_best_fast_enforcer" in row
    ]
    ratios_warm = [
        row["ratio_checks_ours_warm_vs_best_fast_enforcer"]
        for row in summary_sizes
        if "ratio_checks_ours_warm_vs_best_fast_enforcer" in row
    ]
    # The same figures per CPU second of each loop: steadier than wall time when other processes load the machine.
    ratios_cpu = [row.get("ratio_cpu_ours_vs_best_fast_enforcer") for row in summary_sizes if "ours" in row]
    ratios_cpu_warm = [row.get("ratio_cpu_ours_warm_vs_best_fast_enforcer") for row in summary_sizes if "ours" in row]
    ours_cpu = [row["ours"]["checks_per_cpu_s"] for row in summary_sizes if "ours" in row]
    ours_cpu_warm = [row["ours"]["checks_warm_per_cpu_s"] for row in summary_sizes if "ours" in row]
    flat_cpu = round(max(ours_cpu) / min(ours_cpu), 2) if ours_cpu and all(ours_cpu) else None
    flat_cpu_warm = round(max(ours_cpu_warm) / min(ours_cpu_warm), 2) if ours_cpu_warm and all(ours_cpu_warm) else None
    perm_p95 = [row["ours"]["permissions"]["p95_us"] for row in summary_sizes if "ours" in row]
    flat = round(max(ours_cps) / min(ours_cps), 2) if ours_cps else None
    flat_warm = round(max(ours_warm) / min(ours_warm), 2) if ours_warm else None
    flat_rounds = flat_by_round(runs, sizes, "checks")
    flat_rounds_warm = flat_by_round(runs, sizes, "checks_warm")
    meets = {
        "checks_ratio_vs_fast_enforcer": bool(ratios) and min(ratios) >= TARGETS["checks_ratio_vs_fast_enforcer_min"],
        "checks_ratio_vs_fast_enforcer_warm": bool(ratios_warm)
        and min(ratios_warm) >= TARGETS["checks_ratio_vs_fast_enforcer_min"],
        "checks_flat": flat is not None and len(ours_cps) > 1 and flat <= TARGETS["checks_flat_max_over_min_max"],
        "checks_flat_warm": flat_warm is not None
        and len(ours_warm) > 1
        and flat_warm <= TARGETS["checks_flat_max_over_min_max"],
        "permissions_p95": bool(perm_p95) and max(perm_p95) < TARGETS["permissions_p95_us_max"],
    }
    lo = TARGETS["checks_ratio_vs_fast_enforcer_min"]
    hi = TARGETS["checks_flat_max_over_min_max"]
    meets_cpu = {
        "checks_ratio_vs_fast_enforcer": bool(ratios_cpu) and None not in ratios_cpu and min(ratios_cpu) >= lo,
        "checks_ratio_vs_fast_enforcer_warm": bool(ratios_cpu_warm)
        and None not in ratios_cpu_warm
        and min(ratios_cpu_warm) >= lo,
        "checks_flat": flat_cpu is not None and len(ours_cpu) > 1 and flat_cpu <= hi,
        "checks_flat_warm": flat_cpu_warm is not None and len(ours_cpu_warm) > 1 and flat_cpu_warm <= hi,
    }
    if rel:
        meets["relationship_check_p99"] = (
            max(rel["allowed"]["p99_us"], rel["denied"]["p99_us"]) < TARGETS["relationship_check_p99_us_max"]
        )
        # the load target is for 1,000,000 facts: a smaller run (--quick) does not decide it
        meets["relationship_load"] = (
            rel["load_s"] < TARGETS["relationship_load_s_max"] if rel["relationships"] >= 1_000_000 else None
        )
        meets["relationship_bytes_per_fact"] = (
            rel["memory"]["bytes_per_fact_load"] < TARGETS["relationship_bytes_per_fact_max"]
        )
        lk = rel["lookup_resources"]
        meets["lookup_resources_10k"] = lk["results"] == LOOKUP_RESULTS and lk["max_ms"] < TARGETS["lookup_10k_ms_max"]

    return {
        "meets": meets,
        "ours_checks_per_s_by_size": ours_cps,
        "ours_checks_warm_per_s_by_size": ours_warm,
        "ours_checks_flat_max_over_min": flat,
        "ours_checks_warm_flat_max_over_min": flat_warm,
        "ours_checks_flat_by_round": flat_rounds,
        "ours_checks_warm_flat_by_round": flat_rounds_warm,
        "ratio_ours_vs_best_fast_enforcer_by_size": ratios,
        "ratio_ours_warm_vs_best_fast_enforcer_by_size": ratios_warm,
        "ours_permissions_p95_us_by_size": perm_p95,
        "meets_by_cpu_time": meets_cpu,
        "ratio_cpu_ours_vs_best_fast_enforcer_by_size": ratios_cpu,
        "ratio_cpu_ours_warm_vs_best_fast_enforcer_by_size": ratios_cpu_warm,
        "ours_checks_per_cpu_s_by_size": ours_cpu,
        "ours_checks_warm_per_cpu_s_by_size": ours_cpu_warm,
        "ours_checks_cpu_flat_max_over_min": flat_cpu,
        "ours_checks_cpu_warm_flat_max_over_min": flat_cpu_warm,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="users in total, comma-separated")
    ap.add_argument("--quick", action="store_true", help="fewer requests, shorter casbin budgets, 200k facts")
    ap.add_argument("--requests", type=int, default=20_000, help="check requests per size (ours answers all)")
    ap.add_argument("--perm-calls", type=int, default=2_000, help="permissions(user) calls per size for ours")
    ap.add_argument("--casbin-seconds", type=float, default=15.0, help="time budget for casbin checks per config/size")
    ap.add_argument("--perm-seconds", type=float, default=6.0, help="time budget for casbin permission listings")
    ap.add_argument("--rel-tuples", type=int, default=1_000_000, help="relationship facts (0: skip)")
    ap.add_argument("--rel-checks", type=int, default=10_000, help="allowed and as many denied relationship checks")
    ap.add_argument("--rtypes", type=int, default=100, help="resource types (permissions = rtypes x actions)")
    ap.add_argument("--actions", type=int, default=10, help=f"actions per resource type (<= {len(ACTIONS)})")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5,
                    help="fresh processes for ours and the fastest FastEnforcer per size (each figure their median)")
    ap.add_argument("--profile", action="store_true", help="also cProfile ours (printed to stderr; not timed)")
    ap.add_argument(
        "--gc-freeze",
        action="store_true",
        help="diagnostic: gc.freeze() in every worker after loading (moves the loaded data out of "
        "the collector's reach, as a service could do after start-up)",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        fn = {"ours": worker_ours, "relationships": worker_relationships}.get(args.worker, worker_casbin)
        la0 = os.getloadavg()[0]
        res = fn(args)
        res["loadavg_1m"] = [round(la0, 2), round(os.getloadavg()[0], 2)]
        emit_json(res)
        return 0

    if args.quick:
        if "--sizes" not in sys.argv:
            args.sizes = "1000,10000"
        args.requests, args.perm_calls = min(args.requests, 5_000), min(args.perm_calls, 500)
        args.casbin_seconds, args.perm_seconds = min(args.casbin_seconds, 4.0), min(args.perm_seconds, 2.0)
        args.rel_tuples, args.rel_checks = min(args.rel_tuples, 200_000), min(args.rel_checks, 2_000)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    started = time.perf_counter()
    errors = 0
    per_size: dict[int, dict[str, dict]] = {}
    disagreements: list[dict] = []

    runs, failed = run_rounds(args, sizes, started)
    for n in sizes:
        per_size[n] = {}
        for eng in ENGINES:
            if eng in REPEATED:
                res = None if (n, eng) in failed else pick_median(runs[(n, eng)], eng, n)
            else:
                log(f"[{time.perf_counter() - started:6.1f}s] size {n}: {eng}")
                res = run_worker(args, eng, n)
            if res is None:
                errors += 1
                continue
            per_size[n][eng] = res
            errors += res["expected_errors"]
        e, d = compare_answers(n, per_size[n])
        errors += e
        disagreements += d

    rel = None
    if args.rel_tuples > 0:
        log(f"[{time.perf_counter() - started:6.1f}s] relationships: {args.rel_tuples} tuples")
        rel = run_worker(args, "relationships", None)
        if rel is None:
            errors += 1
        else:
            errors += rel["expected_errors"]

    summary_sizes = [size_row(n, per_size[n]) for n in sizes]
    figs = figures(summary_sizes, runs, sizes, rel)
    print_tables(summary_sizes, rel, figs, errors, args.runs)
    final = {
        "benchmark": "check_engine",
        "sizes": sizes,
        "errors": errors,
        "disagreements": disagreements,
        "targets": TARGETS,
        **figs,
        "results": summary_sizes,
        "relationships": rel,
        "model": {
            "tenants": TENANTS,
            "roles_per_tenant": ROLES_PER_TENANT,
            "permissions_per_role": PERMS_PER_ROLE,
            "permission_universe": args.rtypes * args.actions,
            "base_roles": BASE_ROLES,
            "extends_p": EXTENDS_P,
            "groups_per_tenant": GROUPS_PER_TENANT,
            "group_membership_p": GROUP_P,
            "memberships_per_user": "1-3",
            "casbin_conf": CASBIN_CONF.strip(),
        },
        "settings": {
            "requests": args.requests,
            "perm_calls": args.perm_calls,
            "casbin_seconds": args.casbin_seconds,
            "perm_seconds": args.perm_seconds,
            "rel_tuples": args.rel_tuples,
            "rel_checks": args.rel_checks,
            "seed": args.seed,
            "runs": args.runs,
            "quick": args.quick,
            "python": sys.version.split()[0],
            "pycasbin": _pycasbin_version(),
            "cpus": os.cpu_count(),
        },
        "wall_s": round(time.perf_counter() - started, 1),
    }
    emit_json(final)
    return 1 if errors else 0


def _pycasbin_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("pycasbin")
    except Exception:  # noqa: BLE001
        return None


if __name__ == "__main__":
    sys.exit(main())
