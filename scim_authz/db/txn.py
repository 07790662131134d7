"""Transactions: the intent a unit of work declares (read by the storage layer, without Flask), and
the one transaction every request runs in."""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

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


@contextmanager
def transaction(write: bool):
    """One request's unit of work: SQLite's write lock taken up front when it writes; committed
    when the block ends if it writes, rolled back if it only read or if it raised. A read that never
    touched the database (a check answered from memory) does not pay for making a session."""
    from scim_authz.db.extensions import db

    token = WRITE_INTENT.set(write)
    try:
        yield
        if write:
            db.session.commit()
        elif db.session.registry.has():
            db.session.rollback()
    except BaseException:
        if db.session.registry.has():
            db.session.rollback()
        raise
    finally:
        WRITE_INTENT.reset(token)


def read_only():
    """A read: never take SQLite's write lock (used by the engine's own short reads)."""
    return intent(False)
