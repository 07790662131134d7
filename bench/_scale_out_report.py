"""scale_out's report: the targets judged, the tables, and the figures of the JSON line."""
from __future__ import annotations

from _report import fmt, print_table

TARGETS = {"pg_per_instance_over_sqlite_checks_min": 0.9, "propagation_p99_ms_max": 100.0,
           "scim_pg_over_sqlite_min": 1.0, "at_least_first_try_share_min": 1.0}

CHECK_ROWS = (("sqlite", "SQLite, one instance"),
              ("pg_a", "PostgreSQL A alone (B running, idle)"),
              ("pg_b", "PostgreSQL B alone (A running, idle)"),
              ("pg_alone_per_instance", "PostgreSQL per instance, alone (A and B)"),
              ("pg_both_a", "PostgreSQL A, with B under load too"),
              ("pg_both_b", "PostgreSQL B, with A under load too"),
              ("pg_both_sum", "PostgreSQL A + B at once (sum)"))


def _num(x) -> float | None:
    """A figure as a number: "inf" (a write never reflected) as infinity, None as None."""
    return float("inf") if x == "inf" else x


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 3)


def judge(result: dict) -> dict:
    """Each target met or not; an unmeasured figure (a failed row) does not meet its target."""
    checks, prop, at, scim = (result.get(k) or {} for k in ("checks", "propagation", "consistency_at_least", "scim"))
    r_checks = ratio(checks.get("pg_alone_per_instance", {}).get("req_s"), checks.get("sqlite", {}).get("req_s"))
    p99 = _num(prop.get("p99_ms"))
    scim_ratios = {row: ratio((scim.get(row) or {}).get("pg", {}).get("req_s"),
                              (scim.get(row) or {}).get("sqlite", {}).get("req_s"))
                   for row in ("create_users", "group_patch")}
    scim_measured = [v for v in scim_ratios.values() if v is not None]
    figures = {"checks_pg_per_instance_over_sqlite": r_checks, "propagation_p99_ms": prop.get("p99_ms"),
               "at_least_first_try_share": at.get("first_try_share"),
               **{f"scim_{row}_pg_over_sqlite": v for row, v in scim_ratios.items()},
               "scim_min_pg_over_sqlite": min(scim_measured) if len(scim_measured) == len(scim_ratios) else None}
    meets = {
        "checks_pg_per_instance": r_checks is not None
        and r_checks >= TARGETS["pg_per_instance_over_sqlite_checks_min"],
        "propagation_p99": p99 is not None and p99 < TARGETS["propagation_p99_ms_max"],
        "scim_writes_pg_vs_sqlite": figures["scim_min_pg_over_sqlite"] is not None
        and figures["scim_min_pg_over_sqlite"] >= TARGETS["scim_pg_over_sqlite_min"],
        "at_least_first_try": at.get("first_try_share") is not None
        and at["first_try_share"] >= TARGETS["at_least_first_try_share_min"]}
    return {"figures": figures, "meets": meets}


def _cell(x, spec: str) -> str:
    return fmt(x, spec) if isinstance(x, int | float) else ("-" if x is None else str(x))


def print_report(result: dict, args) -> None:
    checks, prop, at, scim = (result.get(k) or {} for k in ("checks", "propagation", "consistency_at_least", "scim"))
    for k in ("checks", "propagation", "scim"):
        if str((result.get(k) or {}).get("status", "")).startswith("FAILED"):
            print(f"{k}: {result[k]['status']}: {result[k].get('error', '')[:300]}")
    w = result["settings"]["wrk"]
    print(f"POST /v1/check with wrk ({w}); checks/s: median of {args.reps} repetitions, rounds in rotating order; "
          "p50/p99 over all their requests")
    rows = []
    for key, label in CHECK_ROWS:
        s = checks.get(key, {})
        rows.append([label, _cell(s.get("req_s"), ".0f"), _cell(s.get("p50_ms"), ".2f"), _cell(s.get("p99_ms"), ".2f"),
                     _cell(s.get("server_cpu_us_per_req"), ".0f"),
                     "/".join(f"{x:.0f}" for x in s.get("req_s_runs") or []) or "-", s.get("status", "-")])
    print_table(["instance(s)", "checks/s", "p50 ms", "p99 ms", "CPU us/chk", "checks/s per run", "status"], rows)
    tx = checks.get("pg_transactions_per_check")
    print(f"Two instances share this machine's {result['machine']['cpus']} cores: under wrk at once each gets about "
          "half of them, so 'alone' is the per-instance figure and 'at once' what the machine gives in total.")
    print(f"PostgreSQL per instance (alone) / SQLite within each repetition: "
          f"{', '.join(f'{x:.2f}' for x in checks.get('pg_alone_over_sqlite_reps') or []) or '-'}"
          + (f"; PostgreSQL transactions per check (pg_stat_database, decision-log writes included): {tx:.3f}"
             if tx is not None else ""))
    print()
    print(f"Propagation, A -> B: {prop.get('write')}")
    print_table(["writes", "reflected", "p50 ms", "p99 ms", "max ms", "mean ms", "checks/write (median, max)",
                 "answered by the first check"],
                [[prop.get("writes"), prop.get("reflected"), _cell(prop.get("p50_ms"), ".2f"),
                  _cell(prop.get("p99_ms"), ".2f"), _cell(prop.get("max_ms"), ".2f"), _cell(prop.get("mean_ms"), ".2f"),
                  f"{prop['checks_per_write']['median']}, {prop['checks_per_write']['max']}"
                  if prop.get("checks_per_write") else "-", prop.get("first_check_reflected")]])
    rt = prop.get("check_round_trip_ms") or {}
    print(f"A check on B with no write before it takes p50 {_cell(rt.get('p50'), '.2f')} ms, p99 "
          f"{_cell(rt.get('p99'), '.2f')} ms ({rt.get('checks')} checks): a delay cannot be shorter than one.")
    print(f"consistency.at_least on B: {at.get('first_try_right')} of {at.get('writes')} checks right on the first try "
          f"(check p50 {_cell(at.get('check_p50_ms'), '.2f')} ms, p99 {_cell(at.get('check_p99_ms'), '.2f')} ms); "
          f"writes: {at.get('write')}")
    print()
    print(f"SCIM writes, {args.scim_threads} concurrent clients, one instance each; req/s: median of {args.reps} "
          "repetitions in rotating order")
    rows = []
    for row, label in (("create_users", "POST /Users"), ("group_patch", "PATCH /Groups/{id} add 1 member")):
        r = scim.get(row, {})
        sq, pg = r.get("sqlite", {}), r.get("pg", {})
        rows.append([label, _cell(sq.get("req_s") or sq.get("status"), ".1f"), _cell(sq.get("p50_ms"), ".1f"),
                     _cell(pg.get("req_s") or pg.get("status"), ".1f"), _cell(pg.get("p50_ms"), ".1f"),
                     _cell(result["judged"]["figures"].get(f"scim_{row}_pg_over_sqlite"), ".2f")])
    print_table(["row", "SQLite req/s", "p50 ms", "PostgreSQL req/s", "p50 ms", "PG / SQLite"], rows)
    for n, g in scim.get("group_check", {}).items():
        print(f"check {n}: the group has {g['members']} members after the PATCHes (expected {g['expected_members']}): "
              f"{'ok' if g['ok'] else 'MISMATCH'}")
    print()
    f, m = result["judged"]["figures"], result["judged"]["meets"]
    print_table(["target", "figure", "met"], [
        [f"checks/s PG per instance (alone) / SQLite >= {TARGETS['pg_per_instance_over_sqlite_checks_min']}",
         _cell(f["checks_pg_per_instance_over_sqlite"], ".3f"), _met(m["checks_pg_per_instance"])],
        [f"propagation p99 < {TARGETS['propagation_p99_ms_max']:.0f} ms", _cell(f["propagation_p99_ms"], ".2f"),
         _met(m["propagation_p99"])],
        [f"SCIM writes PG / SQLite >= {TARGETS['scim_pg_over_sqlite_min']} (lower of the two rows)",
         _cell(f["scim_min_pg_over_sqlite"], ".2f"), _met(m["scim_writes_pg_vs_sqlite"])],
        ["at_least right on the first try: 100%", _cell(f["at_least_first_try_share"], ".4f"),
         _met(m["at_least_first_try"])]])
    phases = ", ".join(f"{k} {v:.0f}" for k, v in (result.get("phase_seconds") or {}).items())
    print(f"run took {result['run_seconds']} s ({phases}); product {result['product']['git_head']}"
          + (" (its files changed during the run)" if result.get("product_changed_during_run") else ""))


def _met(ok: bool) -> str:
    return "MET" if ok else "NOT MET"
