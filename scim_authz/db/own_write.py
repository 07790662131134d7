"""A write on a pooled connection of its own, without the ORM session.

The most frequent SCIM write, a user created, is one INSERT run through db.prepared plus the change
log's statements before the COMMIT. Through the ORM session it also paid for making a session, its
transaction, a Core connection and its transaction, and the session's commit with its events: a
sixth of the request's CPU. A unit of work that writes (db.txn.transaction) may declare, before
its first statement, that every statement it runs goes through db.prepared.run (`write_on_own_
connection`): they then run on a connection straight from the pool, begun as the storage layer
begins a write (SQLite: the writers' turn, then BEGIN IMMEDIATE; PostgreSQL: the driver's own
BEGIN), and the hooks registered here run around its COMMIT (the change log's: pdp/changes.py).
What it committed reaches the disk as any write's does (db.wal_sync), and an error of the driver is
SQLAlchemy's, as from any statement.

Nothing of the ORM session may be used inside such a write: on SQLite a second connection would
wait for the write lock this one holds.
"""
from __future__ import annotations

from collections.abc import Callable

from scim_authz.db.driver_path import as_sqlalchemy_error, execute_plain
from scim_authz.db.extensions import db
from scim_authz.db.prepared import PooledConnection
from scim_authz.db.txn import BEGUN, OWN_WRITE
from scim_authz.db.write_turn import take_for_unit_of_work, turn_for

# Run with the write, in order, just before its COMMIT and just after it.
BEFORE_COMMIT: list[Callable[[OwnWrite], None]] = []
AFTER_COMMIT: list[Callable[[OwnWrite], None]] = []


class OwnWrite(PooledConnection):
    """A unit of work's connection for writing, and what it noted for its commit (`info`, as the
    ORM session's `info`)."""

    def __init__(self, engine):
        super().__init__(engine)
        self.info: dict = {}

    def begin(self) -> None:
        if self.dialect.name == "sqlite":
            take_for_unit_of_work(turn_for(self.engine))  # given back by db.txn.transaction
            execute_plain(self, "BEGIN IMMEDIATE")
        self._begun = True  # (psycopg begins at the first statement)

    def execute(self, stmt, params):
        """A statement db.driver_path cannot run, through Core, in this write's transaction."""
        if not self._begun:
            self.begin()
        token = BEGUN.set(True)
        try:
            return super().execute(stmt, params)
        finally:
            BEGUN.reset(token)

    def commit(self) -> None:
        if not self._begun:
            return
        for hook in BEFORE_COMMIT:
            hook(self)
        try:
            self.connection.commit()
        except self.dialect.loaded_dbapi.Error as e:
            raise as_sqlalchemy_error(self, e, "COMMIT", (), self.connection.driver_connection, None) from e
        self._begun = False
        for hook in AFTER_COMMIT:
            hook(self)

    def rollback(self) -> None:
        """Roll back what it began; a connection that cannot even do that is thrown away."""
        self.info.clear()
        if not self._begun:
            return
        self._begun = False
        try:
            self.connection.rollback()
        except Exception as e:  # noqa: BLE001 - the request's own error is the one to raise
            self.invalidate(e)


def write_on_own_connection() -> bool:
    """Declare that the current unit of work's statements all run through db.prepared.run, on a
    connection of its own; True when they will. False outside a unit of work that writes, or when
    the ORM session is in a transaction already (its statements stay on the session's connection)."""
    slot = OWN_WRITE.get()
    if slot is None:
        return False
    if not slot:
        if db.session.registry.has() and db.session().in_transaction():
            return False
        slot.append(OwnWrite(db.engine))
    return True


def current() -> OwnWrite | None:
    """The current unit of work's own connection for writing, if it declared one."""
    slot = OWN_WRITE.get()
    return slot[0] if slot else None
