"""Health checks for a load balancer or an orchestrator.

GET /healthz: the process answers (liveness). No credential, no database: 200 {"status": "ok"}.
GET /readyz: this instance can serve (readiness). 200 when every check passes, else 503 naming the
failed checks, each with a reason:
- database: a `SELECT 1` answered within READYZ_TIMEOUT_SECONDS (2 s). It runs in a thread of its
  own, so a database that does not answer costs the probe the timeout, not the request deadline;
  while one such query is still waiting, the next probe does not start another and fails at once.
- migrations: the schema's revision (the alembic_version table) is the head of the migration scripts
  this version ships. A revision these scripts do not know is a newer version's (migrations run
  once before a rolling upgrade, and stay compatible with the version before): ready, with a note.
  A known older revision, or none, is not ready: run `scim-authz db upgrade`.
- decision_point: every tenant's policy is loaded (gunicorn's when_ready loads it before serving).

Both routes are public and are counted by no rate limit (they are on no surface that counts, see
scim_authz/web/rate_limit.py); neither says anything of a tenant. Database errors are named by
their kind only, and logged in full, once per change of state.
"""
from __future__ import annotations

import functools
import json
import logging
import threading
from concurrent.futures import Future

from flask import Blueprint, Response, current_app
from sqlalchemy import inspect, text

from scim_authz import pdp
from scim_authz.db.extensions import db
from scim_authz.db.setup import MIGRATIONS_DIR

bp = Blueprint("health", __name__)
log = logging.getLogger("scim_authz.ops.health")
_STATE_KEY = "scim_authz.readiness"
UPGRADE = "run `scim-authz db upgrade` (in a checkout, `flask --app wsgi db upgrade`) once, from one host"


@functools.cache
def migration_heads(directory: str = str(MIGRATIONS_DIR)) -> tuple[frozenset[str], frozenset[str]]:
    """(the head revisions, every revision) of the migration scripts; read once per process."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(directory)
    return frozenset(scripts.get_heads()), frozenset(s.revision for s in scripts.walk_revisions())


def _no_store(body: dict, status: int) -> Response:
    resp = Response(json.dumps(body, separators=(",", ":")), status=status, content_type="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers."""
    return _no_store({"status": "ok"}, 200)


class _Readiness:
    """One instance's probe state: the database query in flight, and the last verdict of each check."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pending: Future | None = None
        self.last: dict[str, bool] = {}  # check -> whether it passed last time
        self.ready: bool | None = None


def _query_versions(engine) -> list[str] | None:
    """SELECT 1, then the schema's revisions (None when there is no alembic_version table)."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        if not inspect(conn).has_table("alembic_version"):
            return None
        return [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]


def _run(future: Future, engine) -> None:
    try:
        future.set_result(_query_versions(engine))
    except BaseException as e:  # noqa: BLE001 - handed to the probe that waits for it
        future.set_exception(e)


def _database(state: _Readiness, engine, timeout: float) -> tuple[dict, list[str] | None, str]:
    """The database check's result, the schema's revisions, and the full error for the log."""
    with state.lock:
        if state.pending is not None and not state.pending.done():
            return ({"ok": False, "reason": f"an earlier query has had no answer for over {timeout:g} s"},
                    None, "an earlier query is still waiting")
        future: Future = Future()
        state.pending = future
    threading.Thread(target=_run, args=(future, engine), name="readyz-database", daemon=True).start()
    try:
        versions = future.result(timeout)
    except TimeoutError:
        return {"ok": False, "reason": f"no answer within {timeout:g} s"}, None, "timed out"
    except Exception as e:  # noqa: BLE001 - named by kind only: the probe is public
        return {"ok": False, "reason": f"the query failed ({type(e).__name__})"}, None, str(e)
    return {"ok": True}, versions, ""


def _migrations(versions: list[str] | None) -> dict:
    try:
        heads, known = migration_heads()
    except Exception:  # noqa: BLE001 - an installation without its scripts is not ready; say so
        log.exception("the migration scripts in %s cannot be read", MIGRATIONS_DIR)
        return {"ok": False, "reason": "this version's migration scripts cannot be read"}
    if versions is None or not versions:
        return {"ok": False, "reason": f"the database has no schema revision: {UPGRADE}"}
    found = set(versions)
    if found == heads:
        return {"ok": True, "revision": ",".join(sorted(found))}
    unknown = found - known
    if unknown:
        return {"ok": True, "revision": ",".join(sorted(found)),
                "note": "the schema is newer than this version's migrations (a newer version migrated it)"}
    return {"ok": False, "revision": ",".join(sorted(found)),
            "reason": f"the schema is at {', '.join(sorted(found))}, this version needs {', '.join(sorted(heads))}: "
                      f"{UPGRADE}"}


def _decision_point(app) -> dict:
    eng = app.extensions.get(pdp.ENGINE_KEY)
    if getattr(eng, "loaded", False):
        return {"ok": True}
    return {"ok": False, "reason": "the tenants' policies are not loaded yet"}


@bp.get("/readyz")
def readyz():
    """Readiness: the database answers, its schema is at head, the decision point is loaded."""
    app = current_app._get_current_object()
    state = app.extensions.get(_STATE_KEY)
    if state is None:
        state = app.extensions.setdefault(_STATE_KEY, _Readiness())
    timeout = float(app.config.get("READYZ_TIMEOUT_SECONDS", 2.0))
    database, versions, error = _database(state, db.engine, timeout)
    checks = {
        "database": database,
        "migrations": (_migrations(versions) if database["ok"]
                       else {"ok": False, "reason": "not checked: the database did not answer"}),
        "decision_point": _decision_point(app),
    }
    failed = [name for name, check in checks.items() if not check["ok"]]
    _log_changes(state, checks, error)
    if failed:
        return _no_store({"status": "unavailable", "failed": failed, "reason": checks[failed[0]]["reason"],
                          "checks": checks}, 503)
    return _no_store({"status": "ready", "checks": checks}, 200)


def _log_changes(state: _Readiness, checks: dict, error: str) -> None:
    """Log a check that starts or stops failing (not every probe: they come every few seconds)."""
    for name, check in checks.items():
        before = state.last.get(name)
        state.last[name] = check["ok"]
        if before is not None and before == check["ok"]:
            continue
        if check["ok"]:
            if before is False:
                log.info("readiness: %s passes again", name)
        else:
            detail = f": {error}" if name == "database" and error else ""
            log.warning("readiness: %s fails: %s%s", name, check["reason"], detail)
    ready = all(check["ok"] for check in checks.values())
    if ready and not state.ready:
        log.info("ready: the database answers, the schema is at head, the decision point is loaded")
    state.ready = ready
