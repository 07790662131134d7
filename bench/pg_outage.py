"""PostgreSQL stopped for ten seconds under load: what clients see before, during and after.

A private PostgreSQL (initdb into a temp dir, its own loopback port: tests/private_pg.py), our server
on it as production runs it (gunicorn -c config/gunicorn.conf.py, WEB_CONCURRENCY workers, default 2,
REQUEST_DEADLINE_SECONDS --deadline), and threads sending SCIM creates, group member PATCHes and
/v1 checks without pause (tests/faults/outage.py, the scenario tests/faults/test_pg_outage.py asserts
on with a shorter outage). After --before seconds the database is stopped (`pg_ctl stop -m fast`),
--outage seconds later started again, and the load goes on for --after seconds. Then the database is
read: every create answered 201 must be there exactly once, every acknowledged PATCH's member too,
and every decision answered must reach the decision log.

    .venv/bin/python bench/pg_outage.py                  # ~40 s on 2 idle cores
    .venv/bin/python bench/pg_outage.py --outage 30

JSON: `phases` (per phase and request kind: requests, req_s, ok, 503, other, stale, p50/p99/max ms),
`recovery` (seconds after PostgreSQL accepted connections again until the first success and after
the last failure, per kind), `fail_fast` (the slowest answer during the outage), `checks_during`
(served stale, answered 503, the first 503 in seconds after the stop), `integrity`
(acknowledged creates missing or duplicated, PATCHes missing, decisions missing), `probes`,
`workers_restarted`, `meets` (no 500, nothing past the deadline, nothing acknowledged lost or
duplicated, checks served stale during the outage, recovered within 5 s), `settings`, `product`.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _paths import ROOT  # noqa: F401 - puts the repository first on sys.path
from _report import emit_json, fmt, log, print_table, product_state
from _stats import percentile, rnd

from tests.faults.outage import ABSENT, OutageRun, Record, start_outage_service
from tests.private_pg import PrivatePostgres

KINDS = ("create", "patch", "check")
PHASES = ("before", "during", "after")
RECOVERY_TARGET_S = 5.0


def _phase_seconds(run: OutageRun, phase: str) -> float:
    tl = run.timeline
    return {"before": tl.stop_begin, "during": tl.start_end - tl.stop_begin, "after": tl.end - tl.start_end}[phase]


def _row(recs: list[Record], seconds: float) -> dict:
    ms = [r.seconds * 1000 for r in recs]
    return {"requests": len(recs), "req_s": rnd(len(recs) / seconds, 1) if seconds > 0 else None,
            "ok": sum(r.ok for r in recs), "503": sum(r.status == 503 and not r.error for r in recs),
            "other": sum(not r.ok and not (r.status == 503 and not r.error) for r in recs),
            "stale": sum(r.stale is True for r in recs),
            "p50_ms": rnd(percentile(ms, 50), 1), "p99_ms": rnd(percentile(ms, 99), 1),
            "max_ms": rnd(max(ms), 1) if ms else None}


def _recovery(run: OutageRun) -> dict:
    """Per kind, seconds after PostgreSQL accepted connections again: the end of the first success that
    started after it, and the end of the last failure (None when nothing failed after it)."""
    back = run.timeline.start_end
    out = {}
    for kind in KINDS:
        recs = [r for r in run.of(kind) if r.t0 >= back]
        ok = [r.t1 - back for r in recs if r.ok and (kind != "check" or r.stale == ABSENT)]
        bad = [r.t1 - back for r in run.of(kind) if r.t1 >= back and (not r.ok or r.stale is True)]
        out[kind] = {"first_ok_s": rnd(min(ok), 3) if ok else None, "last_failure_s": rnd(max(bad), 3) if bad else None}
    return out


def _integrity(run: OutageRun) -> dict:
    creates = run.of("create")
    acked = [r for r in creates if r.status == 201]
    return {"creates_acknowledged": len(acked),
            "creates_acknowledged_missing": sum(run.users.get(r.name) != [r.id] for r in acked),
            "creates_503_stored": sum(r.status == 503 and r.name in run.users for r in creates),
            "user_names_duplicated": sum(len(ids) > 1 for ids in run.users.values()),
            "patches_acknowledged": sum(r.ok for r in run.of("patch")),
            "patches_acknowledged_missing": sum(r.ok and run.members.get(r.name) != 1 for r in run.of("patch")),
            "decisions_answered": sum(r.status == 200 for r in run.of("check")),
            "decisions_missing": sum(r.status == 200 and r.decision_id not in run.decisions for r in run.of("check"))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--outage", type=float, default=10.0, help="seconds PostgreSQL stays down")
    ap.add_argument("--before", type=float, default=5.0)
    ap.add_argument("--after", type=float, default=10.0)
    ap.add_argument("--deadline", type=float, default=5.0, help="REQUEST_DEADLINE_SECONDS")
    ap.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY")
    ap.add_argument("--creators", type=int, default=2)
    ap.add_argument("--patchers", type=int, default=1)
    ap.add_argument("--checkers", type=int, default=2)
    args = ap.parse_args()
    reason = PrivatePostgres.unavailable()
    if reason:
        log(f"cannot start a private PostgreSQL: {reason}")
        return 2
    with PrivatePostgres() as pg, tempfile.TemporaryDirectory(prefix="pg-outage-") as tmp:
        log(f"private PostgreSQL on port {pg.port}; preparing the service ...")
        svc, load = start_outage_service(pg, Path(tmp), deadline_seconds=args.deadline, workers=args.workers)
        try:
            log(f"load {args.before:g} s, PostgreSQL stopped {args.outage:g} s, load {args.after:g} s more ...")
            run = load.run(pg, before=args.before, outage=args.outage, after=args.after, creators=args.creators,
                           patchers=args.patchers, checkers=args.checkers)
        finally:
            svc.stop()
    tl = run.timeline
    log(f"database stopped at {tl.stop_begin:.2f} s ({tl.stop_end - tl.stop_begin:.2f} s to stop), started at "
        f"{tl.start_begin:.2f} s ({tl.start_end - tl.start_begin:.2f} s to start)")

    phases = {p: {k: _row(run.of(k, p), _phase_seconds(run, p)) for k in KINDS} for p in PHASES}
    head = ["phase", "kind", "requests", "req/s", "ok", "503", "other", "stale", "p50 ms", "p99 ms", "max ms"]
    print_table(head, [[p, k, *(fmt(phases[p][k][c]) for c in ("requests", "req_s", "ok", "503", "other", "stale",
                                                                    "p50_ms", "p99_ms", "max_ms"))]
                       for p in PHASES for k in KINDS])
    recovery = _recovery(run)
    integrity = _integrity(run)
    probes = {r.name: {"status": r.status, "error": r.error or None, "allowed": r.allowed} for r in run.records
              if r.kind.startswith("probe")}
    load_recs = [r for r in run.records if not r.kind.startswith("probe")]
    during = [r for r in run.of(None, "during") if not r.kind.startswith("probe")]
    slowest = max(run.records, key=lambda r: r.seconds)
    refused = [r.t0 - tl.stop_end for r in run.of("check", "during") if r.t0 > tl.stop_end and r.status == 503]
    checks_during = {"served_stale": sum(r.stale is True for r in run.of("check", "during")), "503": len(refused),
                     "first_503_after_stop_s": rnd(min(refused), 2) if refused else None}
    checks_down = [r for r in run.of("check") if tl.stop_end + 0.5 <= r.t0 and r.t1 < tl.start_begin]
    print()
    print_table(["after PostgreSQL is back", "first ok (s)", "last failure (s)"],
                [[k, fmt(recovery[k]["first_ok_s"]), fmt(recovery[k]["last_failure_s"])] for k in KINDS])
    print()
    print_table(["integrity", "count"], [[k, v] for k, v in integrity.items()])
    print()
    print_table(["probe (mid-outage)", "status", "problem"],
                [[name, fmt(p["status"]), p["error"] or ("allowed" if p["allowed"] and "at_least" in name else "")]
                 for name, p in probes.items()])
    meets = {
        "no_500_or_malformed_error": not any(not r.ok and not (r.status == 503 and not r.error) for r in run.records),
        "none_past_deadline": all(r.status is not None and r.seconds <= args.deadline + 1 for r in run.records),
        "nothing_acknowledged_lost_or_duplicated": not (integrity["creates_acknowledged_missing"]
                                                        or integrity["user_names_duplicated"]
                                                        or integrity["patches_acknowledged_missing"]
                                                        or integrity["decisions_missing"]),
        "checks_served_stale_during_outage": bool(checks_down) and all(
            r.status == 200 and r.stale is True and r.allowed is r.expected for r in checks_down),
        "recovered_within_5s": all((v["last_failure_s"] or 0) <= RECOVERY_TARGET_S and v["first_ok_s"] is not None
                                   for v in recovery.values()),
        "no_worker_restarted": run.master_alive and run.workers_before == run.workers_after,
    }
    print()
    print(f"requests {len(load_recs)} (+{len(probes)} probes), during the outage {len(during)}, of which "
          f"{sum(r.status == 503 for r in during)} answered 503; slowest {slowest.seconds * 1000:.0f} ms "
          f"({slowest.kind} at {slowest.t0:.2f} s, {slowest.status}); checks during the outage: "
          f"{checks_during['served_stale']} served stale, {checks_during['503']} answered 503 (the first "
          f"{fmt(checks_during['first_503_after_stop_s'])} s after the stop); meets: "
          + ", ".join(f"{k}={v}" for k, v in meets.items()))
    emit_json({"phases": phases, "timeline": {k: rnd(v, 3) for k, v in vars(tl).items()}, "recovery": recovery,
               "fail_fast": {"max_ms_during": rnd(max((r.seconds for r in during), default=0) * 1000, 1),
                             "p99_ms_during": rnd(percentile([r.seconds * 1000 for r in during], 99), 1)},
               "checks_during": checks_during, "integrity": integrity, "probes": probes,
               "workers_restarted": sorted(set(run.workers_before) - set(run.workers_after)), "meets": meets,
               "settings": vars(args), "product": product_state()})
    return 0 if all(meets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
