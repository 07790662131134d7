#!/usr/bin/env python
"""How long does `policy apply` take for a large policy, and how far is it from a plain bulk load?

A policy file of 500 roles (half extend one or two earlier roles, a tenth are conditional), 2,000
group mappings (by displayName, a quarter scoped to one project), a schema and 100,000
relationships, with two fixture users and two assertions, is written as YAML. In a fresh database
migrated with `flask db upgrade`, with two tenants made by the CLI, each holding the 2,000 groups
the mappings name (rows as SCIM stores them), in process, timed:

  validate         the file parsed and validated offline (references, schema, relationships
                   against it, the assertions against the engine in memory)
  diff (empty)     what applying it to the empty tenant would change (reads only)
  apply (empty)    the first apply into the empty tenant, through the policy services (its own
                   diff included), in one transaction and one revision, committed
  export           the tenant's policy read back and written as YAML
  diff (few)       the file with a few changes (4 roles changed, 1 removed with its mappings, 20
                   mappings replaced, 100 relationships replaced) against the tenant
  apply (few)      that re-apply
  apply (none)     the same file once more: nothing to write

and, side by side in the same run, the floor: the same roles, mappings, schema and relationships
inserted into the second tenant with plain SQLAlchemy Core bulk inserts in one transaction (no
validation, no diff, no change log), what any loader pays at least. ratio = apply (empty) / floor.
Each apply is checked: the tenant holds what the file says, and its revision advanced by one.

stdout: a table, then as the last line one JSON object with every figure. Progress to stderr.

    python bench/policy_apply.py                                  # SQLite (a temp file)
    python bench/policy_apply.py --pg-url postgresql://postgres@127.0.0.1:5432/test   # and PostgreSQL
    python bench/policy_apply.py --roles 50 --mappings 200 --relationships 10000      # quicker
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from _gunicorn import flask_cli
from _paths import ROOT  # noqa: F401 - puts the repository first on sys.path
from _pg import PgDatabase
from _policy_apply_data import few_changes, floor_load, insert_groups, make_policy
from _report import emit_json, log, print_table, product_state
from _stats import rnd

STEPS = ("validate", "diff (empty)", "apply (empty)", "export", "diff (few)", "apply (few)", "apply (none)", "floor")


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run(database_url: str, doc: dict, changed: dict) -> dict:
    """Every step against one database; {step: seconds}, and what each apply changed."""
    from sqlalchemy import func, select

    from scim_authz import create_app
    from scim_authz.db.extensions import db
    from scim_authz.db.models import GroupRoleMapping, Relationship, Role, Tenant
    from scim_authz.db.txn import transaction
    from scim_authz.policy.as_code.apply import apply_policy, diff_policy
    from scim_authz.policy.as_code.diff import headline
    from scim_authz.policy.as_code.render import to_yaml
    from scim_authz.policy.as_code.state import export_document, read_current
    from scim_authz.policy.as_code.validate import validate_text
    from scim_authz.policy.tenants import find_tenant

    for key in ("bench", "floor"):
        flask_cli(["tenants", "create", key], database_url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    seconds, notes = {}, {}
    with app.app_context():
        tid, floor_tid = find_tenant("bench").id, find_tenant("floor").id
        with transaction(True):
            for t in (tid, floor_tid):
                insert_groups(db, t, len(doc["group_mappings"]))

        def held(t):
            return tuple(db.session.execute(select(func.count()).select_from(m).where(m.tenant_id == t)).scalar_one()
                         for m in (Role, GroupRoleMapping, Relationship))

        def revision():
            return db.session.execute(select(Tenant.revision).where(Tenant.id == tid)).scalar_one()

        texts = {"full": to_yaml(doc), "few": to_yaml(changed)}
        log(f"  the file: {len(texts['full']) / 1e6:.1f} MB of YAML")
        seconds["validate"], report = timed(lambda: validate_text(texts["full"]))
        assert report.ok, report.lines("policy.yaml")[:5]
        policy = report.policy
        few = validate_text(texts["few"]).policy

        def apply(p):
            with transaction(True):
                return apply_policy(tid, p, target="bench")

        for name, p in (("empty", policy), ("few", few)):
            with transaction(False):
                seconds[f"diff ({name})"], (_, plan) = timed(lambda p=p: diff_policy(tid, p))
            before = revision()
            seconds[f"apply ({name})"], done = timed(lambda p=p: apply(p))
            notes[name] = headline(done.plan)
            log(f"  apply ({name}): {notes[name]}")
            assert done.plan.changes == plan.changes and revision() == before + 1 == done.revision
            want = (len(p.sections["roles"]), len(p.sections["group_mappings"]), len(p.sections["relationships"]))
            assert held(tid) == want, (held(tid), want)
            if name == "empty":
                with transaction(False):
                    seconds["export"], text = timed(lambda: to_yaml(export_document(read_current(tid))))
                notes["export_mb"] = rnd(len(text) / 1e6)
        before = revision()
        seconds["apply (none)"], done = timed(lambda: apply(few))
        assert not done.changed and revision() == before

        def floor():
            with transaction(True):
                return floor_load(db, floor_tid, doc)
        seconds["floor"], notes["floor_rows"] = timed(floor)
        assert held(floor_tid) == (len(doc["roles"]), len(doc["group_mappings"]), len(doc["relationships"]))
        db.session.remove()
        db.engine.dispose()
    return {"seconds": {k: rnd(v, 3) for k, v in seconds.items()}, "notes": notes,
            "ratio_apply_to_floor": rnd(seconds["apply (empty)"] / seconds["floor"], 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--roles", type=int, default=500)
    p.add_argument("--mappings", type=int, default=2000)
    p.add_argument("--relationships", type=int, default=100_000)
    p.add_argument("--pg-url", default=None, help="also run on a scratch database bench_scim_policy_apply there")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()

    doc = make_policy(args.roles, args.mappings, args.relationships, args.seed)
    changed = few_changes(doc)
    results = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-policy-apply-"))
    pg = PgDatabase(args.pg_url, "bench_scim_policy_apply") if args.pg_url else None
    try:
        url = f"sqlite:///{tmp / 'bench.db'}"
        log("sqlite: migrating")
        flask_cli(["db", "upgrade"], url)
        results["sqlite"] = run(url, doc, changed)
        if pg is not None:
            log("postgresql: migrating")
            pg.create()
            flask_cli(["db", "upgrade"], pg.url)
            results["postgresql"] = run(pg.url, doc, changed)
    finally:
        if pg is not None:
            pg.drop()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"policy apply: {args.roles} roles, {args.mappings} mappings, {args.relationships:,} relationships")
    stores = list(results)
    print_table(["step", *(f"{s} (s)" for s in stores)],
                [[step, *(results[s]["seconds"][step] for s in stores)] for step in STEPS] +
                [["apply (empty) / floor", *(f"{results[s]['ratio_apply_to_floor']}x" for s in stores)]])
    for s in stores:
        print(f"{s}: first apply: {results[s]['notes']['empty']}; re-apply: {results[s]['notes']['few']}")
    emit_json({"bench": "policy_apply", "sizes": {"roles": args.roles, "mappings": args.mappings,
                                                  "relationships": args.relationships},
               "results": results, "product": product_state()})


if __name__ == "__main__":
    main()
