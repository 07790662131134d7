"""Filling scale_memory's databases fast: rows written straight into the product's tables after
`flask db upgrade` (PostgreSQL: COPY, generated in a thread while the server ingests the previous
batch; SQLite: executemany), and a kept PostgreSQL database recognised by the shape it holds."""
from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from dataclasses import asdict

from _gunicorn import flask_cli
from _pg import PgDatabase, _libpq_url
from _report import log
from _scale_memory_data import COLUMNS, SERIAL_TABLES, Shape, copy_text, tenant_data, tenant_rows

MARKER_VERSION = 1  # bump when the rows the filler writes change, so older kept databases are refilled
DATA_TABLES = ("users", "groups", "group_members", "roles", "group_role_mappings", "role_assignments")
# The large tables' indexes are dropped during the fill and built again afterwards (by sorting,
# far faster than 10M inserts into B-trees of collated strings); constraints other tables' foreign
# keys depend on stay.
DEFERRED_INDEX_TABLES = ("users", "group_members")
_INDEXES_SQL = """
SELECT t.relname, i.relname, pg_get_indexdef(i.oid), c.conname, pg_get_constraintdef(c.oid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.conrelid = t.oid AND c.contype IN ('p', 'u')
WHERE t.relname = ANY(%s)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.oid)
ORDER BY t.relname, i.relname
"""


def _batches(shape: Shape, batch: int):
    """Every tenant's rows, `batch` tenants at a time, per table."""
    for start in range(1, shape.tenants + 1, batch):
        merged: dict[str, list[tuple]] = {name: [] for name in COLUMNS}
        for t in range(start, min(shape.tenants, start + batch - 1) + 1):
            for name, rows in tenant_rows(shape, tenant_data(shape, t)).items():
                merged[name] += rows
        yield start, merged


def _produced(gen, depth: int = 2):
    """The items of `gen`, made in a thread ahead of the consumer (at most `depth` waiting)."""
    q: queue.Queue = queue.Queue(depth)
    done = object()

    def run():
        try:
            for item in gen:
                q.put(item)
            q.put(done)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            q.put(e)

    threading.Thread(target=run, daemon=True).start()
    while True:
        item = q.get()
        if item is done:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def marker(shape: Shape) -> str:
    return json.dumps({"filler": MARKER_VERSION, **asdict(shape)}, sort_keys=True)


def kept_marker(db: PgDatabase) -> str | None:
    """The comment a finished fill left on the database, or None (no such database, or unfinished)."""
    import psycopg

    with psycopg.connect(_libpq_url(db.server_url), autocommit=True, connect_timeout=10) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                           (db.name,)).fetchone()
    return row[0] if row else None


# Written straight into the tables, the users and groups are not counted by the product's services:
# each tenant's counts (tenants.user_count, group_count) are set from the rows once they are in.
SET_COUNTS = ("UPDATE tenants SET user_count = (SELECT count(*) FROM users WHERE users.tenant_id = tenants.id), "
              "group_count = (SELECT count(*) FROM groups WHERE groups.tenant_id = tenants.id)")


def fill_pg(db: PgDatabase, shape: Shape, batch: int = 20) -> float:
    """A fresh database, migrated and filled; seconds taken. Foreign-key triggers are off for the
    filler's session only (session_replication_role = replica): the rows are consistent by
    construction, and checking 10M memberships one by one would take most of the time."""
    import psycopg

    t0 = time.perf_counter()
    db.create()
    flask_cli(["db", "upgrade"], db.url)
    url = _libpq_url(db.url)
    with psycopg.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET synchronous_commit = off")
        deferred = conn.execute(_INDEXES_SQL, (list(DEFERRED_INDEX_TABLES),)).fetchall()
        for table, index, _indexdef, constraint, _condef in deferred:
            conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}" if constraint else f"DROP INDEX {index}")
        conn.commit()
        for start, rows in _produced(_batches(shape, batch)):
            with conn.cursor() as cur:
                for table, cols in COLUMNS.items():
                    if rows[table]:
                        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
                            cp.write(copy_text(rows[table]))
            conn.commit()
            done = min(shape.tenants, start + batch - 1)
            log(f"  postgresql: {done}/{shape.tenants} tenants ({time.perf_counter() - t0:.0f} s)")
        for table in SERIAL_TABLES:
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                         f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
        conn.commit()
        conn.execute("SET maintenance_work_mem = '1GB'")
        for table, index, indexdef, constraint, condef in deferred:
            log(f"  postgresql: building {index} ({time.perf_counter() - t0:.0f} s)")
            conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {condef}" if constraint else indexdef)
            conn.commit()
        conn.execute(SET_COUNTS)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        log(f"  postgresql: VACUUM ANALYZE ({time.perf_counter() - t0:.0f} s)")
        conn.execute("VACUUM ANALYZE")  # what autovacuum would do after such a load
    with psycopg.connect(_libpq_url(db.server_url), autocommit=True) as conn:
        conn.execute(f'COMMENT ON DATABASE "{db.name}" IS ' + "'" + marker(shape).replace("'", "''") + "'")
    return time.perf_counter() - t0


def reset_logs_pg(db: PgDatabase) -> None:
    """A kept database starts each run without the decisions earlier runs logged."""
    import psycopg

    with psycopg.connect(_libpq_url(db.url)) as conn:
        conn.execute("TRUNCATE decisions, active_users")


def data_size_pg(db: PgDatabase) -> dict:
    """What the directory and policy rows take in PostgreSQL: heap (+ TOAST), and with indexes."""
    import psycopg

    out = {}
    with psycopg.connect(_libpq_url(db.url)) as conn:
        for table in DATA_TABLES:
            total, table_only, rows = conn.execute(
                f"SELECT pg_total_relation_size('{table}'), pg_table_size('{table}'), "
                f"(SELECT reltuples::bigint FROM pg_class WHERE oid = '{table}'::regclass)").fetchone()
            out[table] = {"rows": rows, "table_mb": table_only / 2**20, "total_mb": total / 2**20}
    out["all"] = {k: sum(v[k] for v in out.values()) for k in ("rows", "table_mb", "total_mb")}
    return out


def fill_sqlite(path, shape: Shape, batch: int = 20) -> float:
    """A SQLite file migrated by `flask db upgrade` and filled with the same rows; seconds taken."""
    t0 = time.perf_counter()
    flask_cli(["db", "upgrade"], f"sqlite:///{path}")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    try:
        for start, rows in _produced(_batches(shape, batch)):
            for table, cols in COLUMNS.items():
                if rows[table]:
                    marks = ", ".join("?" * len(cols))
                    conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows[table])
            conn.commit()
            done = min(shape.tenants, start + batch - 1)
            log(f"  sqlite: {done}/{shape.tenants} tenants ({time.perf_counter() - t0:.0f} s)")
        conn.execute(SET_COUNTS)
        conn.execute("ANALYZE")
        conn.commit()
    finally:
        conn.close()
    return time.perf_counter() - t0
