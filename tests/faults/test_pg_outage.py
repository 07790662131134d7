"""PostgreSQL stopped under load: a real gunicorn (config/gunicorn.conf.py, two sync workers) on a private
PostgreSQL, clients sending SCIM creates, group PATCHes and /v1 checks while the database is stopped
for OUTAGE_SECONDS and started again.

Requests during the outage fail fast with a 503 in their protocol's shape (no 500, none outlives the
request deadline); checks keep being answered from memory and say the answer may be stale; the
service recovers without a restart; afterwards every acknowledged write is in the database exactly
once. The scenario runs once per module; each test below asserts one of these properties.
bench/pg_outage.py runs the same scenario with a ten-second outage and prints its figures."""
from __future__ import annotations

import pytest

from tests.faults.outage import ABSENT, OutageRun, start_outage_service

OUTAGE_SECONDS = 5.0     # the bench runs the full 10 s
BEFORE_SECONDS = 2.0
AFTER_SECONDS = 4.0
DEADLINE_SECONDS = 5.0   # REQUEST_DEADLINE_SECONDS; GUNICORN_TIMEOUT is 5 s longer
LATENCY_MARGIN = 1.0     # a response may arrive this long after the deadline (signal, rollback, transfer)
RECOVERY_SECONDS = 2.0   # after PostgreSQL accepts connections again, every request succeeds within this
STALE_GRACE = 0.5        # how long after the stop completed a check may still be unaware of it


@pytest.fixture(scope="module")
def run(private_pg, tmp_path_factory) -> OutageRun:
    svc, load = start_outage_service(private_pg, tmp_path_factory.mktemp("outage"), deadline_seconds=DEADLINE_SECONDS)
    try:
        result = load.run(private_pg, before=BEFORE_SECONDS, outage=OUTAGE_SECONDS, after=AFTER_SECONDS)
    except BaseException:
        print(svc.log_tail())
        raise
    finally:
        svc.stop()
    return result


def _show(run: OutageRun, bad: list) -> str:
    tl = run.timeline
    lines = [f"database stopped {tl.stop_begin:.2f}-{tl.stop_end:.2f} s, started {tl.start_begin:.2f}-"
             f"{tl.start_end:.2f} s (server log: {run.server_log}); {len(bad)} of {len(run.records)} requests:"]
    lines += [f"  {r.kind} at {r.t0:.2f} s ({run.timeline.phase(r.t0)}, {r.seconds:.3f} s): {r.status} {r.error}"
              f"{'' if r.stale == ABSENT else f' stale={r.stale!r}'} {r.name}" for r in bad[:15]]
    return "\n".join(lines)


def test_the_outage_was_real_and_load_ran_through_it(run):
    """Without this the other tests could pass on a database that never went away."""
    assert run.checked_by == len(run.workers_before), "not every worker had answered a check before the outage"
    for phase in ("before", "during", "after"):
        for kind in ("create", "patch", "check"):
            assert run.of(kind, phase), f"no {kind} request {phase} the outage"
    tl = run.timeline
    writes_during = [r for r in run.of("create") if tl.stop_end < r.t0 and r.t1 < tl.start_begin]
    assert writes_during and not any(r.ok for r in writes_during), _show(run, [r for r in writes_during if r.ok])


def test_every_answer_is_a_success_or_a_well_formed_503(run):
    """No 500, no other status, and each 503 in its protocol's shape: RFC 7644 §3.12 on /scim
    (schemas, status "503", detail), {"error": {status, code, message}} on /v1."""
    load = [r for r in run.records if not r.kind.startswith("probe")]
    bad = [r for r in load if not (r.ok or (r.status == 503 and not r.error))]
    assert not bad, _show(run, bad)
    # Before the database went away, everything succeeded.
    bad = [r for r in run.records if r.t1 < run.timeline.stop_begin and not r.ok]
    assert not bad, _show(run, bad)


def test_other_requests_during_the_outage_are_answered_or_get_a_well_formed_503(run):
    """Reads, bulk checks and checks asking `at_least` a revision nobody can confirm now: each sent
    once in the middle of the outage. A check that cannot be answered at the revision asked for
    is denied or refused, never allowed."""
    probes = [r for r in run.records if r.kind.startswith("probe")]
    assert len(probes) == 7
    bad = [r for r in probes if not (r.ok or (r.status == 503 and not r.error))]
    assert not bad, _show(run, bad)
    bad = [r for r in probes if r.kind.endswith("_at_least") and r.allowed]
    assert not bad, _show(run, bad)


def test_no_request_outlives_the_request_deadline(run):
    """Every request got an HTTP response (none cut off by gunicorn's timeout), in time."""
    bad = [r for r in run.records if r.status is None or r.seconds > DEADLINE_SECONDS + LATENCY_MARGIN]
    assert not bad, _show(run, bad)


def test_the_service_recovers_without_a_restart(run):
    tl = run.timeline
    assert run.master_alive and run.workers_after == run.workers_before, \
        f"gunicorn workers {run.workers_before} -> {run.workers_after}, master alive: {run.master_alive}"
    settled = [r for r in run.records if r.t0 >= tl.start_end + RECOVERY_SECONDS]
    for kind in ("create", "patch", "check"):
        assert any(r.kind == kind for r in settled), f"no {kind} {RECOVERY_SECONDS} s after the database was back"
    bad = [r for r in settled if not r.ok]
    assert not bad, _show(run, bad)
    # Once the database is back, checks are no longer flagged stale.
    bad = [r for r in settled if r.kind == "check" and r.stale != ABSENT]
    assert not bad, _show(run, bad)


def test_every_acknowledged_create_is_stored_exactly_once(run):
    """A 201 means stored, once, with the id the client was given; a 503 may or may not have been
    stored (retrying is the IdP's job) but never twice; no userName is stored twice."""
    bad = [r for r in run.of("create") if r.status == 201 and run.users.get(r.name) != [r.id]]
    assert not bad, _show(run, bad) + f"\nin the database: {[run.users.get(r.name) for r in bad[:5]]}"
    twice = {name: ids for name, ids in run.users.items() if len(ids) > 1}
    assert not twice, twice
    asked = {r.name for r in run.of("create")}
    invented = {name for name in run.users if name.startswith("c") and name not in asked}
    assert not invented, invented


def test_every_acknowledged_member_patch_is_stored(run):
    bad = [r for r in run.of("patch") if r.ok and run.members.get(r.name) != 1]
    assert not bad, _show(run, bad)


def test_checks_during_the_outage_are_answered_from_memory_and_flagged_stale(run):
    """A check needs no database once the policy is in memory and the worker has verified the API
    key (each had, before the stop): during the outage it is answered (the same decision as before)
    with "stale": true, since the revision it is served at may be old; with the database up, the
    body has no "stale" at all."""
    tl = run.timeline
    during = [r for r in run.of("check") if tl.stop_end + STALE_GRACE <= r.t0 and r.t1 < tl.start_begin]
    assert during, "no check ran during the outage"
    bad = [r for r in during if not (r.status == 200 and r.stale is True and r.allowed is r.expected)]
    assert not bad, _show(run, bad)
    bad = [r for r in run.of("check") if r.t1 < tl.stop_begin and r.stale != ABSENT]
    assert not bad, _show(run, bad)


def test_every_decision_answered_reaches_the_decision_log(run):
    """The decision log is written behind the checks; rows held back by the outage are written
    once the database is back, none lost and none twice (the decision id is the key)."""
    answered = [r for r in run.of("check") if r.status == 200]
    missing = [r for r in answered if r.decision_id not in run.decisions]
    assert not missing, _show(run, missing)
