"""A PostgreSQL outage under load: clients send SCIM writes and checks to a running service while its
database is stopped for a while and started again; every response is recorded with its timing.

Used by tests/faults/test_pg_outage.py (a short outage, assertions) and bench/pg_outage.py (the full
ten seconds, figures). The clients: creators (POST /Users, each with a userName of its own),
a patcher (PATCH /Groups/<staff> adding one pooled user per request) and checkers (POST /v1/check,
alternating a user the policy allows and one it denies).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

from tests.faults.service import (
    GROUP_SCHEMA,
    PATCH_SCHEMA,
    TENANT,
    Service,
    bulk_of_users,
    json_error_problems,
    scim_error_problems,
    user_body,
)
from tests.private_pg import PrivatePostgres

# The check each checker sends, and the answer the policy gives it.
CHECKS = [({"user": "alice", "action": "view", "resource": "doc:1"}, True),
          ({"user": "bob", "action": "view", "resource": "doc:1"}, False)]
ABSENT = "absent"
PAUSE_AFTER_ERROR = 0.02  # a client that got an error waits this long (an IdP waits longer)


@dataclass
class Record:
    """One request and what came back; times are seconds since the run began."""

    kind: str                 # create | patch | check
    t0: float
    t1: float
    status: int | None        # None: no HTTP response (connection error, client timeout)
    error: str = ""           # the transport error, or what is wrong with the response
    name: str = ""            # create: the userName; patch: the member id added
    id: str = ""              # create: the id the server gave (201)
    stale: object = ABSENT    # check: the body's "stale", or ABSENT when it has none
    allowed: bool | None = None
    expected: bool | None = None
    decision_id: str = ""

    @property
    def seconds(self) -> float:
        return self.t1 - self.t0

    @property
    def ok(self) -> bool:
        return self.status in (200, 201, 204) and not self.error


@dataclass
class Timeline:
    """When the database went down and came back, in seconds since the run began."""

    stop_begin: float = 0.0
    stop_end: float = 0.0
    start_begin: float = 0.0
    start_end: float = 0.0
    end: float = 0.0

    def phase(self, t: float) -> str:
        if t < self.stop_begin:
            return "before"
        if t < self.start_end:
            return "during"
        return "after"


@dataclass
class OutageRun:
    records: list[Record]
    timeline: Timeline
    workers_before: list[int]
    workers_after: list[int]
    master_alive: bool
    users: dict[str, list[str]] = field(default_factory=dict)   # userName -> ids in the database
    members: dict[str, int] = field(default_factory=dict)       # member id -> rows in staff's members
    decisions: set[str] = field(default_factory=set)            # decision ids in the decision log
    checked_by: int = 0  # workers that had answered a check before the database was stopped
    server_log: str = ""

    def of(self, kind: str | None = None, phase: str | None = None) -> list[Record]:
        return [r for r in self.records if (kind is None or r.kind == kind)
                and (phase is None or self.timeline.phase(r.t0) == phase)]


class Workload:
    """The tenant's data the clients need, and the clients themselves."""

    def __init__(self, svc: Service, pool_size: int = 200):
        self.svc = svc
        self.pool_size = pool_size
        self.group_id = ""
        self.pool: list[str] = []  # user ids the patcher adds to the group, one per request

    def prepare(self) -> Workload:
        """A role granting doc:view to alice (not to bob), the staff group, and users to add to it."""
        with self.svc.api() as api, self.svc.scim() as scim:
            r = api.post("/roles", json={"key": "reader", "permissions": ["doc:view"]})
            assert r.status_code == 201, r.text
            r = api.post("/users/bulk", json={"users": [{"key": "alice", "userName": "alice", "roles": ["reader"]},
                                                        {"key": "bob", "userName": "bob", "roles": []}]})
            assert r.status_code == 200 and r.json()["failed"] == 0, r.text
            r = scim.post("/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "staff"})
            assert r.status_code == 201, r.text
            self.group_id = r.json()["id"]
            for start in range(0, self.pool_size, 1000):
                names = [f"pool{i:05d}@faults.example" for i in range(start, min(start + 1000, self.pool_size))]
                r = scim.post("/Bulk", json=bulk_of_users(names))
                assert r.status_code == 200, r.text[:300]
                ops = r.json()["Operations"]
                assert all(op["status"] == "201" for op in ops), [op for op in ops if op["status"] != "201"][:3]
                self.pool += [op["location"].rsplit("/", 1)[1] for op in ops]
        return self

    # -- the clients -------------------------------------------------------------------------

    def _create(self, c: httpx.Client, i: int, n: int, rec: Record) -> None:
        rec.name = f"c{i}-{n:06d}@faults.example"
        r = c.post(f"{self.svc.origin}/scim/v2/Users", json=user_body(rec.name), headers=self.svc.scim_headers)
        rec.status = r.status_code
        if r.status_code == 201:
            rec.id = r.json().get("id", "")
        elif r.status_code >= 400:
            rec.error = "; ".join(scim_error_problems(r, r.status_code))

    def _patch(self, c: httpx.Client, i: int, n: int, rec: Record) -> None:
        rec.name = self.pool[n % len(self.pool)]
        body = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members",
                                                           "value": [{"value": rec.name}]}]}
        r = c.patch(f"{self.svc.origin}/scim/v2/Groups/{self.group_id}", json=body, headers=self.svc.scim_headers)
        rec.status = r.status_code
        if r.status_code >= 400:
            rec.error = "; ".join(scim_error_problems(r, r.status_code))

    def _check(self, c: httpx.Client, i: int, n: int, rec: Record) -> None:
        body, rec.expected = CHECKS[n % len(CHECKS)]
        r = c.post(f"{self.svc.origin}/v1/check", json=body, headers=self.svc.api_headers)
        rec.status = r.status_code
        if r.status_code == 200:
            out = r.json()
            rec.allowed, rec.stale = out.get("allowed"), out.get("stale", ABSENT)
            rec.decision_id = out.get("decision_id") or ""
            if rec.allowed is not rec.expected:
                rec.error = f"answered allowed={rec.allowed!r}, the policy says {rec.expected}"
        elif r.status_code >= 400:
            rec.error = "; ".join(json_error_problems(r, r.status_code))

    def probe(self, clock, timeout: float) -> list[Record]:
        """One request of each other kind, sent once (in the middle of the outage): reads, a check that
        asks for a revision this instance cannot confirm, bulk checks, a SCIM /Bulk."""
        far = {"at_least": 10**9}  # a revision this instance cannot confirm while the database is away
        at_least = {"user": "alice", "action": "view", "resource": "doc:1", "consistency": far}
        bulk = {"checks": [body for body, _ in CHECKS]}
        asks = [("check_at_least", "POST", "/v1/check", at_least), ("check_bulk", "POST", "/v1/check/bulk", bulk),
                ("check_bulk_at_least", "POST", "/v1/check/bulk", {**bulk, "consistency": far}),
                ("permissions", "GET", "/v1/users/alice/permissions", None),
                ("permissions_at_least", "GET", f"/v1/users/alice/permissions?at_least={far['at_least']}", None),
                ("scim_get_user", "GET", '/scim/v2/Users?filter=userName eq "alice"', None),
                ("scim_bulk", "POST", "/scim/v2/Bulk", bulk_of_users(["probe1@faults.example"]))]
        out = []
        with httpx.Client(base_url=self.svc.origin, timeout=timeout) as c:
            for name, method, path, body in asks:
                scim = path.startswith("/scim/")
                rec = Record(f"probe {name}", clock(), 0.0, None, name=name)
                try:
                    headers = self.svc.scim_headers if scim else self.svc.api_headers
                    r = c.request(method, path, json=body, headers=headers)
                    rec.status = r.status_code
                    if r.status_code >= 400:
                        rec.error = "; ".join((scim_error_problems if scim else json_error_problems)(r, r.status_code))
                    elif path.startswith("/v1/check"):  # did it allow anything?
                        answer = r.json()
                        rec.allowed = any(c.get("allowed") is True for c in answer.get("results", [answer]))
                except httpx.HTTPError as e:
                    rec.error = f"{type(e).__name__}: {e}"
                rec.t1 = clock()
                out.append(rec)
        return out

    def run(self, pg: PrivatePostgres, *, before: float, outage: float, after: float, creators: int = 2,
            patchers: int = 1, checkers: int = 2, client_timeout: float = 60) -> OutageRun:
        """Load for `before` seconds, the database stopped for `outage` seconds, load for `after` more."""
        records: list[Record] = []
        lock = threading.Lock()
        done = threading.Event()
        t_zero = time.monotonic()
        clock = lambda: time.monotonic() - t_zero  # noqa: E731

        def client(kind: str, do, i: int) -> None:
            with httpx.Client(timeout=client_timeout) as c:
                n = 0
                while not done.is_set():
                    rec = Record(kind, clock(), 0.0, None)
                    try:
                        do(c, i, n, rec)
                    except httpx.HTTPError as e:
                        rec.status, rec.error = None, f"{type(e).__name__}: {e}"
                    except ValueError as e:  # a body that is not JSON
                        rec.error = f"body is not JSON: {e}"
                    rec.t1 = clock()
                    with lock:
                        records.append(rec)
                    n += 1
                    if not rec.ok:
                        time.sleep(PAUSE_AFTER_ERROR)

        plan = [("create", self._create)] * creators + [("patch", self._patch)] * patchers \
            + [("check", self._check)] * checkers
        threads = [threading.Thread(target=client, args=(kind, do, i), daemon=True)
                   for i, (kind, do) in enumerate(plan)]
        workers_before = self.svc.worker_pids()
        tl = Timeline()
        for t in threads:
            t.start()
        try:
            time.sleep(before)
            # A worker that never verified the API key cannot do it with the database away (its check
            # gets a 503, rightly): go on until every worker has answered a check (the decision id
            # starts with a prefix of the worker's own).
            deadline = time.monotonic() + 30
            while len(_answering(records, lock)) < len(workers_before) and time.monotonic() < deadline:
                time.sleep(0.05)
            tl.stop_begin = clock()
            pg.stop("fast")
            tl.stop_end = clock()
            time.sleep(max(0.0, outage / 2 - (tl.stop_end - tl.stop_begin)))
            probes = self.probe(clock, client_timeout)
            with lock:
                records.extend(probes)
            time.sleep(max(0.0, tl.stop_begin + outage - clock()))
            tl.start_begin = clock()
            pg.start()
            tl.start_end = clock()
            time.sleep(after)
        finally:
            if not pg.running():
                pg.start()
            done.set()
            for t in threads:
                t.join(timeout=client_timeout + 5)
        tl.end = clock()
        run = OutageRun(sorted(records, key=lambda r: r.t0), tl, workers_before, self.svc.worker_pids(),
                        self.svc.proc.poll() is None)
        run.checked_by = len(_answering([r for r in records if r.t1 < tl.stop_begin], lock))
        run.server_log = str(self.svc.log_path)
        self._read_database(pg, run)
        return run

    def _read_database(self, pg: PrivatePostgres, run: OutageRun, decision_wait: float = 10.0) -> None:
        """What the database holds afterwards: the users (by userName), staff's members, the decision log
        (waited for: the log is written behind the checks, and catches up after an outage)."""
        dbname = self.svc.database_url.rsplit("/", 1)[1]
        tenant = "(SELECT id FROM tenants WHERE key = %s)"
        for name, uid in pg.query(f"SELECT user_name, id FROM users WHERE tenant_id = {tenant}", (TENANT,), dbname):
            run.users.setdefault(name, []).append(uid)
        run.members = dict(pg.query("SELECT member_id, count(*) FROM group_members WHERE group_id = %s "
                                    "GROUP BY member_id", (self.group_id,), dbname))
        answered = {r.decision_id for r in run.records if r.kind == "check" and r.status == 200 and r.decision_id}
        deadline = time.monotonic() + decision_wait
        while True:
            run.decisions = {row[0] for row in pg.query(f"SELECT id FROM decisions WHERE tenant_id = {tenant}",
                                                        (TENANT,), dbname)}
            if answered <= run.decisions or time.monotonic() > deadline:
                return
            time.sleep(0.2)


def _answering(records: list[Record], lock: threading.Lock) -> set[str]:
    """The workers (decision-id prefixes) that answered a check among `records`."""
    with lock:
        return {r.decision_id.split("-", 1)[0] for r in records if r.decision_id}


def start_outage_service(pg: PrivatePostgres, workdir, *, deadline_seconds: float, workers: int = 2,
                         pool_size: int = 200) -> tuple[Service, Workload]:
    """The service on a fresh database of `pg`, with a request deadline, and its workload's data."""
    url = pg.create_database("faults")
    gunicorn_timeout = int(deadline_seconds) + 5
    # Connections closed after every answer, so the load reaches every worker before the outage
    # (a kept connection stays with one).
    svc = Service(url, workdir, WEB_CONCURRENCY=str(workers), REQUEST_DEADLINE_SECONDS=str(deadline_seconds),
                  GUNICORN_TIMEOUT=str(gunicorn_timeout), GUNICORN_KEEPALIVE="0").prepare().start()
    try:
        return svc, Workload(svc, pool_size).prepare()
    except BaseException:
        svc.stop()
        raise
