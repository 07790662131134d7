"""check_engine's relationship part (ours only): ~1,000,000 facts in one tenant, `check` three hops
deep, allowed and denied, `lookup_resources` over 10,000 results, and memory per fact."""
from __future__ import annotations

import gc
import random
import time

from _engine_worker import lat_stats, profile
from _machine import rss_kb
from _report import log
from _stats import middle

REL_SCHEMA = """
entity folder {
  relation parent @folder
  relation viewer @group#member
  permission view = viewer or parent.view
}
entity document {
  relation parent @folder
  permission view = parent.view
}
"""


LOOKUP_RESULTS = 10_000


def worker_relationships(args) -> dict:
    from scim_authz.authz.engine import Engine
    from scim_authz.authz.model import GroupInfo, UserInfo
    from scim_authz.authz.schema_dsl import parse_schema
    from scim_authz.authz.snapshot_reader import SnapshotReader
    from scim_authz.authz.store import Snapshot, TenantRow

    gc.collect()
    base0 = rss_kb()
    total = args.rel_tuples
    n_docs, n_leaf, n_view = int(total * 0.3), int(total * 0.5), int(total * 0.2)
    n_top = n_view // 2  # two viewer groups per top-level folder
    n_users, n_groups, per_user = max(100, total // 50), max(50, total // 100), 5
    rng = random.Random(f"rel-{args.seed}-{total}")
    users = [f"ru{i}" for i in range(n_users)]
    groups = [f"rg{j}" for j in range(n_groups)]
    user_groups = [rng.sample(range(n_groups), per_user) for _ in range(n_users)]
    memberships = [(groups[g], users[u], "User") for u in range(n_users) for g in user_groups[u]]
    top_viewers = [rng.sample(range(n_groups), 2) for _ in range(n_top)]
    leaf_parent = [rng.randrange(n_top) for _ in range(n_leaf)]
    doc_parent = [rng.randrange(n_leaf) for _ in range(n_docs)]
    rels = [("folder", f"ft{i}", "viewer", "group", groups[g], "member") for i in range(n_top) for g in top_viewers[i]]
    rels += [("folder", f"fl{i}", "parent", "folder", f"ft{leaf_parent[i]}", "") for i in range(n_leaf)]
    rels += [("document", f"d{i}", "parent", "folder", f"fl{doc_parent[i]}", "") for i in range(n_docs)]
    # For lookup_resources: one user whose group views a folder of LOOKUP_RESULTS documents, among all
    # the others (the lookup must find exactly those, whatever else the tenant holds).
    rels += [("folder", "fbig", "viewer", "group", "lookup-group", "member")]
    rels += [("document", f"big{i}", "parent", "folder", "fbig", "") for i in range(LOOKUP_RESULTS)]

    # Requests: allowed = user -> one of its groups -> a top folder that group views -> a document
    # under it (document -> leaf folder -> top folder -> group member: three hops); denied = a
    # random document none of whose top folder's viewer groups holds the user.
    tops_by_group: dict[int, list[int]] = {}
    for i, vs in enumerate(top_viewers):
        for g in vs:
            tops_by_group.setdefault(g, []).append(i)
    docs_by_top: dict[int, list[int]] = {}
    for d, leaf in enumerate(doc_parent):
        docs_by_top.setdefault(leaf_parent[leaf], []).append(d)
    allowed, denied = [], []
    while len(allowed) < args.rel_checks:
        u = rng.randrange(n_users)
        tops = tops_by_group.get(rng.choice(user_groups[u]))
        if not tops:
            continue
        docs = docs_by_top.get(rng.choice(tops))
        if docs:
            allowed.append((users[u], f"d{rng.choice(docs)}"))
    while len(denied) < args.rel_checks:
        u, d = rng.randrange(n_users), rng.randrange(n_docs)
        if not set(top_viewers[leaf_parent[doc_parent[d]]]) & set(user_groups[u]):
            denied.append((users[u], f"d{d}"))
    del tops_by_group, docs_by_top, user_groups, top_viewers, leaf_parent, doc_parent

    snap = Snapshot(TenantRow(1, "rel", "hybrid", {}, 1))
    snap.users = [UserInfo(u, f"{u}@example.com", None, True, u) for u in users] + \
        [UserInfo("lookup-user", "lookup-user@example.com", None, True, "lookup-user")]
    snap.groups = [GroupInfo(g, g) for g in groups] + [GroupInfo("lookup-group", "lookup-group")]
    snap.memberships = memberships + [("lookup-group", "lookup-user", "User")]
    snap.relationships = rels
    snap.schema, snap.schema_version = parse_schema(REL_SCHEMA), 1
    del users, groups
    facts = len(rels) + len(memberships)
    gc.collect()
    base1 = rss_kb()
    engine = Engine(SnapshotReader([snap]))
    t0, c0 = time.perf_counter(), time.process_time()
    engine.load_all()
    load_s, load_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    gc.collect()
    after_load = rss_kb()
    log(f"  relationships: {len(rels)} tuples + {len(memberships)} memberships loaded in {load_s:.2f}s")
    diag = {}
    if args.profile:  # on the full input, before it is dropped; the extra engines are freed again
        profile(
            "ours relationship load_all (1 tenant, 1 fresh engine)", lambda: Engine(SnapshotReader([snap])).load_all()
        )
        gc.collect()
        gc.disable()
        t0 = time.perf_counter()
        Engine(SnapshotReader([snap])).load_all()
        diag["load_s_with_gc_disabled"] = round(time.perf_counter() - t0, 3)
        gc.enable()
        gc.collect()
        log(f"  relationships: load_all with the collector disabled (diagnostic): {diag['load_s_with_gc_disabled']}s")
    # Drop the input (a database read would free it too) and see what the process keeps.
    snap.relationships, snap.memberships = [], []
    del rels, memberships
    gc.collect()
    after_drop = rss_kb()

    if args.gc_freeze:
        gc.freeze()
    check = engine.check
    pc = time.perf_counter_ns

    def run(cases, expected):
        lat, errs = [], 0
        gc.collect()
        c0 = time.process_time()
        for u, d in cases:
            a = pc()
            dec = check(1, u, "view", "document", d)
            b = pc()
            lat.append(b - a)
            if dec.allowed != expected:
                errs += 1
                if errs <= 10:
                    log(
                        f"ERROR ours relationships: view document:{d} for {u} = {dec.allowed}, expected {expected}"
                        f" ({dec.reason})"
                    )
        return lat, errs, time.process_time() - c0

    la, ea, ca = run(allowed, True)
    ld, ed, cd = run(denied, False)

    # lookup_resources with LOOKUP_RESULTS answers, each time with the lookup cache emptied (a new
    # revision empties it too), so every run does the whole walk and every check behind it.
    store = engine.stores[1]
    lookup_lat, lookup_n = [], 0
    for _ in range(7):
        store.lookup_cache = {}
        a = pc()
        _rev, found = engine.lookup_resources(1, "lookup-user", "view", "document")
        lookup_lat.append(pc() - a)
        lookup_n = len(found)
    if lookup_n != LOOKUP_RESULTS:
        ea += 1
        log(f"ERROR ours lookup_resources: {lookup_n} documents, expected {LOOKUP_RESULTS}")
    sample = check(1, allowed[0][0], "view", "document", allowed[0][1])
    log(f"  relationships: {len(allowed)} allowed + {len(denied)} denied checks, {ea + ed} errors")
    result = {
        "engine": "ours",
        "facts": facts,
        "relationships": facts - n_users * per_user,
        "memberships": n_users * per_user,
        "shape": {
            "documents": n_docs,
            "leaf_folders": n_leaf,
            "top_folders": n_top,
            "viewer_tuples": n_view,
            "users": n_users,
            "groups": n_groups,
            "groups_per_user": per_user,
        },
        "load_s": round(load_s, 3),
        "load_cpu_s": round(load_cpu_s, 3),
        "allowed": lat_stats(la, cpu_s=ca),
        "denied": lat_stats(ld, cpu_s=cd),
        "allowed_path_sample": list(sample.path),
        "lookup_resources": {"results": lookup_n, "runs": len(lookup_lat),
                             "p50_ms": round(middle(lookup_lat) / 1e6, 2),
                             "max_ms": round(max(lookup_lat) / 1e6, 2)},
        "expected_errors": ea + ed,
        "memory": {
            "rss_growth_during_load_mb": round((after_load - base1) / 1024, 1),
            "bytes_per_fact_load": round((after_load - base1) * 1024 / facts, 1),
            "rss_kept_after_dropping_input_mb": round((after_drop - base0) / 1024, 1),
            "bytes_per_fact_kept": round((after_drop - base0) * 1024 / facts, 1),
            "method": "VmRSS after load_all - VmRSS just before it (input tuples and id strings already "
            "resident); 'kept' = VmRSS after freeing the input - VmRSS before generating anything "
            "(includes id strings, user/group objects and allocator slack)",
        },
    }
    if diag:
        result["diagnostics"] = diag
    if args.profile:
        profile(
            "ours relationship checks (allowed + denied)",
            lambda: [check(1, u, "view", "document", d) for u, d in allowed + denied],
        )
    return result
