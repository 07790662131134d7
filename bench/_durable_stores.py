"""The two stores of bench/durable_scim_app.py: the least a SCIM server that acknowledges writes
durably must do, on SQLite and on PostgreSQL. Raw drivers, no ORM.

One table of documents and one of PATCH bodies, the same on both:

  docs(id TEXT PRIMARY KEY, kind TEXT, name_ci TEXT, body TEXT), index on (kind, name_ci)
  patches(id TEXT, body TEXT)          -- appended to, never read by the cycle

A write is exactly one transaction holding one statement, committed before the answer:

  SQLite      WAL, synchronous=FULL (ours' default), busy_timeout=10000 as a safety net; the writers
              of every worker process take turns with an flock on `<database>-write.lock` before
              BEGIN IMMEDIATE (as ours does), so none sleeps in SQLite's busy handler.
  PostgreSQL  psycopg 3, one connection per worker process, autocommit off: BEGIN (psycopg sends
              it), the INSERT / UPDATE / DELETE, COMMIT; synchronous_commit as the server has it.

A read is one SELECT with no transaction around it (SQLite's implicit one; on PostgreSQL the
connection is put in autocommit for it: one round trip). Connections are opened lazily in the
process that uses them, so a gunicorn master that preloads the app forks none.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS docs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, name_ci TEXT NOT NULL,"
    " body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS docs_kind_name ON docs (kind, name_ci)",
    "CREATE TABLE IF NOT EXISTS patches (id TEXT NOT NULL, body TEXT NOT NULL)",
)


class Conflict(Exception):
    """An INSERT whose id is taken (the name exists already)."""


class _Store:
    """The statements, with the driver's placeholder; `_write` and `_read` are the driver's."""

    P = "?"

    def _sql(self, sql: str) -> str:
        return sql.replace("?", self.P)

    def insert(self, rid: str, kind: str, name_ci: str, body: str) -> None:
        self._write("INSERT INTO docs (id, kind, name_ci, body) VALUES (?, ?, ?, ?)", (rid, kind, name_ci, body))

    def replace(self, rid: str, kind: str, name_ci: str, body: str) -> bool:
        return self._write("UPDATE docs SET name_ci = ?, body = ? WHERE id = ? AND kind = ?",
                           (name_ci, body, rid, kind)) > 0

    def append_patch(self, rid: str, body: str) -> None:
        self._write("INSERT INTO patches (id, body) VALUES (?, ?)", (rid, body))

    def delete(self, rid: str, kind: str) -> bool:
        return self._write("DELETE FROM docs WHERE id = ? AND kind = ?", (rid, kind)) > 0

    def by_name(self, kind: str, name_ci: str) -> list[str]:
        return [r[0] for r in self._read("SELECT body FROM docs WHERE kind = ? AND name_ci = ?", (kind, name_ci))]

    def by_id(self, kind: str, rid: str) -> str | None:
        rows = self._read("SELECT body FROM docs WHERE id = ? AND kind = ?", (rid, kind))
        return rows[0][0] if rows else None

    def page(self, kind: str, offset: int, count: int) -> tuple[int, list[str]]:
        """A page in name order (the index's) and the total (the window's; counted apart only for
        a page past the end)."""
        rows = self._read("SELECT body, count(*) OVER () FROM docs WHERE kind = ? ORDER BY name_ci LIMIT ? OFFSET ?",
                          (kind, count, offset))
        if rows:
            return rows[0][1], [r[0] for r in rows]
        return self._read("SELECT count(*) FROM docs WHERE kind = ?", (kind,))[0][0], []


class SqliteStore(_Store):
    def __init__(self, path: str):
        self.path, self._pid, self._conn, self._lock_fd = path, None, None, None

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():        # first use in this (forked) process
            conn = sqlite3.connect(self.path, isolation_level=None)   # we say BEGIN ourselves
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=10000")
            self._conn, self._pid = conn, os.getpid()
            self._lock_fd = os.open(self.path + "-write.lock", os.O_RDWR | os.O_CREAT, 0o600)
        return self._conn

    def _write(self, sql: str, params: tuple) -> int:
        conn = self._connection()
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                n = conn.execute(sql, params).rowcount
            except sqlite3.IntegrityError as e:
                conn.execute("ROLLBACK")
                raise Conflict(str(e)) from e
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return n
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _read(self, sql: str, params: tuple) -> list[tuple]:
        return self._connection().execute(sql, params).fetchall()


class PgStore(_Store):
    P = "%s"

    def __init__(self, url: str):
        self.url, self._pid, self._conn = url, None, None

    def _connection(self):
        import psycopg

        if self._pid != os.getpid() or self._conn is None or self._conn.closed:
            self._conn, self._pid = psycopg.connect(self.url, autocommit=False), os.getpid()
        return self._conn

    def _write(self, sql: str, params: tuple) -> int:
        import psycopg

        conn = self._connection()
        try:
            n = conn.execute(self._sql(sql), params).rowcount
            conn.commit()
            return n
        except psycopg.errors.UniqueViolation as e:
            conn.rollback()
            raise Conflict(str(e)) from e
        except BaseException:
            if not conn.closed:
                conn.rollback()
            raise

    def _read(self, sql: str, params: tuple) -> list[tuple]:
        conn = self._connection()
        conn.autocommit = True              # one SELECT needs no BEGIN / ROLLBACK around it
        try:
            return conn.execute(self._sql(sql), params).fetchall()
        finally:
            conn.autocommit = False


def open_store(database: str) -> _Store:
    """A PostgreSQL URL (postgresql://…) or the path of a SQLite file."""
    return PgStore(database) if database.startswith("postgres") else SqliteStore(database)


def create_schema(database: str) -> None:
    """The tables and the index, before the server starts (WAL set once, it sticks to the file)."""
    if database.startswith("postgres"):
        import psycopg

        with psycopg.connect(database, autocommit=True) as conn:
            for stmt in SCHEMA:
                conn.execute(stmt)
        return
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        for stmt in SCHEMA:
            conn.execute(stmt)
    finally:
        conn.close()
