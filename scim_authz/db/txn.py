"""Transactions: the intent a unit of work declares (read by the storage layer's SQLite set-up), and
the one transaction every request runs in."""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy.exc import IntegrityError

from scim_authz.db.extensions import db
from scim_authz.db.wal_sync import DEFERRED, flush
from scim_authz.db.write_turn import HELD, give_back

# True while the current unit of work will write, so SQLite takes its write lock up front.
WRITE_INTENT: ContextVar[bool] = ContextVar("write_intent", default=False)


@contextmanager
def intent(write: bool):
    """Declare whether the transactions begun inside the block will write."""
    token = WRITE_INTENT.set(write)
    try:
        yield
    finally:
        WRITE_INTENT.reset(token)


# True while the current unit of work only reads, in statements that need no snapshot in common.
STAND_ALONE: ContextVar[bool] = ContextVar("stand_alone", default=False)
# A stand-alone read's own Core connection, checked out when db.prepared.run first needs it.
ALONE_CONNECTION: ContextVar[list | None] = ContextVar("alone_connection", default=None)
# A write's own connection (db.own_write), once the unit of work has declared it: [OwnWrite]. An
# empty list: a write that may still declare one; None: no unit of work that writes.
OWN_WRITE: ContextVar[list | None] = ContextVar("own_write", default=None)
# True while Core runs a statement on a connection whose transaction its owner began already
# (db.own_write): the storage layer's begin then issues nothing.
BEGUN: ContextVar[bool] = ContextVar("begun", default=False)


@contextmanager
def transaction(write: bool, *, statements_stand_alone: bool = False):
    """One request's unit of work: SQLite's write lock taken up front when it writes; committed
    when the block ends if it writes, rolled back if it only read or if it raised; on disk, when
    SQLite commits by group commit (db.wal_sync), once the write lock is given back. A read that never
    touched the database (a check answered from memory) does not pay for making a session.

    `statements_stand_alone`: a read whose statements need no snapshot in common (at PostgreSQL's
    READ COMMITTED each sees the latest commit anyway) runs each on its own, without BEGIN and
    ROLLBACK (db.setup leaves them out on both backends). Its prepared statements (db.prepared) run
    on a Core connection of their own, without the ORM session's bookkeeping: a SCIM look-up costs
    a quarter less. A write may declare the same of its statements (db.own_write): they then run on
    a connection of its own, committed here with the change log's hooks instead of the session."""
    stand_alone = statements_stand_alone and not write
    token, held, alone = WRITE_INTENT.set(write), [], STAND_ALONE.set(stand_alone)
    turns = HELD.set(held if write else None)
    own: list = []
    own_token = ALONE_CONNECTION.set(own if stand_alone else None)
    unflushed: list = []
    flushing = DEFERRED.set(unflushed if write else None)
    own_write: list = []
    own_write_token = OWN_WRITE.set(own_write if write else None)
    try:
        yield
        if own_write:
            own_write[0].commit()
        elif write:
            db.session.commit()
        elif db.session.registry.has():
            db.session.rollback()
    except BaseException:
        if own_write:
            own_write[0].rollback()
        if db.session.registry.has():
            try:
                db.session.rollback()
            except Exception:  # noqa: BLE001 - the request's own error is the one to raise
                # The connection cannot even roll back (a statement interrupted half-sent by the
                # request deadline, a connection lost): throw it away rather than pool it again.
                db.session.invalidate()
        raise
    finally:
        give_back(held)  # the SQLite writers' turn, taken when the transaction began (db.write_turn)
        DEFERRED.reset(flushing)
        HELD.reset(turns)
        STAND_ALONE.reset(alone)
        WRITE_INTENT.reset(token)
        ALONE_CONNECTION.reset(own_token)
        OWN_WRITE.reset(own_write_token)
        for conn in (*own, *own_write):
            conn.close()  # back to the pool (one that cannot even roll back is thrown away by it)
    # What it committed reaches the disk before the caller answers; the next writer is already
    # committing (db.wal_sync).
    flush(unflushed)


@contextmanager
def read_only():
    """A read in a transaction of its own: never SQLite's write lock, always a BEGIN (used by the
    engine's own short reads and by snapshots). Inside a stand-alone read too: db.prepared.run then
    leaves that read's own connection alone."""
    alone, own = STAND_ALONE.set(False), ALONE_CONNECTION.set(None)
    try:
        with intent(False):
            yield
    finally:
        ALONE_CONNECTION.reset(own)
        STAND_ALONE.reset(alone)


def insert_unique(row, find):
    """Add `row`, or, when a concurrent transaction committed the same unique row first, return
    `find()`'s row instead: (row, True) when this one was inserted, (theirs, False) otherwise.

    On PostgreSQL two writers can both see no row and both insert; the second waits on the unique
    index for the first to commit, then fails. A savepoint keeps that failure from aborting the
    request's transaction, and the sequential answer (the row exists) is given, not a 500. `find`
    returns None when the failure was something else, which is then raised."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
        return row, True
    except IntegrityError:
        theirs = find()
        if theirs is None:
            raise
        return theirs, False
