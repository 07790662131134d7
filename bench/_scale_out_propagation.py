"""scale_out's propagation: a write through instance A, then checks on instance B until B's answer
reflects it, and checks on B that pass `consistency.at_least` the revision the write returned.

Every write flips one decision, so "reflects the write" is a changed answer: SCIM PATCHes add a
user to a group mapped to a role granting PERMISSION, then remove it again. The revision of a SCIM
write is its `X-Authz-Revision` header; a server whose SCIM responses lack it is tested with /v1
role assignments instead (assigned, then removed), whose JSON bodies carry `revision`.
"""
from __future__ import annotations

import time

import httpx
from _scim import GROUP_SCHEMA, expect, patch_add_member, patch_remove_member, user_body
from _server import Server
from _stats import median, percentile, rnd

REVISION_HEADER = "X-Authz-Revision"
USER_NAME = "propagation@bench.example"
GROUP_NAME = "propagation-group"
# Granted only through the group (the SCIM writes) / only by a direct assignment (the /v1 writes).
PERMISSION, DIRECT_PERMISSION = "propagation:view", "propagation:edit"
GROUP_ROLE, DIRECT_ROLE = "propagation-group-role", "propagation-direct-role"


def _ok(r: httpx.Response, *statuses: int) -> httpx.Response:
    err = expect(r, *statuses)
    if err:
        raise RuntimeError(err)
    return r


class Propagation:
    """The user, group, roles and mapping the writes flip, made through instance A; the clients."""

    def __init__(self, a: Server, b: Server, api_key: str, poll_timeout: float):
        self.a, self.b, self.poll_timeout = a, b, poll_timeout
        self.scim_a = a.client()
        auth = {"Authorization": f"Bearer {api_key}"}
        self.api_a = httpx.Client(base_url=f"{a.url}/v1", headers=auth, timeout=30)
        self.api_b = httpx.Client(base_url=f"{b.url}/v1", headers=auth, timeout=30)
        self.in_group = False
        self.assignment_id: int | None = None

    def close(self) -> None:
        for c in (self.scim_a, self.api_a, self.api_b):
            c.close()

    def prepare(self) -> None:
        """The fixtures, and B denying both permissions before any write."""
        self.user_id = _ok(self.scim_a.post("/Users", json=user_body(USER_NAME)), 201).json()["id"]
        self.group_id = _ok(self.scim_a.post("/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": GROUP_NAME,
                                                              "members": []}), 201).json()["id"]
        _ok(self.api_a.post("/roles", json={"key": GROUP_ROLE, "permissions": [PERMISSION]}), 201)
        _ok(self.api_a.post("/roles", json={"key": DIRECT_ROLE, "permissions": [DIRECT_PERMISSION]}), 201)
        _ok(self.api_a.post("/group-mappings", json={"group": self.group_id, "role": GROUP_ROLE}), 201)
        for action in ("view", "edit"):
            got = self.check_b(action)
            if got is not False:
                raise RuntimeError(f"before any write B answers {got!r} for {action}, not a denial")

    def check_b(self, action: str, at_least: int | None = None) -> bool | str:
        """B's answer (allowed or not), or the error it gave."""
        body = {"user": USER_NAME, "action": action, "resource": "propagation:1"}
        if at_least is not None:
            body["consistency"] = {"at_least": at_least}
        r = self.api_b.post("/check", json=body)
        if r.status_code != 200:
            return f"{r.status_code} {r.text[:200]}"
        return r.json().get("allowed")

    def scim_flip(self) -> tuple[str, bool, int | None]:
        """PATCH the group on A, adding the user or removing it: (action checked, expected answer,
        the revision of X-Authz-Revision or None)."""
        body = patch_remove_member(self.user_id) if self.in_group else patch_add_member(self.user_id)
        r = _ok(self.scim_a.patch(f"/Groups/{self.group_id}", json=body), 200, 204)
        self.in_group = not self.in_group
        rev = r.headers.get(REVISION_HEADER)
        return "view", self.in_group, int(rev) if rev and rev.strip().isdigit() else None

    def api_flip(self) -> tuple[str, bool, int | None]:
        """Assign the direct role on A, or remove that assignment: the revision from the JSON body."""
        if self.assignment_id is None:
            r = _ok(self.api_a.post("/role-assignments", json={"user": self.user_id, "role": DIRECT_ROLE}), 201)
            self.assignment_id = r.json()["assignment"]["id"]
        else:
            r = _ok(self.api_a.delete(f"/role-assignments/{self.assignment_id}"), 200)
            self.assignment_id = None
        return "edit", self.assignment_id is not None, r.json().get("revision")

    def wait_for(self, action: str, want: bool, since: float) -> tuple[float | None, int, list[str]]:
        """Check on B, without pause, until it answers `want`: (seconds from `since` to that answer,
        or None past poll_timeout; checks sent; errors seen)."""
        polls, errors = 0, []
        while True:
            got = self.check_b(action)
            polls += 1
            now = time.perf_counter()
            if got is want:
                return now - since, polls, errors
            if isinstance(got, str) and len(errors) < 5:
                errors.append(got)
            if now - since > self.poll_timeout:
                return None, polls, errors

    def round_trips(self, n: int) -> list[float]:
        """ms per check on B with no write before it: the least a delay can be."""
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            self.check_b("view")
            out.append((time.perf_counter() - t0) * 1000)
        return out

    def measure_delay(self, writes: int) -> dict:
        """`writes` SCIM PATCHes on A, each followed by checks on B until B reflects it."""
        base = self.round_trips(50)
        delays, polls, errors, timeouts = [], [], [], 0
        for _ in range(writes):
            action, want, _rev = self.scim_flip()
            acked = time.perf_counter()          # A's write response received
            delay, n, errs = self.wait_for(action, want, acked)
            polls.append(n)
            errors += errs
            if delay is None:
                timeouts += 1
            else:
                delays.append(delay * 1000)
        # A write B never reflected counts as an infinite delay: it is in p99 and max.
        ranked = delays + [float("inf")] * timeouts
        return {"write": "SCIM PATCH /Groups/{id} on A adding / removing the user (a group mapped to a role "
                         f"granting {PERMISSION}); then POST /v1/check on B, no pause, until the answer flips",
                "writes": writes, "reflected": len(delays), "timeouts": timeouts, "poll_timeout_s": self.poll_timeout,
                "p50_ms": _ms(percentile(ranked, 50)), "p99_ms": _ms(percentile(ranked, 99)),
                "max_ms": _ms(max(ranked, default=None)), "mean_ms": rnd(sum(delays) / len(delays), 3) if delays
                else None,
                "checks_per_write": {"median": median(polls), "max": max(polls, default=None)},
                "first_check_reflected": sum(1 for n in polls if n == 1), "check_errors": errors[:5],
                "check_round_trip_ms": {"checks": len(base), "p50": rnd(percentile(base, 50), 3),
                                        "p99": rnd(percentile(base, 99), 3)}}

    def measure_at_least(self, writes: int) -> dict:
        """`writes` writes on A, each followed by one check on B passing at_least the write's revision:
        right when it is the flipped answer. SCIM writes when their responses carry the revision."""
        _, _, probe = self.scim_flip()          # does a SCIM write say its revision?
        self.wait_for("view", self.in_group, time.perf_counter())
        flip, source = (self.scim_flip, f"SCIM PATCH /Groups/{{id}} ({REVISION_HEADER} header)") if probe is not None \
            else (self.api_flip, f"/v1 role-assignments POST / DELETE (revision in the body; the SCIM responses had "
                                 f"no {REVISION_HEADER} header)")
        first_ok, latencies, wrong, missing = 0, [], [], 0
        for _ in range(writes):
            action, want, rev = flip()
            acked = time.perf_counter()
            if rev is None:
                missing += 1
                self.wait_for(action, want, acked)
                continue
            got = self.check_b(action, at_least=rev)
            latencies.append((time.perf_counter() - acked) * 1000)
            if got is want:
                first_ok += 1
                continue
            if len(wrong) < 5:
                wrong.append({"revision": rev, "want": want, "got": got})
            self.wait_for(action, want, acked)  # back in step for the next write
        return {"write": source, "scim_revision_header": probe is not None, "writes": writes,
                "first_try_right": first_ok, "first_try_share": rnd(first_ok / writes, 4) if writes else None,
                "writes_without_revision": missing, "wrong_samples": wrong,
                "check_p50_ms": rnd(percentile(latencies, 50), 3), "check_p99_ms": rnd(percentile(latencies, 99), 3)}


def _ms(x: float | None) -> float | str | None:
    """A delay in ms, rounded; "inf" for a write that was never reflected (JSON has no infinity)."""
    if x is None:
        return None
    return "inf" if x == float("inf") else round(x, 3)
