"""The control plane of bench/pdp.py's floor rounds: our control plane (wsgi:app, its hooks and every
route as they are), except that a decision point's decisions (POST /v1/pdp/tenants/<key>/decisions)
are taken by the least a control plane that keeps them must do, in front of Flask:

  - the body parsed (orjson), nothing checked: no key verified beyond a Bearer header, no row
    validated, no monthly active users counted, no foreign key checked;
  - every decision one row of the same `decisions` table, with its indexes (by id, so a batch sent
    twice is kept once; by tenant and time, what the decision log is read by), 500 rows per
    INSERT … ON CONFLICT (id) DO NOTHING, in one transaction per request;
  - committed durably before the answer (synchronous=FULL: the decision point drops what the
    control plane acknowledged), on a connection of its own per process.

FLOOR_DECISIONS=sink answers without storing anything (what the decision point's p99 is when its
decisions cost the control plane nothing but their HTTP request); it loses them, so bench/pdp.py
runs it last and checks nothing logged by it.

    gunicorn -c config/gunicorn.conf.py --pythonpath bench pdp_floor_control:app
"""
import os
import re
import sqlite3

import orjson

from wsgi import app

COLUMNS = ("id, tenant_id, at, asked_by, user_id, user_key, action, resource_type, resource_id, allowed, reason, "
           "revision")
ROWS_PER_STATEMENT = 500
PATH = re.compile(r"^/v1/pdp/tenants/([^/]+)/decisions$")


class FloorDecisions:
    def __init__(self, inner, database: str, sink: bool):
        self.inner, self.database, self.sink = inner, database, sink
        self._conn, self._pid, self._tenants = None, None, {}

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # (a forked worker opens its own)
            self._conn = sqlite3.connect(self.database, isolation_level=None, timeout=30)
            self._conn.execute("PRAGMA synchronous=FULL")
            self._pid = os.getpid()
        return self._conn

    def _tenant(self, conn, key: str) -> int | None:
        if key not in self._tenants:
            row = conn.execute("SELECT id FROM tenants WHERE key = ?", (key,)).fetchone()
            self._tenants[key] = row[0] if row else None
        return self._tenants[key]

    def __call__(self, environ, start_response):
        m = PATH.match(environ.get("PATH_INFO", ""))
        if m is None or environ["REQUEST_METHOD"] != "POST":
            return self.inner(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if not environ.get("HTTP_AUTHORIZATION", "").startswith("Bearer "):
            return _answer(start_response, "401 Unauthorized", {"error": "a Bearer key is needed"})
        raw = orjson.loads(body)["decisions"]
        if self.sink:
            return _answer(start_response, "200 OK", {"accepted": len(raw), "duplicates": 0})
        conn = self._connection()
        tid = self._tenant(conn, m.group(1))
        if tid is None:
            return _answer(start_response, "404 Not Found", {"error": "no such tenant"})
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        accepted = 0
        try:
            for i in range(0, len(raw), ROWS_PER_STATEMENT):
                chunk = raw[i:i + ROWS_PER_STATEMENT]
                params: list = []
                for r in chunk:
                    params += (r[0], tid, _stored_time(r[2]), "pdp: " + r[3], r[4], r[5], r[6], r[7], r[8], r[9],
                               r[10], r[11])
                marks = ", ".join(["(" + ", ".join("?" * 12) + ")"] * len(chunk))
                cur.execute(f"INSERT INTO decisions ({COLUMNS}) VALUES {marks} ON CONFLICT (id) DO NOTHING", params)
                accepted += max(cur.rowcount, 0)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return _answer(start_response, "200 OK", {"accepted": accepted, "duplicates": len(raw) - accepted})


def _stored_time(at: str) -> str:
    """orjson's "2026-12-07T14:00:00.123456+00:00" as SQLAlchemy stores times on SQLite (orjson
    leaves out a microsecond part of zero)."""
    return at[:10] + " " + (at[11:26] if at[19] == "." else at[11:19] + ".000000")


def _answer(start_response, status: str, body: dict):
    data = orjson.dumps(body)
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _database() -> str:
    url = os.environ["DATABASE_URL"]
    if not url.startswith("sqlite:///"):
        raise SystemExit("pdp_floor_control serves SQLite only (DATABASE_URL=sqlite:///…)")
    return url[len("sqlite:///"):]


app.wsgi_app = FloorDecisions(app.wsgi_app, _database(), os.environ.get("FLOOR_DECISIONS") == "sink")
