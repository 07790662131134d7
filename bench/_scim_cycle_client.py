"""scim_cycle's client: each unit's requests as Microsoft Entra ID and Okta send them, every answer
checked and timed by request kind, and the runner that deals a step's units to the connections.

Bodies follow what the IdPs send: Entra's POST /Users carries the enterprise extension and
`meta.resourceType`, its member PATCHes say "Add" with a capital; Okta's PUT echoes the resource it
has just read back with one attribute changed, deactivates with a pathless `replace`, removes
members with a `members[value eq "…"]` filter and renames a group with a pathless `replace` naming
the group's id and new displayName.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import httpx
from _machine import machine_busy_seconds
from _scim import GROUP_SCHEMA, PATCH_SCHEMA, USER_SCHEMA
from _scim_cycle_plan import MEMBER_BATCH, Plan
from _server import Server

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
KINDS = ("lookup_user", "create_user", "lookup_group", "create_group", "add_members",
         "get_user", "put_user", "deactivate", "member_delta", "rename")
WRITE_KINDS = ("create_user", "create_group", "add_members", "put_user", "deactivate", "member_delta", "rename")

Check = Callable[[dict | None], str | None]   # the parsed body (None when there is none) -> the error, if any


class Recorder:
    """Latencies (ms) and errors per request kind; a few error samples with request and response."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {k: [] for k in KINDS}
        self.errors: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.samples: list[str] = []
        self.client_errors = 0

    def add(self, kind: str, ms: float, err: str | None) -> None:
        with self.lock:
            self.latencies[kind].append(ms)
            if err is not None:
                self.errors[kind] += 1
                if len(self.samples) < 8:
                    self.samples.append(f"[{kind}] {err}"[:900])

    def client_error(self, msg: str) -> None:
        """A bug of this client (not an answer of the server): the run's figures cannot be trusted."""
        with self.lock:
            self.client_errors += 1
            self.samples.append(msg[:900])

    def requests(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.latencies.values())

    def error_count(self) -> int:
        with self.lock:
            return sum(self.errors.values())


class Cycle:
    """One server's run of the plan: the ids it gave, what it answered, how long each request took."""

    def __init__(self, server: Server, plan: Plan, stateful: bool):
        self.server, self.plan, self.stateful = server, plan, stateful
        self.user_ids: dict[str, str] = {}      # userName -> id, as this server created it
        self.group_ids: dict[str, str] = {}     # the group's first displayName -> id
        self.lock = threading.Lock()
        self.rec = Recorder()
        self.not_sent = 0                       # requests dropped because one they depend on failed

    # ---- one request ----------------------------------------------------------------------------
    def call(self, client: httpx.Client, kind: str, method: str, url: str, statuses: tuple[int, ...],
             check: Check | None = None, body: dict | None = None, params: dict | None = None) -> dict | None:
        """Send, time, check the status and `check(body)`; the parsed body ({} for none) when right, else None."""
        t0 = time.perf_counter()
        err, parsed = None, None
        try:
            r = client.request(method, url, json=body, params=params)
            elapsed = (time.perf_counter() - t0) * 1000
            if r.status_code not in statuses:
                err = f"{r.status_code}: {r.text[:400]}"
            else:
                parsed = r.json() if r.content else {}
                err = check(parsed) if check else None
        except (httpx.HTTPError, ValueError) as e:
            elapsed = (time.perf_counter() - t0) * 1000
            err = f"{type(e).__name__}: {e}"
        if err is not None:
            sent = f" {str(body)[:300]}" if body is not None else ""
            err = f"{method} {url}{'?' + str(params) if params else ''}{sent} -> {err}"
        self.rec.add(kind, elapsed, err)
        return parsed if err is None else None

    def _found_nothing(self, attr: str, value: str) -> Check:
        def check(b):
            res = b.get("Resources") or []
            if b.get("totalResults") == 0 and not res:
                return None
            if not self.stateful and len(res) == 1 and str(res[0].get(attr, "")).lower() == value.lower():
                return None          # the floor keeps nothing, so it always "finds" what is named
            return f"expected no match, got totalResults={b.get('totalResults')} ({len(res)} resources)"
        return check

    # ---- Entra ID's initial cycle ---------------------------------------------------------------
    def create_user(self, client: httpx.Client, name: str) -> None:
        u = self.plan.users[name]
        if self.call(client, "lookup_user", "GET", "/Users", (200,), self._found_nothing("userName", name),
                     params={"filter": f'userName eq "{name}"'}) is None:
            self.not_sent += 1
            return
        ext = {"employeeNumber": u.employee_number, "department": u.department}
        if u.manager is not None and u.manager in self.user_ids:
            ext["manager"] = {"value": self.user_ids[u.manager]}
        body = {"schemas": [USER_SCHEMA, ENTERPRISE], "externalId": u.external_id, "userName": name, "active": True,
                "displayName": f"{u.given} {u.family}", "title": u.title,
                "emails": [{"primary": True, "type": "work", "value": name}], "meta": {"resourceType": "User"},
                "name": {"formatted": f"{u.given} {u.family}", "familyName": u.family, "givenName": u.given},
                ENTERPRISE: ext}

        def check(b):
            if not b.get("id") or str(b.get("userName", "")).lower() != name.lower():
                return f"answered {str(b)[:200]}"
            return None
        got = self.call(client, "create_user", "POST", "/Users", (201,), check, body=body)
        if got is not None:
            with self.lock:
                self.user_ids[name] = got["id"]

    def create_group(self, client: httpx.Client, name: str) -> None:
        g = self.plan.groups[name]
        if self.call(client, "lookup_group", "GET", "/Groups", (200,), self._found_nothing("displayName", name),
                     params={"filter": f'displayName eq "{name}"', "excludedAttributes": "members"}) is None:
            self.not_sent += 1 + -(-(len(g.users) + len(g.subgroups)) // MEMBER_BATCH)
            return
        body = {"schemas": [GROUP_SCHEMA], "externalId": g.external_id, "displayName": name,
                "meta": {"resourceType": "Group"}}
        got = self.call(client, "create_group", "POST", "/Groups", (201,),
                        lambda b: None if b.get("id") and b.get("displayName") == name else f"answered {str(b)[:200]}",
                        body=body)
        if got is None:
            self.not_sent += -(-(len(g.users) + len(g.subgroups)) // MEMBER_BATCH)
            return
        with self.lock:
            self.group_ids[name] = gid = got["id"]
        ids = [self.user_ids[n] for n in g.users if n in self.user_ids]
        ids += [self.group_ids[s] for s in g.subgroups if s in self.group_ids]
        for k in range(0, len(ids), MEMBER_BATCH):
            ops = [{"op": "Add", "path": "members", "value": [{"value": i} for i in ids[k:k + MEMBER_BATCH]]}]
            self.call(client, "add_members", "PATCH", f"/Groups/{gid}", (200, 204),
                      body={"schemas": [PATCH_SCHEMA], "Operations": ops})

    # ---- Okta's incremental cycle ---------------------------------------------------------------
    def put_user(self, client: httpx.Client, name: str, attr: str, value: str) -> None:
        uid = self.user_ids.get(name)
        if uid is None:
            self.not_sent += 2
            return

        def same_user(b):
            if b.get("id") != uid or (self.stateful and str(b.get("userName", "")).lower() != name.lower()):
                return f"answered id={b.get('id')} userName={b.get('userName')} for {name} ({uid})"
            return None
        body = self.call(client, "get_user", "GET", f"/Users/{uid}", (200,), same_user)
        if body is None:
            self.not_sent += 1
            return
        if attr == "title":
            body["title"] = value
        else:
            body.setdefault("name", {})["familyName"] = value

        def changed(b):
            got = b.get("title") if attr == "title" else (b.get("name") or {}).get("familyName")
            return same_user(b) or (None if got == value else f"{attr} is {got!r} after the PUT, not {value!r}")
        self.call(client, "put_user", "PUT", f"/Users/{uid}", (200,), changed, body=body)

    def deactivate(self, client: httpx.Client, name: str) -> None:
        uid = self.user_ids.get(name)
        if uid is None:
            self.not_sent += 1
            return
        self.call(client, "deactivate", "PATCH", f"/Users/{uid}", (200, 204),
                  lambda b: None if not b or b.get("active") is False else f"active is {b.get('active')!r}",
                  body={"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"active": False}}]})

    def member_delta(self, client: httpx.Client, group: str, removed: list[str], added: list[str]) -> None:
        gid = self.group_ids.get(group)
        if gid is None:
            self.not_sent += 1
            return
        ops = [{"op": "remove", "path": f'members[value eq "{self.user_ids[n]}"]'} for n in removed
               if n in self.user_ids]
        values = [{"value": self.user_ids[n], "display": n} for n in added if n in self.user_ids]
        if values:
            ops.append({"op": "add", "path": "members", "value": values})
        self.call(client, "member_delta", "PATCH", f"/Groups/{gid}", (200, 204),
                  body={"schemas": [PATCH_SCHEMA], "Operations": ops})

    def rename(self, client: httpx.Client, group: str, new: str) -> None:
        gid = self.group_ids.get(group)
        if gid is None:
            self.not_sent += 1
            return
        self.call(client, "rename", "PATCH", f"/Groups/{gid}", (200, 204),
                  lambda b: None if not b or b.get("displayName") == new else f"displayName {b.get('displayName')!r}",
                  body={"schemas": [PATCH_SCHEMA],
                        "Operations": [{"op": "replace", "value": {"id": gid, "displayName": new}}]})

    UNITS = {"user": "create_user", "group": "create_group", "put": "put_user", "deactivate": "deactivate",
             "delta": "member_delta", "rename": "rename"}

    def unit(self, client: httpx.Client, unit: tuple) -> None:
        getattr(self, self.UNITS[unit[0]])(client, *unit[1:])

    def warm_up(self, clients: list[httpx.Client], per_connection: int = 10) -> list[str]:
        """Look-ups of users nobody creates, not timed: every worker has served a few requests. The
        answers that were not 200, if any."""
        bad: list[str] = []

        def run(k: int, c: httpx.Client) -> None:
            for i in range(per_connection):
                try:
                    r = c.get("/Users", params={"filter": f'userName eq "warm-{k}-{i}@example.invalid"'})
                    if r.status_code != 200:
                        bad.append(f"warm-up GET /Users -> {r.status_code}: {r.text[:200]}")
                except httpx.HTTPError as e:
                    bad.append(f"warm-up GET /Users: {type(e).__name__}: {e}")
        threads = [threading.Thread(target=run, args=(k, c), daemon=True) for k, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return bad


def run_step(cycle: Cycle, clients: list[httpx.Client], units: list[tuple]) -> None:
    """Every unit once; each connection takes the next unit when it has finished its last."""
    nxt, lock = iter(units), threading.Lock()

    def worker(client: httpx.Client) -> None:
        while True:
            with lock:
                unit = next(nxt, None)
            if unit is None:
                return
            try:
                cycle.unit(client, unit)
            except Exception as e:  # noqa: BLE001 - a bug of the client: stop this connection, say so
                cycle.rec.client_error(f"client error on {unit[:2]}: {type(e).__name__}: {e}")
                return

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in clients[:max(1, len(units))]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_phase(cycle: Cycle, steps: list[tuple[str, list[tuple]]], clients: list[httpx.Client]) -> dict:
    """The steps in order; wall time, requests, CPU of this process, of the server's process group and
    of the whole machine (PostgreSQL's own processes are not in our server's group: they are in the
    machine's figure, with whatever else ran)."""
    n0, e0 = cycle.rec.requests(), cycle.rec.error_count()
    cpu0, scpu0, busy0 = os.times(), cycle.server.cpu_seconds(), machine_busy_seconds()
    t0 = time.perf_counter()
    step_s = {}
    for step, units in steps:
        ts = time.perf_counter()
        run_step(cycle, clients, units)
        step_s[step] = round(time.perf_counter() - ts, 3)
    seconds = time.perf_counter() - t0
    cpu1, scpu1, busy1 = os.times(), cycle.server.cpu_seconds(), machine_busy_seconds()
    n = cycle.rec.requests() - n0
    return {"requests": n, "errors": cycle.rec.error_count() - e0, "seconds": seconds,
            "req_s": n / seconds if seconds > 0 else None, "steps_s": step_s,
            "server_cpu_s": scpu1 - scpu0, "client_cpu_s": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
            "machine_cpu_s": busy1 - busy0}
