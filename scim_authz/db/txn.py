"""Transaction intent, shared by the request layer and the storage layer without importing Flask."""
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


def read_only():
    """A read: never take SQLite's write lock (used by the engine's own short reads)."""
    return intent(False)
