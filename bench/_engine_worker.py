"""What check_engine's workers share, and ours' worker: Engine(SnapshotReader(...)) answering the
requests twice (a first pass right after load_all, then a warm one) and listing permissions."""
from __future__ import annotations

import gc
import time

from _engine_data import RbacData, ours_snapshots, perm_hash
from _machine import maxrss_kb, rss_kb
from _report import log
from _stats import percentile


def lat_stats(lat_ns: list[int], percentiles=(50, 99), cpu_s: float | None = None) -> dict:
    """Count, calls/s (calls / sum of per-call wall times), percentiles in µs, and calls per CPU
    second of the whole loop (less sensitive to other processes on the machine)."""
    total = sum(lat_ns)
    out = {
        "n": len(lat_ns),
        "total_s": round(total / 1e9, 4),
        "per_s": round(len(lat_ns) / (total / 1e9), 1) if total else None,
        "per_cpu_s": round(len(lat_ns) / cpu_s, 1) if cpu_s else None,
    }
    for p in percentiles:
        v = percentile(lat_ns, p)
        out[f"p{p}_us"] = None if v is None else round(v / 1000, 2)
    return out


def expect_errors(name: str, answers: list[bool], reqs) -> int:
    """How many answers differ from the generator's expected value (the first ten are logged)."""
    errors = 0
    for k, (ok, req) in enumerate(zip(answers, reqs, strict=False)):
        if ok != req[4]:
            errors += 1
            if errors <= 10:
                log(f"ERROR {name}: request {k} {req[:4]} answered {ok}, expected {req[4]}")
    return errors


def worker_data(args) -> tuple[RbacData, list, list, int]:
    """A worker's data set, requests and permission users, and its RSS once they exist (the
    baseline of its peak-memory figure)."""
    data = RbacData(args.size, args.seed, args.rtypes, args.actions)
    reqs = data.requests(args.requests, args.seed)
    pusers = data.permission_users(args.perm_calls, args.seed)
    gc.collect()
    return data, reqs, pusers, rss_kb()


def worker_ours(args) -> dict:
    from scim_authz.authz.engine import Engine
    from scim_authz.authz.snapshot_reader import SnapshotReader

    data, reqs, pusers, base = worker_data(args)

    t0 = time.perf_counter()
    snaps = ours_snapshots(data)
    snapshot_build_s = time.perf_counter() - t0

    engine = Engine(SnapshotReader(snaps))
    gc.collect()
    t0 = time.perf_counter()
    engine.load_all()
    load_s = time.perf_counter() - t0
    log(f"  ours n={args.size}: snapshots built in {snapshot_build_s:.2f}s, load_all {load_s:.3f}s")

    check = engine.check
    pc = time.perf_counter_ns

    def run_checks():
        lat, answers = [], []
        gc.collect()
        c0 = time.process_time()
        for t, uid, rt, act, _exp in reqs:
            a = pc()
            d = check(t + 1, uid, act, rt, "1")
            b = pc()
            lat.append(b - a)
            answers.append(d.allowed)
        return lat, answers, time.process_time() - c0

    if args.gc_freeze:
        gc.freeze()
    lat1, ans1, cpu1 = run_checks()  # first pass: load_all computed the grants; the data is not yet in the cache
    cold_users = sum(len(st.grants_cache) for st in engine.stores.values())
    lat2, ans2, cpu2 = run_checks()  # second pass: every user's grants cached
    errors = expect_errors("ours", ans1, reqs) + expect_errors("ours(warm)", ans2, reqs)
    log(f"  ours n={args.size}: {len(reqs)} checks x2, {errors} errors vs expected")

    permissions = engine.permissions
    plat, hashes, perr = [], [], 0
    gc.collect()
    c0 = time.process_time()
    for t, uid, exp_hash in pusers:
        a = pc()
        res = permissions(t + 1, uid)
        b = pc()
        plat.append(b - a)
        h = perm_hash(res["permissions"])
        hashes.append(h)
        if h != exp_hash:
            perr += 1
            if perr <= 10:
                log(f"ERROR ours: permissions({t + 1}, {uid}) differ from the expected set")
    pcpu = time.process_time() - c0
    peak = maxrss_kb()
    result = {
        "engine": "ours",
        "size": args.size,
        "data": data.counts(),
        "snapshot_build_s": round(snapshot_build_s, 3),
        "load_s": round(load_s, 4),
        "checks": {
            **lat_stats(lat1, cpu_s=cpu1),
            "answers": "".join("1" if x else "0" for x in ans1),
            "users_with_grants_computed": cold_users,
        },
        "checks_warm": {**lat_stats(lat2, cpu_s=cpu2)},
        "permissions": {**lat_stats(plat, (50, 95, 99), cpu_s=pcpu), "hashes": hashes},
        "expected_errors": errors + perr,
        "memory": {
            "method": "ru_maxrss(peak) - VmRSS after generating the engine-neutral data set",
            "baseline_kb": base,
            "peak_kb": peak,
            "delta_mb": round((peak - base) / 1024, 1),
        },
    }
    if args.profile:
        profile("ours checks (first pass, fresh engine)", lambda: _fresh_ours_checks(snaps, reqs))
        profile("ours checks (warm)", lambda: [check(t + 1, u, a, r, "1") for t, u, r, a, _ in reqs])
        profile("ours permissions", lambda: [permissions(t + 1, u) for t, u, _ in pusers])
    return result


def _fresh_ours_checks(snaps, reqs):
    from scim_authz.authz.engine import Engine
    from scim_authz.authz.snapshot_reader import SnapshotReader

    e = Engine(SnapshotReader(snaps))
    e.load_all()
    for t, u, r, a, _ in reqs:
        e.check(t + 1, u, a, r, "1")


def profile(title: str, fn) -> None:
    import cProfile
    import io
    import pstats

    pr = cProfile.Profile()
    pr.enable()
    fn()
    pr.disable()
    buf = io.StringIO()
    st = pstats.Stats(pr, stream=buf).strip_dirs().sort_stats("tottime")
    st.print_stats(18)
    log(f"\n===== cProfile: {title} (sorted by tottime) =====\n" + buf.getvalue())
