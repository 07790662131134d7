#!/usr/bin/env python
"""POST /v1/check over HTTP: our server against a bare Flask app served the same way, with wrk.

One run:
  1. a fresh SQLite database in a temp dir, migrated (`flask db upgrade`), a tenant, an app API
     key and a SCIM token (`flask tenants create`, `flask tokens issue`);
  2. our server started once to load a realistic tenant through the HTTP APIs: --roles roles of
     --perms-per-role permissions (POST /v1/roles), --users users with some direct role
     assignments (POST /v1/users/bulk), SCIM groups holding them, two of them nesting other groups
     (SCIM /Bulk), and group -> role mappings (POST /v1/group-mappings);
  3. for every server setting in --configs (default: the config's defaults, then sync workers
     2, 3, 4 x 1 thread), one server at a time:
       ours  `gunicorn -c config/gunicorn.conf.py wsgi:app`
       bare  `gunicorn -c <config/gunicorn.conf.py minus its server hooks> bare_app:app`
     (the same settings file and environment, so the same bind, workers, threads, worker class,
     keep-alive, timeout and preload; the hooks are dropped because they load our engine);
     --rounds rounds alternate the order (ours, bare | bare, ours | ...), each on a freshly
     started server: verified (known allowed and denied checks, through httpx), warmed up with
     wrk, then measured with wrk (`-t2 -c16 -d5s --latency`, a Lua `request()` drawing one of
     2,000 pre-generated check bodies at random: half allowed, half denied, some unknown users);
     a server's rounds are pooled (req/s = requests / seconds, percentiles over all requests);
     then, unless --paced-rate is 0, the same mix paced at --paced-rate req/s (default 2,000, the
     rate the target names): at saturation p99 is mostly queueing (16 connections, wrk on the
     same 2 cores; the bare app's p99 is 9-15 ms there), so p99 is also measured at that load.
     wrk (Debian's, not wrk2) waits the milliseconds a Lua `delay()` returns before each request
     on a connection: 8 ms, with ceil(rate x (8 + 2) / 1000) connections (2 ms: a light-load
     round trip plus wrk's timer, rounded up), for --duration s right after the saturated run (which warmed the
     server). That is a closed loop with think time, not an open-loop constant-rate generator (a
     slow response delays its connection's next request), so the achieved rate is reported; below
     95% of the offered rate the row says "rate not reached" and the paced target is not met;
     in its first round ours also gets POST /v1/check/bulk with 1,000 checks per request (one
     batch verified check by check first).
A row with any wrk error (non-2xx, connect, read, write or timeout) or a failed verification
is FAILED. `cat /proc/loadavg` and the CPU used by the server, by wrk and by everything else
on the machine are recorded for every measurement: the machine is shared, and the ratio
against bare, measured in the same run, is the figure that matters.

stdout: a table, then, as the last line, one JSON object. Progress goes to stderr.

    .venv/bin/python bench/check_http.py                        # ~7-8 minutes on 2 cores
    .venv/bin/python bench/check_http.py --configs default --rounds 1   # quick
    .venv/bin/python bench/check_http.py --configs default --profile 10 --profile-dir /tmp/prof  # + py-spy
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import runpy
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (BENCH_DIR, BIN, BULK_SCHEMA, GROUP_SCHEMA, GUNICORN_HOOKS, LOOPBACK, ROOT, Server,  # noqa: E402
                     flask_cli, free_port, log, machine_busy_seconds, product_state, rnd, write_floor_config)

CONFIG = ROOT / "config" / "gunicorn.conf.py"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
SETTINGS_SHOWN = ("bind", "workers", "threads", "worker_class", "keepalive", "timeout", "preload_app", "accesslog")
TARGETS = {"ours_req_s_min": 2000, "ours_p99_ms_max": 10.0, "ratio_vs_bare_min": 0.80, "bulk_checks_s_min": 100_000}
TYPES = ["doc", "folder", "project", "report", "invoice", "ticket", "dashboard", "dataset", "repo", "contract"]
ACTIONS = ["view", "edit", "delete", "share", "comment", "approve", "export", "archive", "create", "admin"]


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def children_cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# ---- gunicorn settings -----------------------------------------------------------------------

def config_env(workers: int | None, threads: int | None, port: int) -> dict:
    """The environment both servers get: the config reads BIND, WEB_CONCURRENCY, GUNICORN_THREADS."""
    env = {k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY", "GUNICORN_THREADS")}
    env.update({"BIND": f"{LOOPBACK}:{port}", "ACCESS_LOG": ""})  # empty: no access log
    if workers is not None:
        env["WEB_CONCURRENCY"] = str(workers)
    if threads is not None:
        env["GUNICORN_THREADS"] = str(threads)
    return env


def effective_settings(env: dict) -> dict:
    """What config/gunicorn.conf.py gives in this environment (it is evaluated the way gunicorn does)."""
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        ns = runpy.run_path(str(CONFIG))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    out = {k: ns.get(k) for k in SETTINGS_SHOWN}
    out["worker_class"] = out["worker_class"] or "sync"
    out["hooks"] = [h for h in GUNICORN_HOOKS if callable(ns.get(h))]
    return out


# ---- the tenant ------------------------------------------------------------------------------

class Tenant:
    """The generated policy, and what every check against it must answer."""

    def __init__(self, rng: random.Random, n_users: int, n_roles: int, perms_per_role: int, n_groups: int):
        self.perms = [f"{t}:{a}" for t in TYPES for a in ACTIONS]
        self.roles = {f"role-{i:02d}": sorted(rng.sample(self.perms, perms_per_role)) for i in range(n_roles)}
        role_keys = list(self.roles)
        self.users = [f"user{i:04d}@bench.example" for i in range(n_users)]
        # 30% of users get one or two direct (app-managed) roles.
        self.direct = {u: (rng.sample(role_keys, rng.choice((1, 1, 2))) if rng.random() < 0.3 else [])
                       for u in self.users}
        # Leaf groups hold users (each user in 1 or 2 of them, 5% in none); the last two groups
        # each nest four leaf groups (members reach their mappings transitively).
        n_leaf = max(1, n_groups - 2)
        self.groups = [f"bench-group-{j:02d}" for j in range(n_groups)]
        self.members: dict[str, list[str]] = {g: [] for g in self.groups}
        for u in self.users:
            if rng.random() < 0.05:
                continue
            for g in rng.sample(self.groups[:n_leaf], rng.choice((1, 2))):
                self.members[g].append(u)
        self.nested = {g: rng.sample(self.groups[:n_leaf], min(4, n_leaf)) for g in self.groups[n_leaf:]}
        self.mappings = {g: rng.sample(role_keys, 1 if g in self.nested else rng.choice((1, 2)))
                         for g in self.groups}
        self.ids: dict[str, str] = {}          # userName -> id (from the server)
        self.group_ids: dict[str, str] = {}
        self.effective = {u: self._effective(u) for u in self.users}

    def _effective(self, u: str) -> set[str]:
        groups = {g for g, m in self.members.items() if u in m}
        groups |= {parent for parent, kids in self.nested.items() if groups & set(kids)}
        roles = set(self.direct[u]) | {r for g in groups for r in self.mappings[g]}
        return {p for r in roles for p in self.roles[r]}

    def check_bodies(self, rng: random.Random, n: int) -> list[tuple[dict, bool]]:
        """n checks, half allowed and half denied; 30% name the user by id, 2% an unknown user."""
        want = {True: n // 2, False: n - n // 2}
        out = []
        while want[True] or want[False]:
            if rng.random() < 0.02 and want[False]:
                body = {"user": f"nobody{rng.randrange(10**6)}@bench.example", "action": rng.choice(ACTIONS),
                        "resource": f"{rng.choice(TYPES)}:{rng.randrange(1, 100_000)}"}
                out.append((body, False))
                want[False] -= 1
                continue
            u = rng.choice(self.users)
            t, a = rng.choice(TYPES), rng.choice(ACTIONS)
            allowed = f"{t}:{a}" in self.effective[u]
            if not want[allowed]:
                continue
            want[allowed] -= 1
            ref = self.ids[u] if rng.random() < 0.3 else u
            out.append(({"user": ref, "action": a, "resource": f"{t}:{rng.randrange(1, 100_000)}"}, allowed))
        rng.shuffle(out)
        return out


def load_tenant(url: str, api_key: str, scim_token: str, tenant: Tenant) -> dict:
    """Roles, users (with direct roles), SCIM groups and group mappings, through the HTTP APIs."""
    t0 = time.perf_counter()
    api = httpx.Client(base_url=f"{url}/v1", headers={"Authorization": f"Bearer {api_key}"}, timeout=120)
    scim = httpx.Client(base_url=f"{url}/scim/v2", timeout=120,
                        headers={"Authorization": f"Bearer {scim_token}", "Content-Type": "application/scim+json"})
    try:
        for key, perms in tenant.roles.items():
            r = api.post("/roles", json={"key": key, "permissions": perms})
            if r.status_code != 201:
                raise RuntimeError(f"POST /v1/roles {key}: {r.status_code} {r.text[:300]}")
        users = [{"key": u, "userName": u, "displayName": u.split("@")[0], "roles": tenant.direct[u]}
                 for u in tenant.users]
        r = api.post("/users/bulk", json={"users": users})
        body = r.json() if r.status_code == 200 else {}
        if r.status_code != 200 or body.get("failed") != 0 or body.get("succeeded") != len(users):
            raise RuntimeError(f"POST /v1/users/bulk: {r.status_code} {r.text[:300]}")
        for res in body["results"]:
            tenant.ids[res["user"]["userName"]] = res["user"]["id"]
        ops = []
        for j, g in enumerate(tenant.groups):
            members = [{"value": tenant.ids[u]} for u in tenant.members[g]]
            members += [{"value": f"bulkId:g{tenant.groups.index(k)}"} for k in tenant.nested.get(g, [])]
            ops.append({"method": "POST", "path": "/Groups", "bulkId": f"g{j}",
                        "data": {"schemas": [GROUP_SCHEMA], "displayName": g, "members": members}})
        r = scim.post("/Bulk", json={"schemas": [BULK_SCHEMA], "failOnErrors": 1, "Operations": ops})
        if r.status_code != 200:
            raise RuntimeError(f"SCIM /Bulk: {r.status_code} {r.text[:300]}")
        for op in r.json()["Operations"]:
            if str(op.get("status")) != "201":
                raise RuntimeError(f"SCIM /Bulk operation failed: {op}")
            tenant.group_ids[tenant.groups[int(op["bulkId"][1:])]] = op["location"].rstrip("/").rsplit("/", 1)[1]
        n_map = 0
        for g, roles in tenant.mappings.items():
            for role in roles:
                r = api.post("/group-mappings", json={"group": tenant.group_ids[g], "role": role})
                if r.status_code != 201:
                    raise RuntimeError(f"POST /v1/group-mappings: {r.status_code} {r.text[:300]}")
                n_map += 1
        # The server's own view of a few users must be the model's.
        for u in tenant.users[:25]:
            r = api.get(f"/users/{tenant.ids[u]}/permissions")
            if r.status_code != 200 or set(r.json()["permissions"]) != tenant.effective[u]:
                raise RuntimeError(f"GET /v1/users/{u}/permissions differs from the model: {r.text[:300]}")
    finally:
        api.close()
        scim.close()
    return {"users": len(tenant.users), "roles": len(tenant.roles),
            "permissions_per_role": len(next(iter(tenant.roles.values()))),
            "permission_universe": len(tenant.perms), "groups": len(tenant.groups),
            "nested_groups": len(tenant.nested),
            "group_memberships": sum(len(m) for m in tenant.members.values()),
            "users_with_direct_roles": sum(1 for v in tenant.direct.values() if v),
            "direct_assignments": sum(len(v) for v in tenant.direct.values()), "group_mappings": n_map,
            "users_without_any_permission": sum(1 for v in tenant.effective.values() if not v),
            "load_seconds": round(time.perf_counter() - t0, 1)}


# ---- wrk -------------------------------------------------------------------------------------

LUA_TEMPLATE = r"""-- generated by bench/check_http.py
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
local bodies = {
%(bodies)s
}
local reqs = {}
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(%(seed)d + 7919 * tid)
  for i, b in ipairs(bodies) do
    reqs[i] = wrk.format(nil, "%(path)s", nil, b)
  end
end

function request()
  return reqs[math.random(#reqs)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"bytes":%%d,"connect":%%d,"read":%%d,"write":%%d,"status":%%d,' ..
    '"timeout":%%d,"p50_us":%%d,"p75_us":%%d,"p90_us":%%d,"p99_us":%%d,"mean_us":%%.1f,"max_us":%%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(75), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
  local q = {}
  for i = 1, 1000 do q[i] = latency:percentile((i - 0.5) / 10) end
  io.write("WRKQ " .. table.concat(q, ",") .. "\n")
end
"""


# wrk calls delay() before every request on a connection and waits that many milliseconds (it
# reads an integer) before writing it; the latency it records starts at the write, so it excludes
# the wait. Appended only for the paced script: the saturated one stays as it was.
LUA_DELAY = """
function delay()
  return %(delay_ms)d
end
"""
# Paced load: every connection waits PACED_DELAY_MS after each response, so it sends about one
# request per (delay + latency). At light load a round trip plus wrk's timer take 1.2-1.6 ms here;
# PACED_LATENCY_MS = 2 errs towards offering the rate in full (the achieved rate is what is shown).
PACED_DELAY_MS = 8
PACED_LATENCY_MS = 2
PACED_RATE_SHARE_MIN = 0.95  # below this share of the offered rate, the paced row did not reach its load


def write_lua(path: Path, token: str, url_path: str, bodies: list[str], seed: int, delay_ms: int | None = None) -> Path:
    for b in bodies:
        if "]==]" in b:
            raise ValueError("a body cannot be embedded in a Lua long string")
    text = LUA_TEMPLATE % {"token": token, "path": url_path, "seed": seed,
                           "bodies": ",\n".join(f"[==[{b}]==]" for b in bodies)}
    if delay_ms is not None:
        text += LUA_DELAY % {"delay_ms": delay_ms}
    path.write_text(text)
    return path


def paced_connections(rate: int, threads: int) -> int:
    """Connections that offer about `rate` req/s when each sends one request per delay + latency,
    rounded up to a multiple of wrk's threads (wrk gives each thread connections // threads)."""
    conns = -(-rate * (PACED_DELAY_MS + PACED_LATENCY_MS) // 1000)
    return max(threads, -(-conns // threads) * threads)


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_wrk(out: str) -> dict:
    """wrk's summary: the done() JSON line, cross-checked with the text it prints."""
    m = re.search(r"^WRKJSON (\{.*\})$", out, re.MULTILINE)
    if not m:
        raise RuntimeError(f"no summary in wrk's output:\n{out[-2000:]}")
    j = json.loads(m.group(1))
    text = {}
    rs = re.search(r"Requests/sec:\s+([\d.]+)", out)
    text["req_s"] = float(rs.group(1)) if rs else None
    for pct, val, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", out, re.MULTILINE):
        text[f"p{pct}_ms"] = float(val) * UNITS[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    text["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    text["socket_errors"] = sum(int(x) for x in sock.groups()) if sock else 0
    secs = j["duration_us"] / 1e6
    errors = {"non_2xx": max(j["status"], text["non_2xx"]), "connect": j["connect"], "read": j["read"],
              "write": j["write"], "timeout": j["timeout"]}
    qm = re.search(r"^WRKQ ([\d,.]+)$", out, re.MULTILINE)
    quantiles = [float(x) for x in qm.group(1).split(",")] if qm else []
    return {"quantiles_us": quantiles, "requests": j["requests"], "seconds": round(secs, 3), "req_s": j["requests"] / secs if secs else 0.0,
            "p50_ms": j["p50_us"] / 1e3, "p75_ms": j["p75_us"] / 1e3, "p90_ms": j["p90_us"] / 1e3,
            "p99_ms": j["p99_us"] / 1e3, "mean_ms": j["mean_us"] / 1e3, "max_ms": j["max_us"] / 1e3,
            "errors": errors, "error_total": sum(errors.values()), "wrk_text": text}


def run_wrk(server: Server, script: Path, threads: int, conns: int, seconds: float) -> dict:
    argv = [WRK, f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "10s", "-s", str(script),
            server.url]
    load = loadavg()
    cpu0, busy0, srv0 = children_cpu_seconds(), machine_busy_seconds(), server.cpu_seconds()
    t0 = time.perf_counter()
    p = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=seconds + 60, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    wrk_cpu, busy, srv = children_cpu_seconds() - cpu0, machine_busy_seconds() - busy0, server.cpu_seconds() - srv0
    if p.returncode != 0:
        raise RuntimeError(f"wrk failed ({p.returncode}): {p.stderr[-2000:]}\n{p.stdout[-2000:]}")
    res = parse_wrk(p.stdout)
    res.update({"loadavg_before": load, "load1_before": float(load.split()[0]),
                "server_cpu_s": round(srv, 2), "wrk_cpu_s": round(wrk_cpu, 2),
                "other_cpu_cores": round(max(0.0, busy - srv - wrk_cpu) / elapsed, 2),
                "server_cpu_us_per_req": round(srv / res["requests"] * 1e6, 1) if res["requests"] else None,
                "command": " ".join(argv[:-3] + ["-s", script.name, server.url])})
    return res


def pool_rounds(rounds: list[dict]) -> dict:
    """One server's rounds as one measurement: requests / seconds, and percentiles of all the
    requests (each round's latency distribution as 1,000 quantiles, weighted by its requests)."""
    ok = [r for r in rounds if r.get("requests")]
    bad = [r["status"] for r in rounds if r.get("status") != "ok"]
    out: dict = {"status": bad[0] if bad else "ok", "rounds": len(rounds)}
    if not ok:
        return out
    req, secs = sum(r["requests"] for r in ok), sum(r["seconds"] for r in ok)
    points = sorted((v, r["requests"] / len(r["quantiles_us"])) for r in ok for v in r["quantiles_us"])
    total = sum(w for _, w in points)

    def q(p: float) -> float:
        acc = 0.0
        for v, w in points:
            acc += w
            if acc >= p / 100 * total - 1e-9:
                return v / 1e3
        return points[-1][0] / 1e3
    errors = {k: sum(r["errors"][k] for r in ok) for k in ok[0]["errors"]}
    cpu = sum(r["server_cpu_s"] for r in ok)
    out.update({"requests": req, "seconds": round(secs, 3), "req_s": req / secs, "p50_ms": q(50), "p75_ms": q(75),
                "p90_ms": q(90), "p99_ms": q(99), "max_ms": max(r["max_ms"] for r in ok),
                "mean_ms": sum(r["mean_ms"] * r["requests"] for r in ok) / req,
                "errors": errors, "error_total": sum(errors.values()), "server_cpu_s": round(cpu, 2),
                "server_cpu_us_per_req": round(cpu / req * 1e6, 1),
                "wrk_cpu_s": round(sum(r["wrk_cpu_s"] for r in ok), 2),
                "other_cpu_cores": round(sum(r["other_cpu_cores"] * r["seconds"] for r in ok) / secs, 2),
                "loadavg_before": [r["loadavg_before"] for r in rounds if "loadavg_before" in r],
                "req_s_rounds": [round(r["req_s"], 1) for r in ok],
                "p99_ms_rounds": [round(r["p99_ms"], 2) for r in ok],
                "worker_processes": ok[0].get("worker_processes"),
                "verify_ok": all(r.get("verify", {}).get("ok") for r in rounds)})
    logs = [r["decision_log"] for r in rounds if "decision_log" in r]
    if logs:
        added, sent = sum(d["rows_added"] for d in logs), sum(d["checks_answered_at_least"] for d in logs)
        out["decision_log"] = {"rows_added": added, "checks_answered_at_least": sent,
                               "ok": all(d["ok"] for d in logs)}
    errs = [r["error"] for r in rounds if "error" in r]
    if errs:
        out["error"] = errs[0]
    return out


def pool_paced(rounds: list[dict], offered: int) -> dict:
    """One server's paced runs (row["paced"] of each round), pooled like its saturated ones. A round
    that has none (its server failed before) keeps the round's status. "rate not reached" when the
    achieved rate is below PACED_RATE_SHARE_MIN of the offered one: its p99 is not at that load."""
    runs = [r["paced"] if "paced" in r else
            {"status": r["status"] if r.get("status", "ok") != "ok" else "FAILED(no paced run)"} for r in rounds]
    out = pool_rounds(runs)
    for k in ("verify_ok", "worker_processes"):  # the round's, which the saturated row already has
        out.pop(k, None)
    out["offered_req_s"] = offered
    if out.get("req_s") is not None:
        out["achieved_share"] = out["req_s"] / offered
        out["rate_reached"] = out["achieved_share"] >= PACED_RATE_SHARE_MIN
        if out["status"] == "ok" and not out["rate_reached"]:
            out["status"] = "rate not reached"
    return out


# ---- verification ----------------------------------------------------------------------------

def verify_ours(url: str, api_key: str, known: list[tuple[dict, bool]]) -> dict:
    """Known allowed and denied checks, the answer's shape, and that a bad key is refused."""
    wrong = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as c:
        for body, want in known:
            r = c.post("/v1/check", json=body)
            j = r.json() if r.status_code == 200 else {}
            if r.status_code != 200 or j.get("allowed") is not want or not isinstance(j.get("decision_id"), str) \
                    or not isinstance(j.get("revision"), int):
                wrong.append({"body": body, "want": want, "got": f"{r.status_code} {r.text[:200]}"})
        bad = c.post("/v1/check", json=known[0][0], headers={"Authorization": "Bearer not-a-key"}).status_code
    n_allowed = sum(1 for _, w in known if w)
    return {"ok": not wrong and bad == 401, "checks": len(known), "allowed": n_allowed,
            "denied": len(known) - n_allowed, "wrong": wrong[:5], "bad_key_status": bad}


def verify_bare(url: str, body: dict) -> dict:
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.post("/v1/check", json=body)
        bad = c.post("/v1/check", content=b"not json", headers={"Content-Type": "application/json"}).status_code
    want = {"allowed": True, "decision_id": "x", "revision": 1}
    ok = r.status_code == 200 and r.json() == want and bad == 400
    return {"ok": ok, "answer": f"{r.status_code} {r.text[:100]}", "non_json_status": bad}


def verify_bulk(url: str, api_key: str, batch: list[tuple[dict, bool]]) -> dict:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60) as c:
        r = c.post("/v1/check/bulk", json={"checks": [b for b, _ in batch]})
    if r.status_code != 200:
        return {"ok": False, "error": f"{r.status_code} {r.text[:300]}"}
    results = r.json().get("results", [])
    wrong = sum(1 for (b, w), got in zip(batch, results) if got.get("allowed") is not w)
    wrong += abs(len(results) - len(batch))
    return {"ok": wrong == 0, "checks": len(batch), "allowed": sum(1 for _, w in batch if w), "wrong": wrong}


def count_decisions(db_path: Path) -> int:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]


# ---- profiling (optional) --------------------------------------------------------------------

GENERIC_FRAMES = ("(threading.py)", "(concurrent/futures/thread.py)", "(gunicorn/arbiter.py)", "(gunicorn/app/",
                  "<module> (gunicorn)", "Worker.init_process", "ThreadWorker.run ", "SyncWorker.run ")


def summarize_collapsed(path: Path, top: int = 25) -> dict:
    """py-spy's raw (collapsed) stacks of the workers (not the master) -> the functions with most
    samples: inclusive (a function and what it calls; generic thread/boot frames left out) and self."""
    total, incl, selfc = 0, {}, {}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        parts = stack.split(";")
        if sum(1 for f in parts if f.startswith("process ")) < 2:  # the master's own samples
            continue
        frames = [re.sub(r":\d+\)$", ")", f) for f in parts if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        n = int(n)
        total += n
        for f in set(frames):
            if not any(g in f for g in GENERIC_FRAMES):
                incl[f] = incl.get(f, 0) + n
        selfc[frames[-1]] = selfc.get(frames[-1], 0) + n

    def pct(d):
        return [{"frame": f, "pct": round(100 * c / total, 1)} for f, c in sorted(d.items(), key=lambda x: -x[1])[:top]]
    return {"samples": total, "inclusive": pct(incl), "self": pct(selfc)}


def profile(server: Server, script: Path, seconds: int, out_dir: Path, label: str, wrk_args: tuple,
            gil: bool = False) -> dict:
    """py-spy every worker of `server` for `seconds` while wrk drives it (wrk starts 1 s earlier, ends 1 s later)."""
    pyspy = shutil.which("py-spy") or str(BIN / "py-spy")
    if not Path(pyspy).exists():
        return {"error": "py-spy is not installed (pip install py-spy)"}
    raw = out_dir / f"pyspy_{label}.txt"
    threads, conns = wrk_args
    argv = [pyspy, "record", "--pid", str(server.proc.pid), "--subprocesses", "--nonblocking", "--rate", "200",
            "--duration", str(seconds), "--format", "raw", "--output", str(raw), *(["--gil"] if gil else [])]
    wrk = subprocess.Popen([WRK, f"-t{threads}", f"-c{conns}", f"-d{seconds + 2}s", "--latency", "--timeout", "10s",
                            "-s", str(script), server.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(1.0)
        spy = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=seconds + 60)
        out, _ = wrk.communicate(timeout=seconds + 60)
    finally:
        if wrk.poll() is None:
            os.killpg(wrk.pid, signal.SIGKILL)
            wrk.wait(timeout=10)
    if spy.returncode != 0 or not raw.exists():
        return {"error": f"py-spy failed ({spy.returncode}): {spy.stderr[-500:]}"}
    summary = summarize_collapsed(raw)
    summary.update({"raw": str(raw), "command": " ".join(argv[:2] + ["--pid", "<master>"] + argv[4:]),
                    "wrk_req_s_while_profiled": rnd(parse_wrk(out)["req_s"], 1)})
    return summary


# ---- main ------------------------------------------------------------------------------------

def parse_configs(spec: str) -> list[tuple[str, int | None, int | None]]:
    out = []
    for item in spec.split(","):
        item = item.strip()
        if item == "default":
            out.append(("default", None, None))
        else:
            w, t = item.lower().split("x")
            out.append((item, int(w), int(t)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--roles", type=int, default=50)
    ap.add_argument("--perms-per-role", type=int, default=20)
    ap.add_argument("--groups", type=int, default=20)
    ap.add_argument("--bodies", type=int, default=2000, help="pre-generated check bodies wrk draws from")
    ap.add_argument("--configs", default="default,2x1,3x1,4x1",
                    help="'default' (the config's own) and/or WORKERSxTHREADS (threads 1 = sync workers)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3,
                    help="measurements per server and setting, alternating ours and bare (a fresh server each)")
    ap.add_argument("--duration", type=int, default=5, help="seconds per round (so rounds x duration per server)")
    ap.add_argument("--paced-rate", type=int, default=2000, metavar="REQ_S",
                    help="after each saturated run, the same mix offered at this rate for --duration s "
                         f"(wrk delay() of {PACED_DELAY_MS} ms per connection); 0: no paced runs")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of wrk after each start, before measuring")
    ap.add_argument("--bulk-size", type=int, default=1000)
    ap.add_argument("--bulk-connections", type=int, default=4)
    ap.add_argument("--bulk-duration", type=int, default=10)
    ap.add_argument("--profile", type=int, default=0, metavar="SECONDS",
                    help="after the measurements, py-spy our workers (default config) for this long")
    ap.add_argument("--profile-dir", default=None, help="keep py-spy's raw stacks here (default: printed, not kept)")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (database, server logs, Lua scripts)")
    args = ap.parse_args()
    configs = parse_configs(args.configs)

    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench_check_http_"))
    db_path = tmp / "authz.db"
    database_url = f"sqlite:///{db_path}"
    servers: list[Server] = []
    started = time.perf_counter()
    result: dict = {"benchmark": "check_http", "targets": TARGETS, "product": product_state(diff_hash=True)}

    def start(kind: str, env: dict, tag: str) -> Server:
        """A gunicorn server on env's BIND, not yet ready; the servers of a kind share one log."""
        url = f"http://{env['BIND']}"
        if kind == "ours":
            argv = [str(BIN / "gunicorn"), "-c", str(CONFIG), "wsgi:app"]
            s = Server.spawn(f"ours[{tag}]", argv, url, api_key, tmp / "ours.log", cwd=ROOT,
                             env={**env, "DATABASE_URL": database_url}, append=True)
        else:
            argv = [str(BIN / "gunicorn"), "--pythonpath", str(BENCH_DIR), "-c", str(bare_conf), "bare_app:app"]
            s = Server.spawn(f"bare[{tag}]", argv, url, "", tmp / "bare.log", cwd=tmp, env=env, append=True)
        servers.append(s)
        return s

    def stop(s: Server) -> None:
        """Stop a server once (a second stop would take its exit for a crash)."""
        if s in servers:
            s.stop()
            servers.remove(s)

    try:
        log(f"== temp dir {tmp}; loadavg {loadavg()}")
        bare_conf = write_floor_config(tmp)
        flask_cli(["db", "upgrade"], database_url)
        flask_cli(["tenants", "create", "bench", "--name", "Benchmark tenant"], database_url)
        api_key = flask_cli(["tokens", "issue", "bench", "--kind", "app", "--name", "bench-app"],
                            database_url).strip().splitlines()[-1].strip()
        scim_token = flask_cli(["tokens", "issue", "bench", "--kind", "scim", "--name", "bench-scim"],
                               database_url).strip().splitlines()[-1].strip()

        tenant = Tenant(rng, args.users, args.roles, args.perms_per_role, args.groups)
        loader = start("ours", config_env(None, None, free_port()), "load")
        loader.wait_ready(90.0, lambda u: httpx.get(f"{u}/v1/roles", headers={"Authorization": f"Bearer {api_key}"},
                                                    timeout=5))
        log("== loading the tenant through /v1 and SCIM")
        dataset = load_tenant(loader.url, api_key, scim_token, tenant)
        stop(loader)
        log(f"   {dataset}")
        result["dataset"] = dataset

        checks = tenant.check_bodies(rng, args.bodies)
        bodies = [json.dumps(b, separators=(",", ":")) for b, _ in checks]
        known = checks[:20] + [(b, w) for b, w in checks[20:] if not w and b["user"].startswith("nobody")][:2]
        lua_check = write_lua(tmp / "check.lua", api_key, "/v1/check", bodies, args.seed)
        # The same mix, each connection waiting PACED_DELAY_MS after every response: about
        # --paced-rate req/s in all, p99 at the load the target names rather than at saturation.
        paced_conns = paced_connections(args.paced_rate, args.threads) if args.paced_rate > 0 else 0
        lua_paced = write_lua(tmp / "check_paced.lua", api_key, "/v1/check", bodies, args.seed,
                              PACED_DELAY_MS) if paced_conns else None
        bulk_batches = [tenant.check_bodies(rng, args.bulk_size) for _ in range(4)]
        lua_bulk = write_lua(tmp / "bulk.lua", api_key, "/v1/check/bulk",
                             [json.dumps({"checks": [b for b, _ in batch]}, separators=(",", ":"))
                              for batch in bulk_batches], args.seed)
        result["workload"] = {
            "check_bodies": len(bodies), "allowed_share": sum(1 for _, w in checks if w) / len(checks),
            "unknown_user_share": round(sum(1 for b, _ in checks if b["user"].startswith("nobody")) / len(checks), 3),
            "by_user_id_share": round(sum(1 for b, _ in checks if not b["user"].endswith("@bench.example"))
                                      / len(checks), 3),
            "example_body": bodies[0], "bulk_batches": len(bulk_batches), "bulk_size": args.bulk_size,
            "bulk_body_bytes": len(json.dumps({"checks": [b for b, _ in bulk_batches[0]]}, separators=(",", ":"))),
            "wrk": f"-t{args.threads} -c{args.connections} -d{args.duration}s --latency --timeout 10s "
                   f"(warm-up -d{args.warmup}s after each start), {args.rounds} rounds per server alternating "
                   f"ours/bare (= {args.rounds * args.duration}s per server and setting)",
            "wrk_bulk": f"-t{min(args.threads, args.bulk_connections)} -c{args.bulk_connections} "
                        f"-d{args.bulk_duration}s --latency --timeout 10s (warm-up -d{args.warmup}s)",
            "wrk_paced": (f"-t{args.threads} -c{paced_conns} -d{args.duration}s --latency --timeout 10s, Lua delay() "
                          f"{PACED_DELAY_MS} ms per connection after each response ({args.paced_rate} req/s offered), "
                          "right after each saturated run" if paced_conns else None)}

        probe_body = checks[0][0]

        def probe_ours(u):
            return httpx.post(f"{u}/v1/check", json=probe_body, headers={"Authorization": f"Bearer {api_key}"},
                              timeout=5)

        def probe_bare(u):
            return httpx.post(f"{u}/v1/check", json=probe_body, timeout=5)

        def run_server(kind: str, tag: str, label: str, workers, threads, settings: dict, rnd_no: int,
                       with_bulk: bool) -> tuple[dict, dict | None]:
            """Start one server, verify it, warm it up, measure it (and bulk), stop it."""
            s = start(kind, config_env(workers, threads, free_port()), tag)
            row: dict = {"status": "ok", "round": rnd_no}
            bulk: dict | None = None
            try:
                s.wait_ready(90.0, probe_ours if kind == "ours" else probe_bare)
                row["worker_processes"] = s.wait_workers(settings["workers"])
                if row["worker_processes"] != settings["workers"]:
                    raise RuntimeError(f"{s.name}: {row['worker_processes']} workers, not {settings['workers']}")
                decisions0 = count_decisions(db_path) if kind == "ours" else None
                row["verify"] = verify_ours(s.url, api_key, known) if kind == "ours" else \
                    verify_bare(s.url, probe_body)
                if not row["verify"]["ok"]:
                    row["status"] = "FAILED(verify)"
                    log(f"!! {s.name} verification failed: {row['verify']}")
                warm = run_wrk(s, lua_check, args.threads, args.connections, args.warmup)
                log(f"== {label} {kind} round {rnd_no}: measuring {args.duration}s; loadavg {loadavg()}")
                m = run_wrk(s, lua_check, args.threads, args.connections, args.duration)
                row.update(m)
                log(f"   {kind}: {m['req_s']:.0f} req/s, p50 {m['p50_ms']:.2f} ms, p99 {m['p99_ms']:.2f} ms, "
                    f"errors {m['error_total']}, server CPU {m['server_cpu_us_per_req']} us/req, "
                    f"others {m['other_cpu_cores']} cores")
                errors = m["error_total"] + warm["error_total"]
                sent = len(known) + warm["requests"] + m["requests"]
                if lua_paced:
                    # No warm-up of its own: the saturated run just warmed this server.
                    log(f"== {label} {kind} round {rnd_no}: paced, {args.paced_rate} req/s offered "
                        f"({paced_conns} connections), {args.duration}s")
                    pm = run_wrk(s, lua_paced, args.threads, paced_conns, args.duration)
                    pm["round"] = rnd_no
                    pm["status"] = f"FAILED(wrk errors {pm['error_total']})" if pm["error_total"] else \
                        ("ok" if row["verify"]["ok"] else "FAILED(verify)")
                    row["paced"] = pm
                    errors += pm["error_total"]
                    sent += pm["requests"]
                    log(f"   {kind} paced: {pm['req_s']:.0f} req/s achieved, p50 {pm['p50_ms']:.2f} ms, "
                        f"p99 {pm['p99_ms']:.2f} ms, max {pm['max_ms']:.2f} ms, errors {pm['error_total']}")
                if errors:
                    row["status"] = f"FAILED(wrk errors {errors})"
                if with_bulk:
                    verify_b = verify_bulk(s.url, api_key, bulk_batches[0])
                    bulk = {"config": tag, "label": label, "status": "ok", "verify": verify_b}
                    if not verify_b["ok"]:
                        bulk["status"] = "FAILED(verify)"
                        log(f"!! bulk verification failed: {verify_b}")
                    log(f"== {label} bulk: warm-up {args.warmup}s, measuring {args.bulk_duration}s; "
                        f"loadavg {loadavg()}")
                    bt = min(args.threads, args.bulk_connections)
                    bwarm = run_wrk(s, lua_bulk, bt, args.bulk_connections, args.warmup)
                    bm = run_wrk(s, lua_bulk, bt, args.bulk_connections, args.bulk_duration)
                    bulk.update(bm)
                    bulk["checks_s"] = bm["req_s"] * args.bulk_size
                    if bm["error_total"] or bwarm["error_total"]:
                        bulk["status"] = f"FAILED(wrk errors {bm['error_total'] + bwarm['error_total']})"
                    log(f"   bulk: {bulk['checks_s']:.0f} checks/s ({bm['req_s']:.1f} req/s), "
                        f"p50 {bm['p50_ms']:.1f} ms, p99 {bm['p99_ms']:.1f} ms, errors {bm['error_total']}")
                    sent += (1 + bwarm["requests"] + bm["requests"]) * args.bulk_size
                stop(s)
                if kind == "ours":
                    # Every answered check must be in the decision log once the workers have stopped
                    # (a few more may be: requests in flight when wrk stopped, readiness probes).
                    delta = count_decisions(db_path) - decisions0
                    row["decision_log"] = {"rows_added": delta, "checks_answered_at_least": sent, "ok": delta >= sent}
            except Exception as e:  # noqa: BLE001 - the row fails, the run goes on
                row["status"] = f"FAILED({type(e).__name__})"
                row["error"] = str(e)[:2000]
                log(f"!! {s.name}: {e}")
            finally:
                stop(s)
            return row, bulk

        pairs, bulks = [], []
        for tag, workers, threads in configs:
            env = config_env(workers, threads, free_port())
            settings = effective_settings(env)
            settings.pop("bind", None)
            label = f"{tag} ({settings['workers']}w x {settings['threads']}t {settings['worker_class']})"
            pair = {"config": tag, "label": label, "env": {k: env[k] for k in ("WEB_CONCURRENCY", "GUNICORN_THREADS")
                                                           if k in env},
                    "settings": settings, "rounds": {"ours": [], "bare": []}}
            # Rounds alternate the order (ours, bare | bare, ours | ...), so that load from other
            # processes that changes over time falls on both alike.
            for r in range(args.rounds):
                for kind in (("ours", "bare") if r % 2 == 0 else ("bare", "ours")):
                    row, bulk = run_server(kind, tag, label, workers, threads, settings, r + 1,
                                           kind == "ours" and r == 0)
                    pair["rounds"][kind].append(row)
                    if bulk is not None:
                        bulks.append(bulk)
            pair["results"] = {k: pool_rounds(v) for k, v in pair["rounds"].items()}
            o, b = pair["results"]["ours"], pair["results"]["bare"]
            if o.get("req_s") and b.get("req_s"):
                pair["ratio_req_s"] = o["req_s"] / b["req_s"]
                pair["ratio_p99"] = o["p99_ms"] / b["p99_ms"] if b.get("p99_ms") else None
                pair["ratio_cpu_per_req"] = (o["server_cpu_us_per_req"] / b["server_cpu_us_per_req"]
                                             if b.get("server_cpu_us_per_req") else None)
                per_round = [ro["req_s"] / rb["req_s"] for ro, rb in zip(pair["rounds"]["ours"], pair["rounds"]["bare"])
                             if ro.get("req_s") and rb.get("req_s")]
                pair["ratio_req_s_rounds"] = [round(x, 3) for x in per_round]
            log(f"== {label}: ours {o.get('req_s', 0):.0f} req/s, bare {b.get('req_s', 0):.0f} req/s, "
                f"ratio {pair.get('ratio_req_s') or 0:.2f} (rounds {pair.get('ratio_req_s_rounds')})")
            if lua_paced:
                pair["paced"] = {k: pool_paced(v, args.paced_rate) for k, v in pair["rounds"].items()}
                pair.update({"paced_offered_req_s": args.paced_rate, "paced_connections": paced_conns,
                             "paced_delay_ms": PACED_DELAY_MS})
                po, pb = pair["paced"]["ours"], pair["paced"]["bare"]
                log(f"== {label} paced at {args.paced_rate} req/s offered: ours {po.get('req_s', 0):.0f} req/s "
                    f"p99 {po.get('p99_ms') or 0:.2f} ms, bare {pb.get('req_s', 0):.0f} req/s "
                    f"p99 {pb.get('p99_ms') or 0:.2f} ms")
            pairs.append(pair)

        if args.profile:
            out_dir = Path(args.profile_dir) if args.profile_dir else tmp
            out_dir.mkdir(parents=True, exist_ok=True)
            check_args = (args.threads, args.connections)
            bulk_args = (min(args.threads, args.bulk_connections), args.bulk_connections)
            for kind, label, script, wargs, gil in (("ours", "check", lua_check, check_args, False),
                                                    ("ours", "check_gil", lua_check, check_args, True),
                                                    ("ours", "bulk", lua_bulk, bulk_args, False),
                                                    ("bare", "bare_check", lua_check, check_args, False)):
                s = start(kind, config_env(None, None, free_port()), "profile")
                try:
                    s.wait_ready(90.0, probe_ours if kind == "ours" else probe_bare)
                    s.wait_workers(effective_settings(config_env(None, None, s.port))["workers"])
                    log(f"== py-spy on {s.name} workers {s.worker_pids()}: {label}{' --gil' if gil else ''}, "
                        f"{args.profile}s; loadavg {loadavg()}")
                    result[f"profile_{label}"] = profile(s, script, args.profile, out_dir, label, wargs, gil)
                finally:
                    stop(s)

        result["pairs"] = [_clean_pair(p) for p in pairs]
        result["bulk"] = [_clean_row(b) for b in bulks]
        head = pairs[0] if pairs else {}
        ho, hb = head.get("results", {}).get("ours", {}), head.get("results", {}).get("bare", {})
        hbulk = bulks[0] if bulks else {}
        hpo, hpb = head.get("paced", {}).get("ours", {}), head.get("paced", {}).get("bare", {})
        head_ok = ho.get("status") == "ok" and hb.get("status") == "ok"
        result["headline"] = {
            "config": head.get("label"),
            "ours_req_s": rnd(ho.get("req_s"), 1), "ours_p50_ms": rnd(ho.get("p50_ms"), 3),
            "ours_p99_ms": rnd(ho.get("p99_ms"), 3), "bare_req_s": rnd(hb.get("req_s"), 1),
            "bare_p50_ms": rnd(hb.get("p50_ms"), 3), "bare_p99_ms": rnd(hb.get("p99_ms"), 3),
            "ratio_req_s": rnd(head.get("ratio_req_s"), 3), "ratio_p99": rnd(head.get("ratio_p99"), 3),
            "ratio_cpu_per_req": rnd(head.get("ratio_cpu_per_req"), 3),
            "bulk_checks_s": rnd(hbulk.get("checks_s"), 0), "rows_ok": head_ok and hbulk.get("status") == "ok",
            "paced_offered_req_s": head.get("paced_offered_req_s"), "paced_ours_req_s": rnd(hpo.get("req_s"), 1),
            "paced_ours_p99_ms": rnd(hpo.get("p99_ms"), 3), "paced_bare_p99_ms": rnd(hpb.get("p99_ms"), 3)}
        h = result["headline"]
        result["meets"] = {
            "ours_req_s": head_ok and (h["ours_req_s"] or 0) >= TARGETS["ours_req_s_min"],
            "ours_p99_ms": head_ok and h["ours_p99_ms"] is not None and h["ours_p99_ms"] < TARGETS["ours_p99_ms_max"],
            "ratio_vs_bare": head_ok and (h["ratio_req_s"] or 0) >= TARGETS["ratio_vs_bare_min"],
            "bulk_checks_s": hbulk.get("status") == "ok" and (h["bulk_checks_s"] or 0) >= TARGETS["bulk_checks_s_min"]}
        if lua_paced:
            # p99 at the load the target names: not met if the offered rate is below it, or was not
            # reached (status "rate not reached"), or a paced run failed.
            result["meets"]["ours_p99_ms_paced"] = (
                head_ok and hpo.get("status") == "ok" and args.paced_rate >= TARGETS["ours_req_s_min"]
                and h["paced_ours_p99_ms"] is not None and h["paced_ours_p99_ms"] < TARGETS["ours_p99_ms_max"])
        result["meets_all"] = all(result["meets"].values())
        result["all_rows_ok"] = all(r.get("status") == "ok" for p in pairs for r in p["results"].values()) and \
            all(b.get("status") == "ok" for b in bulks)
        logs = [p["results"]["ours"].get("decision_log") for p in pairs if "ours" in p["results"]]
        result["decision_log_complete"] = all(d and d.get("ok") for d in logs) if logs else None
        result["machine"] = {"cpus": os.cpu_count(), "loadavg_end": loadavg()}
        result["run_seconds"] = round(time.perf_counter() - started, 1)
        end_state = product_state(diff_hash=True)
        result["product_changed_during_run"] = end_state != result["product"]
        if result["product_changed_during_run"]:
            result["product_at_end"] = end_state
            log("!! the product's files changed during the run (other engineers' edits): "
                f"{result['product']} -> {end_state}")
        print_table(result, args)
        sys.stdout.flush()
        print(json.dumps(result, separators=(",", ":")), flush=True)
        return 0
    finally:
        for s in servers:
            s.stop()
        if args.keep_tmp:
            log(f"== kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


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


def _clean_row(r: dict, keys: tuple = ROW_KEYS) -> dict:
    out = {}
    for k in keys:
        if k in r:
            v = r[k]
            out[k] = round(v, 3) if isinstance(v, float) else v
    if "verify" in out and "wrong" in out["verify"] and isinstance(out["verify"]["wrong"], list) \
            and not out["verify"]["wrong"]:
        out["verify"] = {k: v for k, v in out["verify"].items() if k != "wrong"}
    return out


def _clean_pair(p: dict) -> dict:
    return {"config": p["config"], "label": p["label"], "env": p["env"], "settings": p["settings"],
            "ours": _clean_row(p["results"].get("ours", {})), "bare": _clean_row(p["results"].get("bare", {})),
            "ratio_req_s": rnd(p.get("ratio_req_s"), 3), "ratio_p99": rnd(p.get("ratio_p99"), 3),
            "ratio_cpu_per_req": rnd(p.get("ratio_cpu_per_req"), 3), "ratio_req_s_rounds": p.get("ratio_req_s_rounds"),
            "rounds": {k: [_clean_round(r) for r in v] for k, v in p.get("rounds", {}).items()},
            **({"paced": {k: _clean_row(v, PACED_KEYS) for k, v in p["paced"].items()},
                "paced_offered_req_s": p["paced_offered_req_s"], "paced_connections": p["paced_connections"],
                "paced_delay_ms": p["paced_delay_ms"]} if "paced" in p else {})}


def _clean_round(r: dict) -> dict:
    """A round, compactly: its verification only when it failed (the pooled row says verify_ok)."""
    out = _clean_row(r, ROUND_KEYS)
    if r.get("verify") and not r["verify"].get("ok"):
        out["verify"] = r["verify"]
    return out


def _f(x, fmt):
    return "-" if x is None else format(x, fmt)


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
            print(f"{(p['label'] if first else ''):<30} {kind:<10} {_f(r.get('req_s'), '8.0f')} "
                  f"{_f(r.get('p50_ms'), '8.2f')} {_f(r.get('p99_ms'), '8.2f')} {_f(r.get('max_ms'), '8.2f')} "
                  f"{_f(r.get('error_total'), '6d')}  "
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
            print(f"{(p['label'] if first else ''):<30} {kind:<10} {_f(r.get('req_s'), '8.0f')} "
                  f"{_f(r.get('p50_ms'), '8.2f')} {_f(r.get('p99_ms'), '8.2f')} {_f(r.get('error_total'), '6d')} "
                  f"{_f(r.get('server_cpu_us_per_req'), '10.0f')} {_f(r.get('other_cpu_cores'), '6.2f')}  "
                  f"{'/'.join(x.split()[0] for x in r.get('loadavg_before') or []) or '-':<20} "
                  f"{'/'.join(f'{x:.0f}' for x in r.get('req_s_rounds') or []) or '-':<20} {r.get('status', '-')}"
                  f"{_log_note(r.get('decision_log'))}")
            first = False
        print(f"{'':<30} {'ours/bare':<10} {_f(p['ratio_req_s'], '8.2f')} {'':>8} {_f(p['ratio_p99'], '8.2f')} "
              f"{'':>6} {_f(p['ratio_cpu_per_req'], '10.2f')} {'':>6}  {'':<20} "
              f"{'/'.join(f'{x:.2f}' for x in p.get('ratio_req_s_rounds') or []) or '-':<20}")
    print_paced_table(result, args)
    print()
    print(f"POST /v1/check/bulk, {args.bulk_size} checks per request, ours only; wrk {w['wrk_bulk']}")
    hdr = (f"{'config':<30} {'req/s':>7} {'checks/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
           f"{'others':>6}  {'loadavg before':<16} status")
    print(hdr)
    print("-" * len(hdr))
    for b, p in zip(result["bulk"], result["pairs"]):
        print(f"{p['label']:<30} {_f(b.get('req_s'), '7.1f')} {_f(b.get('checks_s'), '9.0f')} "
              f"{_f(b.get('p50_ms'), '8.1f')} {_f(b.get('p99_ms'), '8.1f')} {_f(b.get('error_total'), '6d')} "
              f"{_f(b.get('other_cpu_cores'), '6.2f')}  {' '.join((b.get('loadavg_before') or '-').split()[:3]):<16} "
              f"{b.get('status', '-')}")
    h, m, t = result["headline"], result["meets"], TARGETS
    print()
    print(f"targets (headline: {h['config']}):")
    print(f"  ours >= {t['ours_req_s_min']} req/s: {_f(h['ours_req_s'], '.0f')}  {'met' if m['ours_req_s'] else 'MISSED'}")
    print(f"  ours p99 < {t['ours_p99_ms_max']} ms at saturation (wrk -c{args.connections}): "
          f"{_f(h['ours_p99_ms'], '.2f')}  {'met' if m['ours_p99_ms'] else 'MISSED'}")
    if "ours_p99_ms_paced" in m:
        print(f"  ours p99 < {t['ours_p99_ms_max']} ms at {h['paced_offered_req_s']:,} req/s offered "
              f"(achieved {_f(h['paced_ours_req_s'], ',.0f')}): {_f(h['paced_ours_p99_ms'], '.2f')}  "
              f"{'met' if m['ours_p99_ms_paced'] else 'MISSED'}")
    else:
        print(f"  ours p99 < {t['ours_p99_ms_max']} ms at a paced rate: not measured (--paced-rate 0)")
    print(f"  ours/bare >= {t['ratio_vs_bare_min']:.0%}: {_f(h['ratio_req_s'], '.1%')}  "
          f"{'met' if m['ratio_vs_bare'] else 'MISSED'}")
    print(f"  bulk >= {t['bulk_checks_s_min']:,} checks/s: {_f(h['bulk_checks_s'], ',.0f')}  "
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


if __name__ == "__main__":
    sys.exit(main())
