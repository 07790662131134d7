"""check_engine's casbin side: the data set as casbin rules, the enforcers as the README tunes them,
and the worker that times them."""
from __future__ import annotations

import gc
import time

from _engine_data import TENANTS, RbacData, perm_hash
from _engine_worker import expect_errors, lat_stats, worker_data
from _machine import maxrss_kb
from _report import log

CASBIN_CONF = """
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
"""

CASBIN_CONFIGS = {
    "casbin_fast_dom_obj_act": ("FastEnforcer", [1, 2, 3]),
    "casbin_fast_dom_obj": ("FastEnforcer", [1, 2]),
    "casbin_enforcer": ("Enforcer", None),
}
# get_implicit_permissions_for_user is wrong on a FastEnforcer whose cache key has 3 fields (see README).
PERMISSIONS_ENGINES = ("ours", "casbin_fast_dom_obj", "casbin_enforcer")


class _MemoryAdapter:
    """Casbin adapter over rule lists in memory (what load_policy_line does, minus the parsing)."""

    def __init__(self, p_rules, g_rules):
        self.p_rules, self.g_rules = p_rules, g_rules

    def load_policy(self, model):
        p = model.model["p"]["p"].policy
        for rule in self.p_rules:
            p.append(rule)
        g = model.model["g"]["g"].policy
        for rule in self.g_rules:
            g.append(rule)


def casbin_rules(data: RbacData) -> tuple[list[list[str]], list[list[str]]]:
    """The data set as casbin's p (role, domain, type, action) and g (member, role, domain) rules."""
    p_rules, g_rules = [], []
    for t in range(TENANTS):
        dom = data.doms[t]
        for rk, (perms, ext) in data.roles[t].items():
            for perm in perms:
                rt, act = perm.split(":", 1)
                p_rules.append([rk, dom, rt, act])
            for b in ext:
                g_rules.append([rk, b, dom])
        for gid, rks in data.groups[t].items():
            for rk in rks:
                g_rules.append([gid, rk, dom])
    for uid, t, gs, rs in data.users:
        dom = data.doms[t]
        for gid in gs:
            g_rules.append([uid, gid, dom])
        for rk in rs:
            g_rules.append([uid, rk, dom])
    return p_rules, g_rules


def casbin_enforcer(data: RbacData, kind: str, key_order, p_rules, g_rules):
    """A loaded casbin Enforcer or FastEnforcer (cache key order `key_order`), tuned as the README says."""
    import casbin
    from casbin.model import FastModel, Model
    from casbin.persist.adapter import Adapter

    adapter = type("MemoryAdapter", (_MemoryAdapter, Adapter), {})(p_rules, g_rules)
    if kind == "FastEnforcer":
        m = FastModel(key_order)
        m.load_model_from_text(CASBIN_CONF)
        e = casbin.FastEnforcer(m, None, cache_key_order=key_order)
    else:
        m = Model()
        m.load_model_from_text(CASBIN_CONF)
        e = casbin.Enforcer(m, None)
    e.get_role_manager().add_matching_func(None)  # before any link exists: keeps add_link O(1)
    e.set_adapter(adapter)
    e.load_policy()
    rm = e.get_role_manager()
    for dom in data.doms:  # the DomainManager builds a domain's RoleManager on its first use: do it now
        rm.has_link("nobody", "nothing", dom)
    return e


def worker_casbin(args) -> dict:
    kind, key_order = CASBIN_CONFIGS[args.worker]
    data, reqs, pusers, base = worker_data(args)

    t0 = time.perf_counter()
    p_rules, g_rules = casbin_rules(data)
    rules_build_s = time.perf_counter() - t0

    gc.collect()
    t0 = time.perf_counter()
    e = casbin_enforcer(data, kind, key_order, p_rules, g_rules)
    load_s = time.perf_counter() - t0
    log(f"  {args.worker} n={args.size}: {len(p_rules)} p + {len(g_rules)} g rules loaded in {load_s:.2f}s")

    if args.gc_freeze:
        gc.freeze()
    enforce = e.enforce
    pc = time.perf_counter_ns
    budget = args.casbin_seconds * 1e9
    lat, answers = [], []
    spent = 0
    gc.collect()
    c0 = time.process_time()
    for t, uid, rt, act, _exp in reqs:
        dom = data.doms[t]
        a = pc()
        ok = enforce(uid, dom, rt, act)
        b = pc()
        lat.append(b - a)
        answers.append(bool(ok))
        spent += b - a
        if spent > budget:
            break
    cpu = time.process_time() - c0
    errors = expect_errors(args.worker, answers, reqs)
    log(
        f"  {args.worker} n={args.size}: {len(answers)}/{len(reqs)} checks in {spent / 1e9:.1f}s, "
        f"{errors} errors vs expected"
    )

    result = {
        "engine": args.worker,
        "size": args.size,
        "config": {
            "class": f"casbin.{kind}",
            "cache_key_order": key_order,
            "matching_func": None,
            "loaded_by": "in-memory adapter",
        },
        "rules": {"p": len(p_rules), "g": len(g_rules)},
        "rules_build_s": round(rules_build_s, 3),
        "load_s": round(load_s, 4),
        "checks": {
            **lat_stats(lat, cpu_s=cpu),
            "answers": "".join("1" if x else "0" for x in answers),
            "capped": len(answers) < len(reqs),
        },
    }
    perr = 0
    if args.worker in PERMISSIONS_ENGINES:
        plat, hashes = [], []
        pbudget = args.perm_seconds * 1e9
        spent = 0
        gc.collect()
        c0 = time.process_time()
        for t, uid, exp_hash in pusers:
            dom = data.doms[t]
            a = pc()
            rules = e.get_implicit_permissions_for_user(uid, dom)
            b = pc()
            plat.append(b - a)
            spent += b - a
            h = perm_hash({f"{r[2]}:{r[3]}" for r in rules})
            hashes.append(h)
            if h != exp_hash:
                perr += 1
                if perr <= 10:
                    log(f"ERROR {args.worker}: get_implicit_permissions_for_user({uid}, {dom}) differs from expected")
            if spent > pbudget:
                break
        result["permissions"] = {
            **lat_stats(plat, (50, 95, 99), cpu_s=time.process_time() - c0),
            "hashes": hashes,
            "capped": len(plat) < len(pusers),
        }
        log(f"  {args.worker} n={args.size}: {len(plat)} permission listings in {spent / 1e9:.1f}s")
    else:
        # Not measured: FastPolicy's whole-policy iteration assumes exactly two cache keys. Show what
        # the call returns for one user (not counted as an error, reported as a note).
        t, uid, _h = pusers[0]
        i = int(uid[1:])
        rules = e.get_implicit_permissions_for_user(uid, data.doms[t])
        result["permissions_probe"] = {
            "user": uid,
            "rules_returned": len(rules),
            "rules_expected": len(data.effective(i)[1]),
            "sample": [list(r) for r in rules[:2]],
        }
    result["expected_errors"] = errors + perr
    peak = maxrss_kb()
    result["memory"] = {
        "method": "ru_maxrss(peak) - VmRSS after generating the engine-neutral data set",
        "baseline_kb": base,
        "peak_kb": peak,
        "delta_mb": round((peak - base) / 1024, 1),
    }
    return result
