"""Committed revisions heard from PostgreSQL, so a check on any instance skips the revision read
while nothing has changed.

Every write advances its tenant's revision in one statement that also calls `pg_notify` (see
`scim_authz/pdp/changes.py`); PostgreSQL delivers the notification when, and only when, that
transaction commits, to every session that listens on the channel, on every instance. Each
process keeps one listening connection of its own, on a thread of its own, and remembers the
newest revision it heard per tenant. A check compares that with the revision its store holds:
equal means no database read at all; higher means catch up now.

A notification sent while the listening connection is down is lost to it. So the feed says it is
live only after it has, in this order, connected, run LISTEN, and read every tenant's revision:
a commit before that read is in the read, a commit after it is heard. Until then (at start-up,
and from the moment a connection breaks until it is back) `newest()` answers None and the engine
reads the revision per check, as it would with no feed at all.

A commit made by this process is known here before its response goes out (`heard`, from the
after-commit hook), so a client reads its own writes on the instance that took them; other
instances hear of it a few milliseconds later, and a check that passes `at_least` the revision
the write returned reads the database when it has not heard of it yet.

Each notification also names the kinds of change its revision made. The feed keeps, per tenant,
the newest revision that issued or revoked a credential (`credentials_changed`), so a request that
only needs to know its bearer token still stands (SCIM) learns that without catching the tenant's
policy up. A revision whose kinds it never heard (those it re-reads on connecting) counts as such
a change: a token is then checked against the database once more.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable

from scim_authz.authz.changes import CREDENTIAL
from scim_authz.pdp.revision_board import LocalBoard, SharedBoard

log = logging.getLogger("scim_authz.pdp.revision_feed")
CHANNEL = "scim_authz_revision"
APPLICATION_NAME = "scim-authz revision feed"  # the listening session's, in pg_stat_activity


class RevisionFeed:
    """The newest committed revision of each tenant, as heard on CHANNEL by this process."""

    def __init__(self, connect, *, ping_seconds: float = 2.0, retry_seconds: float = 0.5):
        """`connect()` returns a new DBAPI (psycopg) connection to the database, in autocommit."""
        self._connect = connect
        self.ping_seconds = ping_seconds
        self.retry_seconds = retry_seconds
        self._board: LocalBoard | SharedBoard = LocalBoard()
        self._relayed = False  # a process forked after share(): its parent listens for it
        self._restart = False
        self.connects = 0  # connections made (so reconnections), for tests and metrics
        self.last_error = ""
        self.backend_pid = 0  # the listening session's server process
        self._schema = ""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._start_lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget_thread)

    # ---- read by checks ------------------------------------------------------------------

    def newest(self, tenant_id: int) -> int | None:
        """The newest revision committed for the tenant (0 when none was heard), or None while
        this process is not listening: then only the database knows."""
        if self._board.live:
            return self._board.newest(tenant_id)
        if self._thread is None:
            self.start()
        return None

    def credentials_changed(self, tenant_id: int) -> int | None:
        """The newest revision heard that may have issued or revoked one of the tenant's credentials
        (0 when none), or None while this process is not listening."""
        if self._board.live:
            return self._board.credentials_changed(tenant_id)
        if self._thread is None:
            self.start()
        return None

    @property
    def credential_changes(self) -> int:
        """How many revisions that changed a credential were heard, of any tenant."""
        return self._board.credential_changes

    @property
    def known(self) -> dict[int, int]:
        """The newest revision heard per tenant (a board of this process's own)."""
        return self._board.known

    @property
    def live(self) -> bool:
        """Whether what is heard is complete: the listener (this process's, or under share() the
        parent's) is connected and has read every revision."""
        return self._board.live

    @live.setter
    def live(self, value: bool) -> None:
        self._board.live = value

    def heard(self, tenant_id: int, revision: int, kinds: Iterable[str] | None = None) -> None:
        """Note that `revision` of the tenant is committed (from a notification or a local commit),
        having changed `kinds` (None: not known, so possibly anything)."""
        self._board.heard(tenant_id, revision, kinds is None or CREDENTIAL in kinds)

    def share(self) -> None:
        """Keep what is heard in memory shared with the processes forked from here from now on,
        and listen for them: they read it and write their own commits to it, and never listen
        themselves (one listening session per server instead of one per worker:
        scim_authz/pdp/revision_board.py). Called by the gunicorn master before it forks."""
        if isinstance(self._board, SharedBoard):
            return
        local, board = self._board, SharedBoard(stale_seconds=3 * self.ping_seconds + 1)
        for tenant_id, revision in local.known.items():
            board.heard(tenant_id, revision, False)
        for tenant_id, revision in local.credentials.items():
            board.heard(tenant_id, revision, True)
        board.live = False  # (until the listener has re-read every revision into it)
        self._board = board
        # A listener already running reconnects, to re-read every revision into the shared board
        # (what it heard between the copy above and the swap went to the old one).
        self._restart = self._thread is not None
        self.start()

    # ---- the listening thread ------------------------------------------------------------

    def start(self) -> None:
        """Start listening (once per process; a forked child starts its own, unless its parent
        shares what it hears: share())."""
        with self._start_lock:
            if self._thread is not None or self._stop.is_set() or self._relayed:
                return
            self._thread = threading.Thread(target=self._run, name="scim-authz-revision-feed", daemon=True)
            self._thread.start()

    def close(self, wait: bool = False) -> None:
        """Stop listening; the thread ends within `ping_seconds` (waited for when `wait`)."""
        self._stop.set()
        if self._relayed:  # (the board is the parent's, and so is the listener)
            self._board = LocalBoard()
            return
        self.live = False
        thread = self._thread
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join(self.ping_seconds + 5)

    def _forget_thread(self) -> None:
        # A forked child has no thread and no connection: it hears nothing until it listens itself,
        # unless the board is shared: then its parent listens for it.
        self._thread = None
        if isinstance(self._board, SharedBoard):
            self._relayed = True
        else:
            self._board.live = False
        self._start_lock = threading.Lock()

    def _run(self) -> None:
        while not self._stop.is_set():
            conn = None
            # One board per connection: the one that is current now gets every revision read and is
            # the only one this connection says is live (share() swaps boards, then restarts this).
            board = self._board
            try:
                conn = self._connect()
                self.connects += 1
                self._listen(conn, board)
            except Exception as e:  # noqa: BLE001 - any failure: not live, reconnect
                if board.live or not self.last_error:
                    log.warning("revision feed lost its connection, checks read the database until it is back: %s",
                                e)
                self.last_error = str(e) or type(e).__name__
            finally:
                board.live = False
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # noqa: BLE001 - it is being thrown away
                        pass
            self._stop.wait(self.retry_seconds)

    def _listen(self, conn, board: LocalBoard | SharedBoard) -> None:
        self.backend_pid = conn.info.backend_pid
        conn.execute(f"LISTEN {CHANNEL}")
        self._schema = conn.execute("SELECT current_schema()").fetchone()[0] or ""
        for tenant_id, revision in conn.execute("SELECT id, revision FROM tenants").fetchall():
            # What changed while nothing was heard is not known: possibly a credential, even when
            # this process's own commits have since taken `known` that far.
            board.heard(tenant_id, revision, True)
        if self.last_error:
            log.info("revision feed listening again; every tenant's revision re-read")
        self.last_error = ""
        board.live = True
        prefix = self._schema + ":"
        while not self._stop.is_set():
            if self._restart:  # share(): listen again, for the shared board
                self._restart = False
                return
            for note in conn.notifies(timeout=self.ping_seconds):
                payload = note.payload
                if payload.startswith(prefix):  # (other schemas of the same database: not ours)
                    tenant, revision, *kinds = payload[len(prefix):].split(":", 2)
                    board.heard(int(tenant), int(revision), not kinds or CREDENTIAL in kinds[0].split(","))
                if self._stop.is_set():
                    return
            started = time.monotonic()
            conn.execute("SELECT 1")  # the connection is still there (a silent network loss shows here)
            if time.monotonic() - started > self.ping_seconds:
                raise TimeoutError("the database answered the feed's ping too slowly")
            board.beat()


def for_engine(engine) -> RevisionFeed | None:
    """A feed for a PostgreSQL SQLAlchemy engine (None for another backend). Its connections are the
    engine's own kind (same URL and connect arguments), detached from the pool."""
    if engine.dialect.name != "postgresql":
        return None

    def connect():
        raw = engine.raw_connection()
        conn = raw.driver_connection
        raw.detach()  # ours alone: its autocommit setting must never reach the pool
        conn.autocommit = True
        conn.execute(f"SET application_name = '{APPLICATION_NAME}'")  # (so it can be told apart)
        return conn

    return RevisionFeed(connect)
