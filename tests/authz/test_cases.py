"""Authorization cases as data (tests/authz/cases/*.json), run against the in-memory store and the
SQL store: the same schema, relationships and expectations must hold on both."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scim_authz.authz.engine import Engine
from scim_authz.authz.snapshot_reader import SnapshotReader
from tests.authz.builders import into_database, snapshot

CASES = sorted((Path(__file__).parent / "cases").glob("*.json"))


@pytest.fixture(params=[c.stem for c in CASES])
def case(request):
    return json.loads((Path(__file__).parent / "cases" / f"{request.param}.json").read_text())


@pytest.fixture(params=["memory", "sql"])
def engine_for(request, app):
    def build(case):
        if request.param == "memory":
            return Engine(SnapshotReader([snapshot(case)])), 1
        from scim_authz.authz.sql_store import SQLReader
        from scim_authz.db.extensions import db
        with app.app_context():
            tid = into_database(case)
            return Engine(SQLReader(db.engine)), tid
    return build


def test_checks(case, engine_for, app):
    engine, tid = engine_for(case)
    with app.app_context():
        for c in case.get("checks", []):
            rtype, _, rid = c["resource"].partition(":")
            d = engine.check(tid, c["user"], c["action"], rtype, rid, resource_attrs=c.get("resource_attributes"),
                             context=c.get("context"), explain=True)
            assert d.allowed is c["allowed"], f"{c}: {d.reason}"
            if "reason_contains" in c:
                assert c["reason_contains"] in d.reason, d.reason


def test_lookups(case, engine_for, app):
    engine, tid = engine_for(case)
    with app.app_context():
        for c in case.get("lookup_resources", []):
            _, got = engine.lookup_resources(tid, c["user"], c["action"], c["resource_type"])
            if "expected" in c:
                assert got == sorted(c["expected"]), c
            for must in c.get("expected_contains", []):
                assert must in got, (c, got)
            for mustnt in c.get("expected_excludes", []):
                assert mustnt not in got, (c, got)
            # A lookup agrees with a check on every object it returns.
            for rid in got:
                assert engine.check(tid, c["user"], c["action"], c["resource_type"], rid).allowed, rid
        for c in case.get("lookup_subjects", []):
            rtype, _, rid = c["resource"].partition(":")
            _, got = engine.lookup_subjects(tid, c["action"], rtype, rid)
            assert got == sorted(c["expected"]), c
