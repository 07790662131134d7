"""Instructions per RBAC check, ours and pycasbin's FastEnforcer, counted by valgrind (cachegrind).

bench/check_engine.py times checks; on this shared 2-core VM its figures move from run to run, and
a check's time at 100,000 users includes waiting on memory (the users' data no longer fits in the
CPU caches). This counts instructions instead: the same number for the same binary and input
however busy the machine is. Whether a check's *work* grows with the number of users shows here;
whether its *time* does shows in check_engine.py; the difference between the two is memory.

Each engine loads the same data set as check_engine.py (RbacData, same seed) twice under
cachegrind: once answering K requests after a warm pass over them, once answering none after the
same warm pass. (difference) / K is the cost of one warm check, set-up and loading excluded. After
loading, each process collects and freezes the garbage collector's objects (gc.freeze(), as the
server does after its load): otherwise a full collection over the loaded data, which one of the two
runs may happen to trigger and the other not, lands in the difference.

    python bench/check_instructions.py [--sizes 1000,100000] [--checks 20000] [--casbin-checks 500]

Needs valgrind. Takes several minutes per size (everything runs about 50x slower under valgrind).
Prints a table, then one JSON object as its last line.
"""
from __future__ import annotations

import argparse
import gc
import re
import subprocess
import sys
import time
from pathlib import Path

from _engine_casbin import CASBIN_CONFIGS, casbin_enforcer, casbin_rules
from _engine_data import RbacData, ours_snapshots
from _machine import require_tool
from _paths import ROOT
from _report import emit_json, log, read_json_line

ENGINES = ("ours", "casbin_fast_dom_obj_act")


def worker(engine: str, size: int, seed: int, checks: int, measured: bool) -> None:
    """Load, warm up on the first `checks` requests, then (when `measured`) answer them again."""
    data = RbacData(size, seed, 100, 10)
    reqs = data.requests(checks, seed)
    if engine == "ours":
        from scim_authz.authz.engine import Engine
        from scim_authz.authz.snapshot_reader import SnapshotReader

        eng = Engine(SnapshotReader(ours_snapshots(data)))
        eng.load_all()

        def ask(t, uid, rt, act):
            return eng.check(t + 1, uid, act, rt, "1").allowed
    else:
        kind, key_order = CASBIN_CONFIGS[engine]
        e = casbin_enforcer(data, kind, key_order, *casbin_rules(data))

        def ask(t, uid, rt, act):
            return bool(e.enforce(uid, data.doms[t], rt, act))
    gc.collect()
    gc.freeze()  # (see the module's docstring), for both engines
    wrong = sum(ask(t, u, rt, a) != exp for t, u, rt, a, exp in reqs)  # warm pass, answers checked
    if measured:
        for t, u, rt, a, _ in reqs:
            ask(t, u, rt, a)
    emit_json({"wrong": wrong})


def count(engine: str, size: int, seed: int, checks: int, measured: bool) -> tuple[int, int]:
    """(instructions of the whole process, answers that disagreed with the data set)."""
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
           sys.executable, str(Path(__file__).resolve()), "--worker", engine, "--size", str(size),
           "--seed", str(seed), "--checks", str(checks)] + (["--measured"] if measured else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    m = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    if proc.returncode != 0 or m is None:
        raise RuntimeError(f"{engine} size={size}: valgrind failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return int(m.group(1).replace(",", "")), read_json_line(proc.stdout)["wrong"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,100000")
    ap.add_argument("--checks", type=int, default=20_000, help="requests ours answers in the measured pass")
    ap.add_argument("--casbin-checks", type=int, default=500, help="the same for the FastEnforcer (100x slower)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--measured", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.size, args.seed, args.checks, args.measured)
        return 0
    require_tool("valgrind", "apt-get install -y valgrind")

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    started = time.perf_counter()
    rows, wrong = [], 0
    for size in sizes:
        row = {"users": size}
        for engine in ENGINES:
            k = args.checks if engine == "ours" else args.casbin_checks
            log(f"[{time.perf_counter() - started:6.0f}s] {engine} at {size} users: {k} checks, under cachegrind")
            base, w0 = count(engine, size, args.seed, k, False)
            total, w1 = count(engine, size, args.seed, k, True)
            wrong += w0 + w1
            row[engine] = {"checks": k, "instructions_per_check": round((total - base) / k)}
        row["casbin_over_ours"] = round(row[ENGINES[1]]["instructions_per_check"]
                                        / row["ours"]["instructions_per_check"], 1)
        rows.append(row)

    def growth(engine: str) -> float:
        per = [r[engine]["instructions_per_check"] for r in rows]
        return round(max(per) / min(per), 3)

    print("Instructions per warm RBAC check (valgrind cachegrind; set-up and loading subtracted)")
    print(f"  {'users':>7} {'ours':>12} {'FastEnforcer':>14} {'FastEnforcer/ours':>18}")
    for r in rows:
        print(f"  {r['users']:>7} {r['ours']['instructions_per_check']:>12,} "
              f"{r[ENGINES[1]]['instructions_per_check']:>14,} {r['casbin_over_ours']:>17}x")
    print(f"  growth over sizes (max/min): ours {growth('ours')}, FastEnforcer {growth(ENGINES[1])}")
    print(f"  answers that disagreed with the data set: {wrong}")
    emit_json({"benchmark": "check_instructions", "sizes": sizes, "rows": rows,
               "ours_growth_max_over_min": growth("ours"),
               "fast_enforcer_growth_max_over_min": growth(ENGINES[1]),
               "errors": wrong, "wall_s": round(time.perf_counter() - started, 1)})
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
