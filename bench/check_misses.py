"""Cache misses per RBAC check, ours, counted by valgrind (callgrind) around the checks alone.

check_instructions.py shows that a check's work does not grow from 1,000 to 100,000 users; its
time still does. This shows why: the data misses per check in a simulated last-level cache,
counted only while the checks run (a small C shim turns callgrind's instrumentation on just
before the measured pass and dumps the counts just after it). Run with a 2 MB cache (this VM's
L2) and a 32 MB one (its L3): what misses the second goes to memory.

Each size loads check_engine.py's data set (RbacData, same seed), answers K requests once (answers
checked against the data set), collects garbage, then answers the same requests in another order:
that second pass is counted. Needs valgrind and gcc (with valgrind's headers).

    python bench/check_misses.py [--sizes 1000,100000] [--checks 20000] [--ll-mb 2,32]

Prints a table, then one JSON object as its last line.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import glob
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _engine_data import RbacData, ours_snapshots
from _machine import require_tool
from _paths import ROOT
from _report import emit_json, log, read_json_line

SHIM = """#include <valgrind/callgrind.h>
void start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void stop(void) { CALLGRIND_DUMP_STATS_AT("measured"); CALLGRIND_STOP_INSTRUMENTATION; }
"""
EVENTS = ("Ir", "DLmr", "DLmw")


def build_shim(workdir: str) -> str:
    src, lib = os.path.join(workdir, "shim.c"), os.path.join(workdir, "shim.so")
    Path(src).write_text(SHIM)
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", lib, src], check=True)
    return lib


def worker(size: int, seed: int, checks: int, shim: str) -> None:
    from scim_authz.authz.engine import Engine
    from scim_authz.authz.snapshot_reader import SnapshotReader

    lib = ctypes.CDLL(shim)
    data = RbacData(size, seed, 100, 10)
    reqs = data.requests(checks, seed)
    eng = Engine(SnapshotReader(ours_snapshots(data)))
    eng.load_all()
    check = eng.check
    wrong = sum(check(t + 1, u, a, rt, "1").allowed != exp for t, u, rt, a, exp in reqs)
    gc.collect()
    random.Random(seed).shuffle(reqs)
    lib.start()
    for t, u, rt, a, _ in reqs:
        check(t + 1, u, a, rt, "1")
    lib.stop()
    emit_json({"wrong": wrong})


def measure(size: int, seed: int, checks: int, ll_mb: int, shim: str, workdir: str) -> tuple[dict, int]:
    out = os.path.join(workdir, f"cg.{size}.{ll_mb}")
    cmd = ["valgrind", "--tool=callgrind", "--cache-sim=yes", f"--LL={ll_mb * 2**20},16,64",
           "--instr-atstart=no", f"--callgrind-out-file={out}", sys.executable, str(Path(__file__).resolve()),
           "--worker", "--size", str(size), "--seed", str(seed), "--checks", str(checks), "--shim", shim]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    dumps = glob.glob(out + ".*")  # the dump made at stop(); the file made at exit has nothing in it
    if proc.returncode != 0 or not dumps:
        raise RuntimeError(f"size={size}: valgrind failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    events = summary = None
    for line in Path(dumps[0]).read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("summary:"):
            summary = [int(x) for x in line.split()[1:]]
    if events is None or summary is None:
        raise RuntimeError(f"size={size}: no counts in {dumps[0]}")
    counts = dict(zip(events, summary, strict=False))
    per = {e: round(counts[e] / checks, 2) for e in EVENTS}
    per["misses"] = round(per["DLmr"] + per["DLmw"], 2)
    return per, read_json_line(proc.stdout)["wrong"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,100000")
    ap.add_argument("--checks", type=int, default=20_000)
    ap.add_argument("--ll-mb", default="2,32", help="simulated last-level cache sizes, MB, comma-separated")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--shim", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.size, args.seed, args.checks, args.shim)
        return 0
    require_tool("valgrind", "apt-get install -y valgrind")  # it brings valgrind/callgrind.h for the shim too
    require_tool("gcc", "apt-get install -y gcc")

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    lls = [int(s) for s in args.ll_mb.split(",") if s.strip()]
    started = time.perf_counter()
    rows, wrong = [], 0
    with tempfile.TemporaryDirectory() as workdir:
        shim = build_shim(workdir)
        for size in sizes:
            for ll in lls:
                log(f"[{time.perf_counter() - started:6.0f}s] {size} users, {ll} MB cache: {args.checks} checks")
                per, w = measure(size, args.seed, args.checks, ll, shim, workdir)
                wrong += w
                rows.append({"users": size, "ll_mb": ll, **per})

    print("Ours: per warm RBAC check, counted around the checks only (valgrind callgrind)")
    print(f"  {'users':>7} {'cache MB':>9} {'instructions':>13} {'read misses':>12} {'write misses':>13} "
          f"{'all misses':>11}")
    for r in rows:
        print(f"  {r['users']:>7} {r['ll_mb']:>9} {r['Ir']:>13,.0f} {r['DLmr']:>12} {r['DLmw']:>13} {r['misses']:>11}")
    print("  (a write miss here is mostly a reference count changed on an object not in the cache)")
    print(f"  answers that disagreed with the data set: {wrong}")
    emit_json({"benchmark": "check_misses", "sizes": sizes, "ll_mb": lls, "checks": args.checks,
               "rows": rows, "errors": wrong, "wall_s": round(time.perf_counter() - started, 1)})
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
