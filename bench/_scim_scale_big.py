"""scim_scale's big-group rows, for each N of at least 50,000 users, after the interleaved rounds.

A group of the tenant's first 50,000 users is made as Okta's Group Push makes one, by one
POST /Groups naming all its members (timed once: `group_post_50k`), so the rows of the rounds
(`groups_list` above all) see the same single group at every N. Then:

  group_get_50k              GET /Groups/{id}: 50,000 members, each response parsed and checked
                             (member count, ETag = meta.version); and the workers' peak memory over
                             these requests, warm-ups included (VmHWM, reset before them through
                             /proc/<pid>/clear_refs, once every worker has caught up with the change
                             log by light requests from several clients)
  group_get_50k_unstreamed   the same against a second server on the same database with
                             SCIM_GROUP_MEMBERS_CHUNK above the group's size, i.e. the whole
                             document built in memory at once (the peer the stream is judged against)
  patch_remove_10k           one PATCH removing 10,000 of its members by value list
  patch_add_10k              one PATCH adding them back, so that every rep starts from 50,000
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _report import log
from _scim import GROUP_SCHEMA, PATCH_SCHEMA
from _stats import median, percentile, rnd

BIG = 50_000
BATCH = 10_000
TARGETS_MS = {"group_get_50k": 1000.0, "patch_remove_10k": 2000.0, "patch_add_10k": 2000.0}
OPS = ("group_post_50k", "group_get_50k", "group_get_50k_unstreamed", "patch_remove_10k", "patch_add_10k")
UNSTREAMED_ENV = {"SCIM_GROUP_MEMBERS_CHUNK": str(10 * BIG)}


def _status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peaks(pids: list[int]) -> dict[int, tuple[bool, int | None]]:
    """Reset each process's peak RSS to its current RSS (clear_refs 5); {pid: (reset, kB)}: the
    RSS it was reset to, or, where it cannot be reset, the peak so far (then only a new peak shows)."""
    base = {}
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            base[pid] = (True, _status_kb(pid, "VmRSS"))
        except OSError:
            base[pid] = (False, _status_kb(pid, "VmHWM"))
    return base


def _peak_growth(base: dict[int, tuple[bool, int | None]]) -> dict:
    """Per worker, how far its peak RSS rose above `base` (MB)."""
    growth = []
    for pid, (_, was) in base.items():
        peak = _status_kb(pid, "VmHWM")
        if peak is not None and was is not None:
            growth.append(rnd((peak - was) / 1024, 1))
    return {"peak_rss_growth_mb": max(growth, default=None), "workers_peak_rss_growth_mb": growth,
            "peak_rss_reset": all(reset for reset, _ in base.values())}


def _touch_workers(server, rounds: int = 4) -> None:
    """Light authenticated requests from several clients at once, so that every worker has caught
    up with the change log (the group just made) before its memory is watched."""
    workers = server.wait_workers(int(server.notes.get("workers") or 1))
    clients = max(2, 2 * workers)

    def one(_):
        with server.client() as c:
            for _ in range(rounds):
                c.get("/Users", params={"count": 1})

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(clients)))


def _row(n: int, op: str, lat: list[float], errors: list[str], size: int | None, **extra) -> dict:
    return {"n": n, "op": op, "reps": len(lat), "median_ms": rnd(median(lat)), "p95_ms": rnd(percentile(lat, 95)),
            "min_ms": rnd(min(lat) if lat else None), "errors": len(errors), "response_bytes": size,
            **extra, **({"error_samples": errors[:3]} if errors else {})}


def _timed(call):
    t0 = time.perf_counter()
    try:
        r, err = call(), None
    except Exception as e:  # noqa: BLE001 - a transport error is an error of the op
        r, err = None, f"{type(e).__name__}: {e}"
    return (time.perf_counter() - t0) * 1000, r, err


def _get_rows(server, n: int, op: str, group_id: str, reps: int, warmup: int) -> dict:
    """GET the group `warmup` + `reps` times; every answer parsed and checked; the workers' peak memory."""
    lat, errors, size = [], [], None
    _touch_workers(server)
    with server.client(timeout=120) as c:
        base = _reset_peaks(server.worker_pids())
        for k in range(warmup + reps):
            ms, r, err = _timed(lambda: c.get(f"/Groups/{group_id}"))
            if err is None and r.status_code != 200:
                err = f"{r.status_code} {r.text[:200]}"
            if err is None:
                body = r.json()
                members = len(body.get("members", []))
                if members != BIG or r.headers.get("ETag") != body["meta"]["version"]:
                    err = f"{members} members, ETag {r.headers.get('ETag')} vs meta.version {body['meta']['version']}"
                size = len(r.content)
            if err:
                errors.append(err)
            if k >= warmup:
                lat.append(ms)
        memory = _peak_growth(base)
    return _row(n, op, lat, errors, size, **memory)


def _patch(member_ids: list[str], op: str) -> dict:
    return {"schemas": [PATCH_SCHEMA], "Operations": [
        {"op": op, "path": "members", "value": [{"value": i} for i in member_ids]}]}


def run(server, n: int, user_ids: list[str], database_url: str, member_count, start_unstreamed, *,
        reps: int, patch_reps: int, warmup: int, patch_warmup: int = 1) -> list[dict]:
    """The big-group rows of one N (its server running); `member_count(url, group_id)` counts in the
    database, `start_unstreamed()` starts the peer server (None: not measured)."""
    rows = []
    log(f"   N={n:,}: POST /Groups with {BIG:,} members")
    with server.client(timeout=300) as c:
        body = {"schemas": [GROUP_SCHEMA], "displayName": f"First {BIG:,}",
                "members": [{"value": i} for i in user_ids[:BIG]]}
        ms, r, err = _timed(lambda: c.post("/Groups", json=body))
        if err is None and r.status_code != 201:
            err = f"{r.status_code} {r.text[:200]}"
        rows.append(_row(n, "group_post_50k", [ms], [err] if err else [], len(r.content) if r is not None else None))
        if err:
            raise RuntimeError(f"the {BIG:,}-member group could not be made: {err}")
        group_id = r.json()["id"]

    log(f"   N={n:,}: GET /Groups/{{id}} of {BIG:,} members x{reps}")
    rows.append(_get_rows(server, n, "group_get_50k", group_id, reps, warmup))
    peer = start_unstreamed() if start_unstreamed is not None else None
    if peer is not None:
        try:
            log(f"   N={n:,}: the same, the whole document in memory (a second server, "
                f"SCIM_GROUP_MEMBERS_CHUNK={UNSTREAMED_ENV['SCIM_GROUP_MEMBERS_CHUNK']})")
            rows.append(_get_rows(peer, n, "group_get_50k_unstreamed", group_id, reps, warmup))
        finally:
            peer.stop()

    log(f"   N={n:,}: PATCH removing {BATCH:,} members, then adding them back, x{patch_reps}")
    doomed = user_ids[:BATCH]
    bodies = {"patch_remove_10k": json.dumps(_patch(doomed, "remove")),
              "patch_add_10k": json.dumps(_patch(doomed, "add"))}
    lat: dict[str, list[float]] = {op: [] for op in bodies}
    errors: dict[str, list[str]] = {op: [] for op in bodies}
    headers = {"Content-Type": "application/scim+json"}
    with server.client(timeout=120) as c:
        for k in range(patch_warmup + patch_reps):
            for op in bodies:
                ms, r, err = _timed(lambda op=op: c.patch(f"/Groups/{group_id}", content=bodies[op], headers=headers))
                if err is None and r.status_code not in (200, 204):
                    err = f"{r.status_code} {r.text[:200]}"
                if err is None and k == 0 and op == "patch_remove_10k":
                    left = member_count(database_url, group_id)
                    if left != BIG - BATCH:
                        err = f"{left} members after removing {BATCH} of {BIG}"
                if err:
                    errors[op].append(err)
                if k >= patch_warmup:
                    lat[op].append(ms)
    final = member_count(database_url, group_id)
    if final != BIG:
        errors["patch_add_10k"].append(f"the group holds {final} members after the PATCHes, not {BIG}")
    for op in bodies:
        rows.append(_row(n, op, lat[op], errors[op], None, request_bytes=len(bodies[op])))
    return rows


def judge(results: list[dict], sizes: list[int]) -> tuple[dict, dict]:
    """(figures, meets) of the big-group targets: the medians at the largest N that has the rows."""
    figures, meets = {}, {}
    for op, target in TARGETS_MS.items():
        found = [r for r in results if r["op"] == op and r["median_ms"] is not None]
        row = max(found, key=lambda r: r["n"], default=None)
        figures[op] = {"n": row["n"], "median_ms": row["median_ms"], "errors": row["errors"]} if row else None
        meets[op] = bool(row) and not row["errors"] and row["median_ms"] < target
    if not any(n >= BIG for n in sizes):
        log(f"!! no N of at least {BIG:,}: the big-group rows were not measured")
    return figures, meets
