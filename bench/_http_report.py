"""check_http's report: the rows of the JSON line, compactly, and the tables."""
from __future__ import annotations

from _report import fmt
from _stats import rnd

ROW_KEYS = ("status", "rounds", "requests", "seconds", "req_s", "p50_ms", "p75_ms", "p90_ms", "p99_ms", "mean_ms",
            "max_ms", "errors", "error_total", "req_s_rounds", "p99_ms_rounds", "loadavg_before", "server_cpu_s",
            "server_cpu_us_per_req", "wrk_cpu_s", "other_cpu_cores", "worker_processes", "verify_ok", "verify",
            "decision_log", "checks_s", "error", "command")
PACED_KEYS = ("status", "offered_req_s", "achieved_share", "rate_reached", "rounds", "requests", "seconds", "req_s",
              "p50_ms", "p75_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms", "errors", "error_total", "req_s_rounds",
              "p99_ms_rounds", "loadavg_before", "server_cpu_s", "server_cpu_us_per_req", "wrk_cpu_s",
              "other_cpu_cores", "error")
ROUND_KEYS = ("round", "status", "requests", "req_s", "p50_ms", "p99_ms", "error_total", "loadavg_before",
              "server_cpu_us_per_req", "other_cpu_cores", "error")


def clean_row(r: dict, keys: tuple = ROW_KEYS) -> dict:
    out = {}
    for k in keys:
        if k in r:
            v = r[k]
            out[k] = round(v, 3) if isinstance(v, float) else v
    if "verify" in out and "wrong" in out["verify"] and isinstance(out["verify"]["wrong"], list) \
            and not out["verify"]["wrong"]:
        out["verify"] = {k: v for k, v in out["verify"].items() if k != "wrong"}
    return out


def clean_pair(p: dict) -> dict:
    return {"config": p["config"], "label": p["label"], "env": p["env"], "settings": p["settings"],
            "ours": clean_row(p["results"].get("ours", {})), "bare": clean_row(p["results"].get("bare", {})),
            "ratio_req_s": rnd(p.get("ratio_req_s"), 3), "ratio_p99": rnd(p.get("ratio_p99"), 3),
            "ratio_cpu_per_req": rnd(p.get("ratio_cpu_per_req"), 3), "ratio_req_s_rounds": p.get("ratio_req_s_rounds"),
            "rounds": {k: [_clean_round(r) for r in v] for k, v in p.get("rounds", {}).items()},
            **({"paced": {k: clean_row(v, PACED_KEYS) for k, v in p["paced"].items()},
                "paced_offered_req_s": p["paced_offered_req_s"], "paced_connections": p["paced_connections"],
                "paced_delay_ms": p["paced_delay_ms"]} if "paced" in p else {})}


def _clean_round(r: dict) -> dict:
    """A round, compactly: its verification only when it failed (the pooled row says verify_ok)."""
    out = clean_row(r, ROUND_KEYS)
    if r.get("verify") and not r["verify"].get("ok"):
        out["verify"] = r["verify"]
    return out


def _log_note(dl: dict | None) -> str:
    if not dl or dl.get("ok"):
        return ""
    return f"  (decision log: {dl['rows_added']} rows for >= {dl['checks_answered_at_least']} answered checks)"


def print_paced_table(result: dict, args) -> None:
    """The paced runs: the achieved rate is what the server got, which is the load its p99 is at."""
    pairs = [p for p in result["pairs"] if "paced" in p]
    if not pairs:
        return
    p0 = pairs[0]
    print()
    print(f"POST /v1/check at a paced {p0['paced_offered_req_s']:,} req/s offered (wrk -t{args.threads} "
          f"-c{p0['paced_connections']}, delay {p0['paced_delay_ms']} ms per connection)")
    hdr = (f"{'config':<30} {'server':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}  "
           f"{'req/s per round':<20} status")
    print(hdr)
    print("-" * len(hdr))
    for p in pairs:
        first = True
        for kind in ("ours", "bare"):
            r = p["paced"][kind]
            print(f"{(p['label'] if first else ''):<30} {kind:<10} {fmt(r.get('req_s'), '8.0f')} "
                  f"{fmt(r.get('p50_ms'), '8.2f')} {fmt(r.get('p99_ms'), '8.2f')} {fmt(r.get('max_ms'), '8.2f')} "
                  f"{fmt(r.get('error_total'), '6d')}  "
                  f"{'/'.join(f'{x:.0f}' for x in r.get('req_s_rounds') or []) or '-':<20} {r.get('status', '-')}")
            first = False


def print_table(result: dict, args) -> None:
    d = result["dataset"]
    w = result["workload"]
    print(f"POST /v1/check: ours vs bare Flask, both gunicorn with config/gunicorn.conf.py; wrk {w['wrk']}")
    print(f"tenant: {d['users']} users, {d['roles']} roles x {d['permissions_per_role']} permissions, "
          f"{d['groups']} SCIM groups ({d['nested_groups']} nesting others), {d['group_mappings']} group mappings, "
          f"{d['direct_assignments']} direct assignments; {w['check_bodies']} check bodies, "
          f"{w['allowed_share']:.0%} allowed")
    hdr = (f"{'config':<30} {'server':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
           f"{'CPU us/req':>10} {'others':>6}  {'load1 before rounds':<20} {'req/s per round':<20} status")
    print()
    print(hdr)
    print("-" * len(hdr))
    for p in result["pairs"]:
        first = True
        for kind in ("ours", "bare"):
            r = p[kind]
            print(f"{(p['label'] if first else ''):<30} {kind:<10} {fmt(r.get('req_s'), '8.0f')} "
                  f"{fmt(r.get('p50_ms'), '8.2f')} {fmt(r.get('p99_ms'), '8.2f')} {fmt(r.get('error_total'), '6d')} "
                  f"{fmt(r.get('server_cpu_us_per_req'), '10.0f')} {fmt(r.get('other_cpu_cores'), '6.2f')}  "
                  f"{'/'.join(x.split()[0] for x in r.get('loadavg_before') or []) or '-':<20} "
                  f"{'/'.join(f'{x:.0f}' for x in r.get('req_s_rounds') or []) or '-':<20} {r.get('status', '-')}"
                  f"{_log_note(r.get('decision_log'))}")
            first = False
        print(f"{'':<30} {'ours/bare':<10} {fmt(p['ratio_req_s'], '8.2f')} {'':>8} {fmt(p['ratio_p99'], '8.2f')} "
              f"{'':>6} {fmt(p['ratio_cpu_per_req'], '10.2f')} {'':>6}  {'':<20} "
              f"{'/'.join(f'{x:.2f}' for x in p.get('ratio_req_s_rounds') or []) or '-':<20}")
    print_paced_table(result, args)
    print()
    print(f"POST /v1/check/bulk, {args.bulk_size} checks per request, ours only; wrk {w['wrk_bulk']}")
    hdr = (f"{'config':<30} {'req/s':>7} {'checks/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
           f"{'others':>6}  {'loadavg before':<16} status")
    print(hdr)
    print("-" * len(hdr))
    for b, p in zip(result["bulk"], result["pairs"], strict=False):
        print(f"{p['label']:<30} {fmt(b.get('req_s'), '7.1f')} {fmt(b.get('checks_s'), '9.0f')} "
              f"{fmt(b.get('p50_ms'), '8.1f')} {fmt(b.get('p99_ms'), '8.1f')} {fmt(b.get('error_total'), '6d')} "
              f"{fmt(b.get('other_cpu_cores'), '6.2f')}  {' '.join((b.get('loadavg_before') or '-').split()[:3]):<16} "
              f"{b.get('status', '-')}")
    h, m, t = result["headline"], result["meets"], result["targets"]
    print()
    print(f"targets (headline: {h['config']}):")
    print(f"  ours >= {t['ours_req_s_min']} req/s: {fmt(h['ours_req_s'], '.0f')}  "
          f"{'met' if m['ours_req_s'] else 'MISSED'}")
    print(f"  ours p99 < {t['ours_p99_ms_max']} ms at saturation (wrk -c{args.connections}): "
          f"{fmt(h['ours_p99_ms'], '.2f')}  {'met' if m['ours_p99_ms'] else 'MISSED'}")
    if "ours_p99_ms_paced" in m:
        print(f"  ours p99 < {t['ours_p99_ms_max']} ms at {h['paced_offered_req_s']:,} req/s offered "
              f"(achieved {fmt(h['paced_ours_req_s'], ',.0f')}): {fmt(h['paced_ours_p99_ms'], '.2f')}  "
              f"{'met' if m['ours_p99_ms_paced'] else 'MISSED'}")
    else:
        print(f"  ours p99 < {t['ours_p99_ms_max']} ms at a paced rate: not measured (--paced-rate 0)")
    print(f"  ours/bare >= {t['ratio_vs_bare_min']:.0%}: {fmt(h['ratio_req_s'], '.1%')}  "
          f"{'met' if m['ratio_vs_bare'] else 'MISSED'}")
    print(f"  bulk >= {t['bulk_checks_s_min']:,} checks/s: {fmt(h['bulk_checks_s'], ',.0f')}  "
          f"{'met' if m['bulk_checks_s'] else 'MISSED'}")
    for key in ("profile_check", "profile_check_gil", "profile_bulk", "profile_bare_check"):
        prof = result.get(key)
        if prof and "error" in prof:
            print(f"\n{key}: {prof['error']}")
        if prof and "inclusive" in prof:
            print()
            print(f"{prof['command']}: {key[8:]} ({prof['samples']} samples in the workers, % of them; "
                  f"wrk {prof['wrk_req_s_while_profiled']} req/s meanwhile): inclusive")
            for row in prof["inclusive"][:25]:
                print(f"  {row['pct']:5.1f}%  {row['frame']}")
            print("  -- self:")
            for row in prof["self"][:15]:
                print(f"  {row['pct']:5.1f}%  {row['frame']}")
    if result.get("decision_log_complete") is False:
        print("\nWARNING: ours answered checks that are missing from its decision log (table `decisions`, counted "
              "after each server stopped); see the server log for the audit writer's errors.")
    print(f"\nrun: {result['run_seconds']} s; loadavg at the end {result['machine']['loadavg_end']}")


