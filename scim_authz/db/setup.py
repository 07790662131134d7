"""Database engine settings that depend on the backend (SQLite pragmas, directories)."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import event

from scim_authz.db import wal_sync
from scim_authz.db.driver_path import execute_plain
from scim_authz.db.txn import BEGUN, STAND_ALONE, WRITE_INTENT
from scim_authz.db.wal_sync import GroupCommitConnection
from scim_authz.db.write_turn import take_for_unit_of_work, turn_for

_PACKAGE = Path(__file__).resolve().parent.parent
# An installed wheel carries the Alembic scripts inside the package; a source checkout keeps them
# at the top of the repository, beside the package.
MIGRATIONS_DIR = next((d for d in (_PACKAGE / "migrations", _PACKAGE.parent / "migrations") if d.is_dir()),
                      _PACKAGE.parent / "migrations")


# A PostgreSQL connection that cannot be made fails after a few seconds, and one whose peer went
# silent is found dead by TCP keepalives, so no request (or revision feed) waits on a lost server
# for longer than the request deadline. Settings in SQLALCHEMY_ENGINE_OPTIONS["connect_args"] win.
PG_CONNECT_DEFAULTS = {"connect_timeout": 3, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3,
                       "keepalives_count": 3}


def engine_defaults(config) -> None:
    """Fill in the engine options that depend on the backend (before the engine is made)."""
    uri = config["SQLALCHEMY_DATABASE_URI"]
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("postgresql"):
        options["connect_args"] = {**PG_CONNECT_DEFAULTS, **options.get("connect_args", {})}
        config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    elif group_commit(config) and "factory" not in options.get("connect_args", {}):
        options["connect_args"] = {**options.get("connect_args", {}), "factory": GroupCommitConnection}
        config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def group_commit(config) -> bool:
    """Whether SQLite commits are flushed to disk by the committing code (db.wal_sync) rather than
    inside SQLite's COMMIT: SQLITE_SYNCHRONOUS=FULL on a database file, SQLITE_GROUP_COMMIT on."""
    uri = config["SQLALCHEMY_DATABASE_URI"]
    return (uri.startswith("sqlite:///") and not uri.startswith("sqlite:///:memory:")
            and str(config.get("SQLITE_SYNCHRONOUS", "FULL")).upper() == "FULL"
            and bool(config.get("SQLITE_GROUP_COMMIT", True)))


def configure_engine(app: Flask) -> None:
    """Make SQLite behave: WAL, foreign keys, a busy timeout, and the configured durability (at
    FULL, by group commit unless SQLITE_GROUP_COMMIT is off: db.wal_sync). On
    PostgreSQL, let stand-alone reads run without BEGIN (pg_transactions)."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgresql"):
        with app.app_context():
            from scim_authz.db.extensions import db

            pg_transactions(db.engine, lambda: STAND_ALONE.get())
        return
    if not uri.startswith("sqlite"):
        return
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:///:memory:"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    synchronous = app.config.get("SQLITE_SYNCHRONOUS", "FULL")
    if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")

    busy_timeout = int(app.config.get("SQLITE_BUSY_TIMEOUT_MS", 10000))

    with app.app_context():
        from scim_authz.db.extensions import db

        # (Found here, once: a connection can be opened where there is no app context, by a thread.)
        flusher = wal_sync.for_database(db.engine.url.database) if group_commit(app.config) else None

        @event.listens_for(db.engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={busy_timeout:d}")
            if flusher is not None and isinstance(dbapi_conn, GroupCommitConnection):
                # FULL's guarantee, the flush made by the committing code after COMMIT (db.wal_sync).
                cur.execute("PRAGMA synchronous=NORMAL")
                dbapi_conn.wal_sync = flusher
            else:
                cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.close()
            # SQLite's lower() folds ASCII only; SCIM's case-insensitive comparisons use this one,
            # Python's, on both sides (scim.filters.fold_case).
            dbapi_conn.create_function("scim_fold", 1, fold_text, deterministic=True)

        sqlite_transactions(db.engine, lambda: WRITE_INTENT.get(), lambda: STAND_ALONE.get())


def fold_text(value):
    """lower() for every script (SQLite's own folds ASCII only)."""
    return value.lower() if isinstance(value, str) else value


def statements_stand_alone(dialect, driver) -> None:
    """Let the statements of a stand-alone read run each on its own on this driver connection:
    autocommit on PostgreSQL (set back when the pool takes it back: pg_transactions); on SQLite,
    where the driver never begins, nothing."""
    if dialect.name == "postgresql":
        from psycopg.pq import TransactionStatus

        if driver.info.transaction_status == TransactionStatus.IDLE:  # (else its first statement fails, as it would)
            driver.autocommit = True


def pg_transactions(engine, stand_alone) -> None:
    """A unit of work that only reads, in statements that need no snapshot in common
    (`stand_alone()`, db.txn.transaction), runs them in autocommit: psycopg sends no BEGIN before
    the first and nothing needs rolling back after the last, two round trips spared. Set on the
    driver's connection when SQLAlchemy begins, so the ORM session and a Core connection alike get
    it; set back when the connection returns to the pool (a connection where that fails is
    thrown away by the pool, never handed out in autocommit)."""

    @event.listens_for(engine, "begin")
    def _begin(conn):
        if stand_alone():
            statements_stand_alone(conn.dialect, conn.connection.driver_connection)

    @event.listens_for(engine, "reset")
    def _reset(dbapi_conn, _record, _state):
        if not dbapi_conn.closed and dbapi_conn.autocommit:
            dbapi_conn.autocommit = False


def sqlite_transactions(engine, write_intent, stand_alone=lambda: False) -> None:
    """Take SQLite transactions into our hands: BEGIN IMMEDIATE for writes, so a request that reads
    and then writes never fails on a lock upgrade, and a plain BEGIN for reads. A unit of work that
    writes takes its turn among the database's writers first (db.write_turn), so it never sleeps
    in SQLite's busy handler.

    `write_intent()` says whether the current unit of work will write; `stand_alone()`, whether it
    only reads, in statements that need no snapshot in common (db.txn.transaction): those run
    without a BEGIN, each in a transaction of its own.
    """

    @event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # pysqlite must not issue its own BEGIN

    turn = turn_for(engine)

    @event.listens_for(engine, "begin")
    def _begin(conn):
        if BEGUN.get():
            return
        if write_intent():
            take_for_unit_of_work(turn)  # given back by db.txn.transaction after COMMIT/ROLLBACK
            execute_plain(conn, "BEGIN IMMEDIATE")
        elif not stand_alone():
            execute_plain(conn, "BEGIN")
