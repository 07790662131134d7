"""Statements built once and run many times, on the session's connection.

Building a SQLAlchemy statement and working out its cache key costs more than running it on
SQLite; an ORM `session.execute` adds the ORM's own bookkeeping on top, and Core's `execute` its
own. The hot paths of SCIM (a look-up by userName, a user read by id, the settings a write checks)
build their statement once (`prepared`), with bound parameters for what varies, and run it on the
connection of the request's transaction (`run`): the same SQL in the same transaction, compiled
once per dialect and run by the driver itself where db.driver_path can (else through Core).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.engine import Connection, Result

from scim_authz.db import driver_path
from scim_authz.db.extensions import db
from scim_authz.db.setup import statements_stand_alone
from scim_authz.db.txn import ALONE_CONNECTION, OWN_WRITE

_BUILT: dict[Any, Executable] = {}
# Per prepared statement (by id: they live as long as the process), dialect and parameter names,
# its driver form, or None where it runs through Core.
_FORMS: dict[tuple, driver_path.DriverForm | None] = {}
_PREPARED: set[int] = set()


def prepared(key: Any, build: Callable[[], Executable]) -> Executable:
    """The statement `build()` makes, built once per `key` (the key names everything it depends on)."""
    stmt = _BUILT.get(key)
    if stmt is None:
        stmt = _BUILT[key] = build()
        _PREPARED.add(id(stmt))
    return stmt


def run(stmt: Executable, params: dict | list[dict] | None = None) -> Result | driver_path.DriverResult:
    """Run a Core statement in the current transaction (beginning it as the session would). Unlike
    `session.execute` it does not flush the session's pending objects first: it is for reads of
    what is committed or already flushed, and for writes the ORM does not track. In a read whose
    statements stand alone (db.txn.transaction) it runs on that read's own pooled connection.

    A prepared statement with one set of parameters gives the rows of db.driver_path's result (the
    calls SQLAlchemy's Result has that its callers use); any other, SQLAlchemy's Result."""
    return run_on(_connection(), stmt, params)


def run_on(conn: Connection, stmt: Executable, params: dict | list[dict] | None = None):
    """Run a statement on `conn`, by the driver's path when it is a prepared statement the path
    can run (db.driver_path), else through Core; as `run`, on the connection given."""
    params = params or {}
    if id(stmt) in _PREPARED and isinstance(params, dict):
        key = (id(stmt), conn.dialect.name, tuple(params))
        form = _FORMS.get(key, _FORMS)
        if form is _FORMS:
            form = _FORMS[key] = driver_path.form_for(stmt, conn.dialect, key[2])
        if form is not None:
            if not conn.in_transaction():
                conn.begin()  # (the storage layer's begin: SQLite's BEGIN or none, PostgreSQL's autocommit)
            return driver_path.execute(conn, form, params)
    return conn.execute(stmt, params)


def _connection() -> Connection | PooledConnection:
    own = ALONE_CONNECTION.get()
    if own is None:
        write = OWN_WRITE.get()
        return write[0] if write else db.session.connection()
    if not own:
        own.append(PooledConnection(db.engine))
    return own[0]


class PooledConnection:
    """A stand-alone read's connection, straight from the pool: what db.driver_path needs of a Core
    Connection, without making one (making and closing one is a tenth of a SCIM look-up). A
    statement the driver's path cannot run gets a Core Connection over the same pooled connection."""

    def __init__(self, engine):
        self.engine, self.dialect = engine, engine.dialect
        self.connection = engine.raw_connection()
        self._core: Connection | None = None
        self._begun = False

    def in_transaction(self) -> bool:
        return self._begun

    def begin(self) -> None:
        statements_stand_alone(self.dialect, self.connection.driver_connection)
        self._begun = True

    def invalidate(self, exception: BaseException | None = None) -> None:
        self.connection.invalidate(exception)

    def execute(self, stmt, params):
        if self._core is None:
            self._core = Connection(self.engine, self.connection)
        return self._core.execute(stmt, params)

    @property
    def closed(self) -> bool:
        return not self.connection.is_valid

    def close(self) -> None:
        """Back to the pool (a connection that cannot even roll back is thrown away by it)."""
        if self._core is not None:
            self._core.close()
        else:
            self.connection.close()
