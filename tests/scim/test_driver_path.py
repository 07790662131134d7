"""Prepared statements run by the driver itself (db.driver_path) give what SQLAlchemy would: the same
rows and types, its exceptions, a lost connection thrown away; what the path cannot reproduce runs
through SQLAlchemy; and the SCIM hot paths do take it."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from scim_authz.db import prepared as prepared_module
from scim_authz.db.driver_path import DriverResult, form_for
from scim_authz.db.extensions import db
from scim_authz.db.models import User, new_id, utcnow
from scim_authz.db.prepared import prepared, run
from scim_authz.db.txn import transaction


def _by_name():
    table = User.__table__
    return prepared("tests.user_by_name", lambda: select(table).where(
        table.c.tenant_id == bindparam("t"), table.c.user_name_ci == bindparam("name")).limit(5))


def _make_user(scim, name="zoë.ångström@example.com"):
    r = scim.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
                             "active": True, "name": {"givenName": "Zoë"}, "emails": [{"value": name}]})
    assert r.status_code == 201, r.get_json(force=True)
    return r.get_json(force=True)


def test_rows_from_the_driver_equal_the_rows_sqlalchemy_gives(app, scim, tenant):
    made = _make_user(scim)
    params = {"t": tenant[0], "name": made["userName"].lower()}
    with app.app_context(), transaction(False):
        result = run(_by_name(), params)
        assert isinstance(result, DriverResult)  # it took the driver's path
        ours = result.all()
        theirs = db.session.connection().execute(_by_name(), params).all()
    assert len(ours) == 1 and [tuple(r) for r in ours] == [tuple(r) for r in theirs]
    row = ours[0]
    assert row._mapping == dict(theirs[0]._mapping)
    assert row.id == made["id"] and row.active is True
    assert isinstance(row.created, datetime) and isinstance(row.doc, dict)
    assert row.doc["name"]["givenName"] == "Zoë"


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it_and_the_transaction_keeps_nothing(app, tenant):
    row = {"id": new_id(), "tenant_id": tenant[0], "user_name": "Dup", "user_name_ci": "dup", "external_id": None,
           "active": True, "display_name": None, "doc": {"userName": "Dup"}, "app_attributes": {}, "version": 1,
           "created": utcnow(), "last_modified": utcnow()}
    stmt = prepared("user.insert", lambda: insert(User.__table__))
    with app.app_context():
        with pytest.raises(IntegrityError):
            with transaction(True):
                assert isinstance(run(stmt, row), DriverResult)
                run(stmt, {**row, "id": new_id()})  # the same userName: the unique index refuses it
        count = db.session.execute(text("SELECT count(*) FROM users WHERE user_name_ci = 'dup'")).scalar_one()
    assert count == 0


def test_what_the_driver_path_cannot_reproduce_runs_through_sqlalchemy(app, tenant):
    table = User.__table__
    with app.app_context():
        dialect = db.engine.dialect
        expanding = select(table.c.id).where(table.c.id.in_(bindparam("ids", expanding=True)))
        assert form_for(expanding, dialect, ("ids",)) is None
        # An INSERT that leaves columns to Python-side defaults (version, app_attributes, dates)
        assert form_for(insert(table), dialect, ("id", "tenant_id", "user_name", "user_name_ci", "doc")) is None
        stmt = prepared("tests.user_insert_with_defaults", lambda: insert(table))
        with transaction(True):
            result = run(stmt, {"id": "u-defaults", "tenant_id": tenant[0], "user_name": "d", "user_name_ci": "d",
                                "doc": {}})
            assert not isinstance(result, DriverResult)
        row = db.session.execute(select(table).where(table.c.id == "u-defaults")).one()
    assert row.version == 1 and row.app_attributes == {} and isinstance(row.created, datetime)


def test_the_scim_hot_paths_take_the_drivers_path(app, scim):
    made = _make_user(scim, "hot@example.com")
    assert scim.get("/Users", query_string={"filter": 'userName eq "hot@example.com"'}).status_code == 200
    assert scim.get(f"/Users/{made['id']}").status_code == 200
    assert scim.put(f"/Users/{made['id']}", {**made, "displayName": "Hot"}).status_code == 200
    with app.app_context():
        dialect = db.engine.dialect.name
    taken = {key for key, stmt in prepared_module._BUILT.items()
             if any(k[0] == id(stmt) and k[1] == dialect and form is not None
                    for k, form in prepared_module._FORMS.items())}
    assert {"user.insert", ("scim.lookup", "User", "user_name_ci"), ("user.by_id", False), "user.update"} <= taken


@pytest.mark.parametrize("stand_alone", [False, True], ids=["in-a-transaction", "stand-alone"])
def test_a_connection_lost_under_the_driver_path_is_thrown_away(app, tenant, stand_alone):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("a server that ends the session: PostgreSQL")
        with pytest.raises(DBAPIError) as raised:
            with transaction(False, statements_stand_alone=stand_alone):
                pid = run(prepared("tests.backend_pid", lambda: select(func.pg_backend_pid()))).scalar_one()
                with db.engine.connect() as other:
                    other.execute(select(func.pg_terminate_backend(pid)))
                    other.commit()
                run(_by_name(), {"t": tenant[0], "name": "nobody"})
        assert raised.value.connection_invalidated
        # the pool hands out a working connection again
        with transaction(False, statements_stand_alone=stand_alone):
            assert run(_by_name(), {"t": tenant[0], "name": "nobody"}).all() == []


def test_parameters_are_processed_as_sqlalchemy_processes_them_none_included(app, tenant):
    """JSON's None is the JSON 'null' for SQLAlchemy, not SQL NULL; dates and booleans as it stores them."""
    def row(uid):
        return {"id": uid, "tenant_id": tenant[0], "user_name": uid, "user_name_ci": uid, "external_id": None,
                "active": False, "display_name": None, "doc": {"userName": uid}, "app_attributes": None,
                "version": 1, "created": datetime(2026, 1, 2, 3, 4, 5, 6), "last_modified": utcnow()}
    with app.app_context():
        with transaction(True):
            assert isinstance(run(prepared("user.insert", lambda: insert(User.__table__)), row("by-driver")),
                              DriverResult)
            db.session.connection().execute(insert(User.__table__), row("by-core"))
        stored = db.session.execute(text(
            "SELECT id, app_attributes IS NULL, CAST(app_attributes AS TEXT), CAST(active AS INTEGER), "
            "CAST(created AS TEXT) FROM users WHERE id IN ('by-driver', 'by-core') ORDER BY id DESC")).all()
    assert [r[0] for r in stored] == ["by-driver", "by-core"]
    assert tuple(stored[0][1:]) == tuple(stored[1][1:])
    assert not stored[0][1]  # JSON null, not SQL NULL, on both
