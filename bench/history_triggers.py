#!/usr/bin/env python
"""What do the access-history triggers cost a SCIM write? The same IdP-style writes, in process,
into two fresh databases of one kind, side by side in the same run: one with the triggers that
write `access_history` (as the server runs), one with them dropped (the floor). Each round sends
users created one by one (POST /Users) and each added to a group by its own PATCH (how Okta and
Entra ID push group members), then a group's members replaced wholesale (PUT /Groups: every old
membership removed, every new one added); the two databases alternate round by round, so the
machine's noise falls on both.

In process through Flask's test client: no HTTP server, so the triggers' share of a request is
larger here than through gunicorn (an upper bound on what they cost).

stdout: a table, then as the last line one JSON object with every figure. Progress to stderr.

    python bench/history_triggers.py                 # SQLite, and PostgreSQL on 127.0.0.1 when reachable
    python bench/history_triggers.py --users 200 --rounds 3 --no-pg
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _pg import DEFAULT_PG_URL, PgDatabase  # noqa: E402
from _report import emit_json, log, print_table, product_state  # noqa: E402

SCIM_JSON = "application/scim+json"


def _app(url: str, triggers: bool):
    from sqlalchemy import text

    from scim_authz import create_app
    from scim_authz.credentials.keys import issue_credential
    from scim_authz.db.extensions import db
    from scim_authz.db.history_triggers import statements
    from scim_authz.db.txn import intent
    from scim_authz.policy.tenants import create_tenant

    unlimited = "1000000/s,1000000"
    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": url, "RATE_LIMIT_SCIM_ADDRESS": unlimited,
                      "RATE_LIMIT_SCIM_TOKEN": unlimited})
    with app.app_context(), intent(True):
        db.create_all()
        if not triggers:
            dialect = db.engine.dialect.name
            for stmt in statements(dialect):
                if stmt.startswith("DROP TRIGGER"):
                    db.session.execute(text(stmt))
        tenant = create_tenant("bench")
        token = issue_credential(tenant, "scim", "bench").secret
        db.session.commit()
        db.session.remove()
    return app, {"Authorization": f"Bearer {token}", "Content-Type": SCIM_JSON}


def _round(client, headers, n: int, tag: str) -> tuple[float, float]:
    """Seconds for n users each created and added to a group by its own PATCH; seconds for the
    group's members then replaced wholesale by another n users."""
    r = client.post("/scim/v2/Groups", json={"displayName": f"g-{tag}"}, headers=headers)
    gid = r.get_json(force=True)["id"]
    start = time.perf_counter()
    ids = []
    for i in range(n):
        u = client.post("/scim/v2/Users", json={"userName": f"u{i}-{tag}@example.com"}, headers=headers)
        uid = u.get_json(force=True)["id"]
        ids.append(uid)
        p = client.patch(f"/scim/v2/Groups/{gid}", headers=headers, json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]})
        assert p.status_code in (200, 204), p.get_data(as_text=True)
    writes = time.perf_counter() - start
    others = [client.post("/scim/v2/Users", json={"userName": f"v{i}-{tag}@example.com"}, headers=headers)
              .get_json(force=True)["id"] for i in range(n)]
    start = time.perf_counter()
    r = client.put(f"/scim/v2/Groups/{gid}", headers=headers,
                   json={"displayName": f"g-{tag}", "members": [{"value": o} for o in others]})
    assert r.status_code == 200, r.get_data(as_text=True)
    return writes, time.perf_counter() - start


def _close(apps: dict) -> None:
    """Stop what each app started (the decision log writer, the revision feed) and let go of its
    connections, before its database is dropped."""
    from scim_authz import pdp
    from scim_authz.db.extensions import db
    for app, _ in apps.values():
        pdp.close(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _measure(kind: str, make_url, users: int, rounds: int) -> tuple[dict, dict]:
    apps = {}
    for triggers in (True, False):
        apps[triggers] = _app(make_url(triggers), triggers)
    times = {True: [], False: []}
    replace = {True: [], False: []}
    for r in range(rounds):
        for triggers in ((True, False) if r % 2 == 0 else (False, True)):
            app, headers = apps[triggers]
            w, p = _round(app.test_client(), headers, users, f"{r}")
            times[triggers].append(w)
            replace[triggers].append(p)
            log(f"{kind} round {r} triggers={triggers}: {2 * users / w:,.0f} writes/s, replace {p * 1000:.0f} ms")
    ops = {t: 2 * users / statistics.median(times[t]) for t in times}
    rep = {t: statistics.median(replace[t]) for t in replace}
    with apps[True][0].app_context():
        from sqlalchemy import func, select

        from scim_authz.db.extensions import db
        from scim_authz.db.models import AccessHistory
        rows = db.session.execute(select(func.count()).select_from(AccessHistory)).scalar_one()
        db.session.remove()
    return {"store": kind, "writes_per_s_with": round(ops[True], 1), "writes_per_s_without": round(ops[False], 1),
            "ratio_with_over_without": round(ops[True] / ops[False], 3),
            "replace_ms_with": round(rep[True] * 1000, 1), "replace_ms_without": round(rep[False] * 1000, 1),
            "history_rows_written": rows}, apps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=300, help="users per round (each: a POST and a PATCH)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pg-url", default=DEFAULT_PG_URL)
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as d:
        figures, apps = _measure("sqlite", lambda t: f"sqlite:///{d}/{'with' if t else 'without'}.db",
                                 args.users, args.rounds)
        results.append(figures)
        _close(apps)
    if not args.no_pg:
        dbs = {t: PgDatabase(args.pg_url, f"bench_scim_history_{'with' if t else 'without'}") for t in (True, False)}
        try:
            for x in dbs.values():
                x.create()
            figures, apps = _measure("postgresql", lambda t: dbs[t].url, args.users, args.rounds)
            results.append(figures)
            _close(apps)
        except Exception as e:  # noqa: BLE001 - a server that is not there: said, and SQLite's figures stand
            log(f"PostgreSQL skipped: {e}")
        finally:
            for x in dbs.values():
                x.drop()
    print_table(["store", "writes/s with triggers", "without", "with / without", "replace ms with", "without",
                 "history rows"],
                [[r["store"], r["writes_per_s_with"], r["writes_per_s_without"], r["ratio_with_over_without"],
                  r["replace_ms_with"], r["replace_ms_without"], r["history_rows_written"]] for r in results])
    emit_json({"benchmark": "history_triggers", "users_per_round": args.users, "rounds": args.rounds,
               "results": results, "product": product_state()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
