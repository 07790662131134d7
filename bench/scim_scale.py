#!/usr/bin/env python
"""Does the cost of the common SCIM requests stay flat as a tenant grows?

For each N (default 1,000, 10,000 and 100,000 users), in a fresh database migrated with
`flask db upgrade` (the real schema and indexes) and a real tenant and token made with the CLI:

  * N users are loaded directly with SQLAlchemy bulk inserts through the product's models, each
    row as POST /Users would store it (doc = the canonical document of the request body, checked
    against the product's own `normalise`, user_name_ci = lower(userName)), plus one group whose
    members are all N users (group_members rows, member_type "User");
  * our server is started on it under gunicorn (`gunicorn -c config/gunicorn.conf.py wsgi:app`,
    the config's default workers and threads); the servers of every N run side by side, idle but
    one, and one client times, in rounds that visit every N in turn (so that load from other
    processes on the machine falls on every N alike):
      lookup        GET /Users?filter=userName eq "user<random>@example.com"
      patch_member  PATCH /Groups/{big group}: add one user, then remove it (alternating; Okta's
                    `members[value eq "…"]` form for the remove)
      groups_list   GET /Groups?excludedAttributes=members
    and, beyond those three: Okta's connector test `GET /Users?startIndex=1&count=2` (users_page) and
    a page from the middle, `GET /Users?startIndex=N/2&count=100` (users_deep_page), as an import pages;
  * for each N of at least 50,000, after the rounds, a group of 50,000 members (bench/_scim_scale_big.py):
    GET /Groups/{id} and the workers' peak memory meanwhile (group_get_50k; and against a second
    server that builds the whole document in memory, group_get_50k_unstreamed), one PATCH removing
    10,000 members (patch_remove_10k) and one adding them back (patch_add_10k).

stdout: a table (N, op, median ms, p95 ms), then as the last line one JSON object with every
figure, per op the ratio of the largest N's median to the smallest N's, and the targets (users_page
flat, group_get_50k < 1 s, patch_remove_10k and patch_add_10k < 2 s) with `meets_targets`.
Progress to stderr.

    python bench/scim_scale.py                              # SQLite, 1k / 10k / 100k
    python bench/scim_scale.py --sizes 1000,10000           # quicker
    python bench/scim_scale.py --database-url postgresql://postgres@127.0.0.1:5432/test
        (a PostgreSQL server: fresh databases bench_scim_scale_<N> are created on it, then dropped)
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import _scim_scale_big as big
from _gunicorn import prepare_our_database, start_our_server
from _pg import PgDatabase
from _report import emit_json, log, print_table, product_state
from _scim import GROUP_SCHEMA, patch_add_member, patch_remove_member, user_body
from _stats import median, percentile, rnd

OPS = ("lookup", "patch_member", "groups_list")
EXTRA_OPS = ("users_page", "users_deep_page")
SHOWN = (*OPS, *EXTRA_OPS, "patch_add", "patch_remove")
FLAT = 1.5   # what this script calls flat: the largest N's median within 1.5x the smallest N's


def user_name(i: int) -> str:
    return f"user{i:07d}@example.com"


def load_directory(database_url: str, tenant_key: str, n: int, chunk: int = 10_000) -> dict:
    """Insert N users and one group holding them all, as the API would have stored them."""
    from scim_authz import create_app
    from scim_authz.db.extensions import db
    from scim_authz.db.models import Group, GroupMember, User, new_id, utcnow
    from scim_authz.directory.counts import recount
    from scim_authz.policy.tenants import find_tenant
    from scim_authz.scim.resource import normalise
    from scim_authz.scim.schema_defs import SCHEMA_FOR

    def doc_of(name: str) -> dict:
        body = user_body(name)
        return {"userName": body["userName"], "displayName": body["displayName"], "active": True,
                "emails": [{"value": name, "type": "work"}]}

    # The documents built here must be what POST /Users stores for the same body.
    for i in (0, n - 1):
        expected = normalise(SCHEMA_FOR["User"], user_body(user_name(i)))
        if doc_of(user_name(i)) != expected:
            raise RuntimeError(f"loader document {doc_of(user_name(i))} != API document {expected}")
    group_doc = normalise(SCHEMA_FOR["Group"], {"schemas": [GROUP_SCHEMA], "displayName": "All users"}, members=[])

    t0 = time.perf_counter()
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        tenant = find_tenant(tenant_key)
        base = utcnow() - timedelta(days=1)
        ids = [new_id() for _ in range(n)]
        users = User.__table__
        for start in range(0, n, chunk):
            rows = []
            for i in range(start, min(n, start + chunk)):
                name = user_name(i)
                at = base + timedelta(microseconds=i * 10)
                rows.append({"id": ids[i], "tenant_id": tenant.id, "user_name": name, "user_name_ci": name.lower(),
                             "external_id": None, "active": True, "display_name": name.split("@")[0],
                             "doc": doc_of(name), "version": 1, "created": at, "last_modified": at})
            db.session.execute(users.insert(), rows)
        now = utcnow()
        group_id = new_id()
        db.session.execute(Group.__table__.insert(), [{
            "id": group_id, "tenant_id": tenant.id, "display_name": group_doc["displayName"],
            "display_name_ci": group_doc["displayName"].lower(), "external_id": None, "doc": group_doc,
            "version": 1, "created": now, "last_modified": now}])
        members = GroupMember.__table__
        for start in range(0, n, chunk):
            db.session.execute(members.insert(), [
                {"group_id": group_id, "member_id": ids[i], "member_type": "User", "tenant_id": tenant.id,
                 "added": base + timedelta(microseconds=i * 10)} for i in range(start, min(n, start + chunk))])
        recount(tenant.id)  # rows written past the directory service: the tenant's counts are set from them
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # What autovacuum would have done after such a load; the planner needs statistics.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        db.session.remove()
        db.engine.dispose()
    return {"group_id": group_id, "user_ids": ids, "seconds": time.perf_counter() - t0}


def stored_doc(database_url: str, user_id: str) -> dict:
    from scim_authz import create_app
    from scim_authz.db.extensions import db
    from scim_authz.db.models import User

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        doc = dict(db.session.get(User, user_id).doc)
        db.session.remove()
        db.engine.dispose()
    return doc


def member_count(database_url: str, group_id: str) -> int:
    from sqlalchemy import func, select

    from scim_authz import create_app
    from scim_authz.db.extensions import db
    from scim_authz.db.models import GroupMember

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        count = db.session.execute(select(func.count()).select_from(GroupMember)
                                   .where(GroupMember.group_id == group_id)).scalar_one()
        db.session.remove()
        db.engine.dispose()
    return count


class Prober:
    """The timed requests of one N, against its own server, with one client."""

    def __init__(self, server, n: int, loaded: dict, rng: random.Random):
        self.s, self.n, self.loaded, self.rng = server, n, loaded, rng
        self.c = server.client()
        self.lat: dict[str, list[float]] = {op: [] for op in SHOWN}
        self.errors: dict[str, list[str]] = {op: [] for op in SHOWN}
        self.sizes: dict[str, int] = {}
        r = self.c.post("/Users", json=user_body("outsider@example.com"))
        if r.status_code != 201:
            raise RuntimeError(f"POST /Users (outsider) -> {r.status_code} {r.text[:300]}")
        self.outsider = r.json()["id"]
        self.in_group = False

    def lookup(self):
        i = self.rng.randrange(self.n)
        r = self.c.get("/Users", params={"filter": f'userName eq "{user_name(i)}"'})
        if r.status_code != 200:
            return f"{r.status_code} {r.text[:200]}", r
        b = r.json()
        if b.get("totalResults") != 1 or b["Resources"][0]["id"] != self.loaded["user_ids"][i]:
            return f"lookup user{i}: totalResults {b.get('totalResults')}", r
        return None, r

    def patch_member(self):
        body = patch_remove_member(self.outsider) if self.in_group else patch_add_member(self.outsider)
        r = self.c.patch(f"/Groups/{self.loaded['group_id']}", json=body)
        if r.status_code not in (200, 204):
            return f"{r.status_code} {r.text[:200]}", r
        self.in_group = not self.in_group
        return None, r

    def groups_list(self):
        r = self.c.get("/Groups", params={"excludedAttributes": "members"})
        if r.status_code != 200:
            return f"{r.status_code} {r.text[:200]}", r
        b = r.json()
        if b.get("totalResults") != 1 or any("members" in g for g in b.get("Resources", [])):
            return f"groups_list: totalResults {b.get('totalResults')} or members returned", r
        return None, r

    def users_page(self):
        r = self.c.get("/Users", params={"startIndex": 1, "count": 2})
        if r.status_code != 200:
            return f"{r.status_code} {r.text[:200]}", r
        if r.json().get("totalResults") != self.n + 1:
            return f"users_page: totalResults {r.json().get('totalResults')} != {self.n + 1}", r
        return None, r

    def users_deep_page(self):
        start = self.n // 2
        r = self.c.get("/Users", params={"startIndex": start, "count": 100})
        if r.status_code != 200:
            return f"{r.status_code} {r.text[:200]}", r
        b = r.json()
        if b.get("totalResults") != self.n + 1 or b.get("itemsPerPage") != min(100, self.n + 2 - start):
            return f"users_deep_page: totalResults {b.get('totalResults')} itemsPerPage {b.get('itemsPerPage')}", r
        return None, r

    def step(self, op: str, timed: bool = True) -> None:
        adding = op == "patch_member" and not self.in_group
        t0 = time.perf_counter()
        try:
            err, r = getattr(self, op)()
        except Exception as e:  # noqa: BLE001 - a transport error is an error of the op
            err, r = f"{type(e).__name__}: {e}", None
        ms = (time.perf_counter() - t0) * 1000
        if err:
            self.errors[op].append(("" if timed else "warm-up: ") + err)
        if not timed:
            return
        self.lat[op].append(ms)
        if op == "patch_member":
            self.lat["patch_add" if adding else "patch_remove"].append(ms)
        if r is not None:
            self.sizes[op] = len(r.content)

    def finish(self, database_url: str) -> dict[str, dict]:
        if self.in_group:   # leave the group as loaded
            self.c.patch(f"/Groups/{self.loaded['group_id']}", json=patch_remove_member(self.outsider))
        self.c.close()
        members = member_count(database_url, self.loaded["group_id"])
        if members != self.n:
            self.errors["patch_member"].append(f"the group holds {members} members after the PATCHes, not {self.n}")
        out = {}
        for op in SHOWN:
            lat, errs = self.lat[op], self.errors[op]
            out[op] = {"n": self.n, "op": op, "reps": len(lat), "median_ms": rnd(median(lat)),
                       "p95_ms": rnd(percentile(lat, 95)), "min_ms": rnd(min(lat) if lat else None),
                       "errors": len(errs), "response_bytes": self.sizes.get(op),
                       **({"error_samples": errs[:3]} if errs else {})}
        return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1000,10000,100000", help="comma-separated user counts")
    p.add_argument("--database-url", default=None,
                   help="a loopback PostgreSQL server to use instead of SQLite (fresh databases "
                        "bench_scim_scale_<N> are created on it and dropped at the end)")
    p.add_argument("--reps", type=int, default=300, help="timed lookups and group listings per N (default 300)")
    p.add_argument("--patch-reps", type=int, default=300, help="timed PATCHes per N, half add, half remove")
    p.add_argument("--extra-reps", type=int, default=100, help="timed users_page and users_deep_page requests per N")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--big-reps", type=int, default=20, help="timed GETs of the 50,000-member group per N (default 20)")
    p.add_argument("--big-patch-reps", type=int, default=10,
                   help="timed PATCHes removing 10,000 of its members, each followed by one adding them back")
    p.add_argument("--no-unstreamed", action="store_true",
                   help="skip group_get_50k_unstreamed (a second server building the whole document in memory)")
    p.add_argument("--time-limit", type=float, default=300.0, help="seconds of timed rounds in all (default 300)")
    p.add_argument("--seed", type=int, default=11)
    args = p.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if not sizes or min(sizes) < 1:
        p.error("--sizes needs positive integers")
    backend = "postgresql" if args.database_url else "sqlite"
    if args.database_url and not args.database_url.startswith("postgres"):
        p.error("--database-url must be a postgresql:// URL (SQLite is the default)")

    t_start = time.monotonic()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # (the product's logging set-up would log each request)
    product = product_state()   # the code the servers will import
    results: list[dict] = []
    loads: dict[str, dict] = {}
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-scim-scale-"))
    dbs: dict[int, PgDatabase] = {}
    servers: dict[int, object] = {}
    probers: dict[int, Prober] = {}
    urls: dict[int, str] = {}
    tokens: dict[int, str] = {}
    try:
        # 1. a fresh database per N: migrate, tenant and token through the CLI, then the bulk load
        for n in sizes:
            log(f"== N = {n:,} users ({backend})")
            if args.database_url:
                dbs[n] = PgDatabase(args.database_url, f"bench_scim_scale_{n}")
                urls[n] = dbs[n].create().url
            else:
                urls[n] = f"sqlite:///{tmp / f'scale-{n}.db'}"
            t0 = time.perf_counter()
            token = tokens[n] = prepare_our_database(urls[n])
            migrate_s = time.perf_counter() - t0
            loaded = load_directory(urls[n], "bench", n)
            log(f"   migrated in {migrate_s:.1f}s, loaded {n:,} users + 1 group of {n:,} in {loaded['seconds']:.1f}s")
            loads[str(n)] = {"load_s": rnd(loaded["seconds"], 1), "migrate_s": rnd(migrate_s, 1)}
            # 2. its server, left idle while the others load
            servers[n] = start_our_server(f"scale-{n}", urls[n], token, tmp)
            probers[n] = Prober(servers[n], n, loaded, rng)
        # 3. warm-up, then rounds: in each, every N (in rotating order) gets one request of every op,
        #    so that load from other processes on the machine falls on every N alike
        reps = {"lookup": args.reps, "patch_member": args.patch_reps, "groups_list": args.reps,
                "users_page": args.extra_reps, "users_deep_page": args.extra_reps}
        log(f"== timing {', '.join(f'{op} x{k}' for op, k in reps.items())} per N, interleaved")
        for n in sizes:
            for op in reps:
                for _ in range(args.warmup):
                    probers[n].step(op, timed=False)
        deadline = time.monotonic() + args.time_limit
        for k in range(max(reps.values())):
            if time.monotonic() > deadline:
                for n in sizes:
                    probers[n].errors["lookup"].append(f"time limit {args.time_limit}s reached after {k} rounds")
                break
            order = sizes[k % len(sizes):] + sizes[:k % len(sizes)]
            for n in order:
                for op, count in reps.items():
                    if k < count:
                        probers[n].step(op)
        for n in sizes:
            if not servers[n].check_alive():
                loads[str(n)]["server_exited_early"] = servers[n].notes["exited_early"]
            by_op = probers[n].finish(urls[n])
            # the outsider went through POST /Users: its stored document must look like the loaded ones
            api_doc = stored_doc(urls[n], probers[n].outsider)
            loaded_doc = stored_doc(urls[n], probers[n].loaded["user_ids"][0])
            same = sorted(api_doc) == sorted(loaded_doc) and \
                [sorted(e) for e in api_doc.get("emails", [])] == [sorted(e) for e in loaded_doc.get("emails", [])]
            loads[str(n)]["loaded_doc_matches_api_doc_shape"] = same
            if not same:
                log(f"!! stored documents differ: API {api_doc} vs loaded {loaded_doc}")
            for op, r in by_op.items():
                results.append(r)
                log(f"   N={n:<7} {op:16s} median {r['median_ms']} ms  p95 {r['p95_ms']} ms  ({r['reps']} reps, "
                    f"{r['errors']} errors)")
        # 4. the big group's rows, where N holds 50,000 users (the rounds above never saw the group)
        for n in (n for n in sizes if n >= big.BIG):
            def unstreamed(n=n):
                return start_our_server(f"scale-{n}-unstreamed", urls[n], tokens[n], tmp, extra_env=big.UNSTREAMED_ENV)
            for r in big.run(servers[n], n, probers[n].loaded["user_ids"], urls[n], member_count,
                             None if args.no_unstreamed else unstreamed, reps=args.big_reps,
                             patch_reps=args.big_patch_reps, warmup=max(1, args.warmup // 5)):
                results.append(r)
                log(f"   N={n:<7} {r['op']:24s} median {r['median_ms']} ms  p95 {r['p95_ms']} ms  ({r['reps']} reps, "
                    f"{r['errors']} errors)" + (f"  peak RSS +{r['peak_rss_growth_mb']} MB"
                                                if r.get("peak_rss_growth_mb") is not None else ""))
        server_notes = {k: v for k, v in servers[sizes[0]].notes.items()}
    except BaseException:
        for n_, srv in servers.items():
            log(f"-- log of the server of N={n_} (last lines):\n{srv.tail_log(40)}")
        raise
    finally:
        for srv in servers.values():
            srv.stop()
        for d in dbs.values():
            d.drop()
        shutil.rmtree(tmp, ignore_errors=True)

    # ---- report ------------------------------------------------------------------------------
    shown = SHOWN
    print(f"our server under gunicorn ({server_notes.get('workers')} workers x {server_notes.get('threads')} threads), "
          f"{backend}; one sequential client; median and p95 of each op per N")
    head = ["N", "op", "median ms", "p95 ms", "reps", "errors", "server memory"]
    table = []
    for n in sizes:
        for op in shown:
            r = next(x for x in results if x["n"] == n and x["op"] == op)
            label = op + (" (extra)" if op in EXTRA_OPS else "") + ("  (part of patch_member)"
                                                                    if op in ("patch_add", "patch_remove") else "")
            table.append([f"{n:,}", label, r["median_ms"], r["p95_ms"], r["reps"], r["errors"], ""])
        for r in (x for x in results if x["n"] == n and x["op"] in big.OPS):
            memory = f"peak RSS +{r['peak_rss_growth_mb']} MB" if r.get("peak_rss_growth_mb") is not None else ""
            table.append([f"{n:,}", r["op"], r["median_ms"], r["p95_ms"], r["reps"], r["errors"], memory])
    print_table(head, table)
    growth = {}
    lo, hi = min(sizes), max(sizes)
    for op in shown:
        a = next(x for x in results if x["n"] == lo and x["op"] == op)
        b = next(x for x in results if x["n"] == hi and x["op"] == op)
        ok = not a["errors"] and not b["errors"] and a["median_ms"] and b["median_ms"] is not None
        growth[op] = rnd(b["median_ms"] / a["median_ms"]) if ok else None
    line = ", ".join(f"{op} {g}x" if g is not None else f"{op} n/a (errors)" for op, g in growth.items())
    print(f"median at N={hi:,} / median at N={lo:,}: {line}")
    flat = {op: (g is not None and g <= FLAT) for op, g in growth.items()}
    big_figures, big_meets = big.judge(results, sizes)
    targets = {"users_page_growth_max": FLAT, **{f"{op}_median_ms_below": t for op, t in big.TARGETS_MS.items()}}
    meets_targets = {"users_page_flat": flat["users_page"], **big_meets}
    summary = {
        "benchmark": "scim_scale", "database": backend, "sizes": sizes, "ops": list(OPS), "extra_ops": list(EXTRA_OPS),
        "results": results, "growth_largest_over_smallest": growth,
        "flat_threshold": FLAT, "flat": flat, "all_flat": all(flat[op] for op in OPS),
        "targets": targets, "meets_targets": meets_targets, "meets_all_targets": all(meets_targets.values()),
        "big_group": {"members": big.BIG, "batch": big.BATCH, "figures": big_figures,
                      "measured_at": [n for n in sizes if n >= big.BIG]},
        "errors": sum(r["errors"] for r in results), "load": loads, "server": server_notes,
        "settings": {"reps": args.reps, "patch_reps": args.patch_reps, "extra_reps": args.extra_reps,
                     "warmup": args.warmup, "big_reps": args.big_reps, "big_patch_reps": args.big_patch_reps,
                     "unstreamed_peer": not args.no_unstreamed, "cpus": os.cpu_count()},
        "product": product, "elapsed_s": round(time.monotonic() - t_start, 1),
    }
    print(f"flat (<= {FLAT}x) for {', '.join(op for op in OPS if flat[op]) or 'none'} of the three ops; "
          f"run took {summary['elapsed_s']} s")
    print("targets: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in meets_targets.items()))
    emit_json(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
