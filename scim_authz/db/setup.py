"""Database engine settings that depend on the backend (SQLite pragmas, directories)."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import event

from scim_authz.db.txn import WRITE_INTENT

_PACKAGE = Path(__file__).resolve().parent.parent
# An installed wheel carries the Alembic scripts inside the package; a source checkout keeps them
# at the top of the repository, beside the package.
MIGRATIONS_DIR = next((d for d in (_PACKAGE / "migrations", _PACKAGE.parent / "migrations") if d.is_dir()),
                      _PACKAGE.parent / "migrations")


def sqlite_sidecar(engine, suffix: str) -> str | None:
    """A file beside the engine's SQLite database (`<database><suffix>`), shared by every process
    that opens it; None for another backend or a database in memory."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return str(Path(url.database).resolve()) + suffix


# A PostgreSQL connection that cannot be made fails after a few seconds, and one whose peer went
# silent is found dead by TCP keepalives, so no request (or revision feed) waits on a lost server
# for longer than the request deadline. Settings in SQLALCHEMY_ENGINE_OPTIONS["connect_args"] win.
PG_CONNECT_DEFAULTS = {"connect_timeout": 3, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3,
                       "keepalives_count": 3}


def engine_defaults(config) -> None:
    """Fill in the engine options that depend on the backend (before the engine is made)."""
    if not config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options["connect_args"] = {**PG_CONNECT_DEFAULTS, **options.get("connect_args", {})}
    config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def configure_engine(app: Flask) -> None:
    """Make SQLite behave: WAL, foreign keys, a busy timeout, and the configured durability."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not uri.startswith("sqlite"):
        return
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:///:memory:"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    synchronous = app.config.get("SQLITE_SYNCHRONOUS", "FULL")
    if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")

    with app.app_context():
        from scim_authz.db.extensions import db

        @event.listens_for(db.engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.close()
            # SQLite's lower() folds ASCII only; SCIM's case-insensitive comparisons use this one,
            # Python's, on both sides (scim.filters.fold_case).
            dbapi_conn.create_function("scim_fold", 1, fold_text, deterministic=True)

        sqlite_transactions(db.engine, lambda: WRITE_INTENT.get())


def fold_text(value):
    """lower() for every script (SQLite's own folds ASCII only)."""
    return value.lower() if isinstance(value, str) else value


def sqlite_transactions(engine, write_intent) -> None:
    """Take SQLite transactions into our hands: BEGIN IMMEDIATE for writes, so a request that reads
    and then writes never fails on a lock upgrade, and a plain BEGIN for reads.

    `write_intent()` says whether the current unit of work will write.
    """

    @event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # pysqlite must not issue its own BEGIN

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent() else "BEGIN")
