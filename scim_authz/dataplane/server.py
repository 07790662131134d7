"""The decision point's web app (`scim-authz pdp`): the decision API only, for the tenants its PDP key
covers, decided by the same engine and views as the control plane's, from its mirror (mirror.py).

An application authenticates with its own API key, as on the control plane (the PDP holds the
keys' digests, never the keys). Everything else of /v1, SCIM and the console is refused with a
JSON error naming the control plane. No database: the app reads no setting of one.
"""
from __future__ import annotations

import time
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, g, request

from scim_authz import pdp
from scim_authz.api import check_views
from scim_authz.api.check_items import load_bulk, load_check
from scim_authz.api.context import json_body, json_response
from scim_authz.api.errors import APIError, InvalidRequest, Unauthorized
from scim_authz.authz.engine import Engine
from scim_authz.authz.model import StaleRevision
from scim_authz.credentials.keys import Caller, InvalidCredential, bearer_token, hash_secret
from scim_authz.dataplane.mirror import Mirror
from scim_authz.dataplane.spool import DecisionSpool
from scim_authz.dataplane.sync import ControlPlane, Syncer
from scim_authz.db.models import utcnow
from scim_authz.http_errors import json_error, register_error_handlers
from scim_authz.policy.errors import NotFound

STATE_KEY = "scim_authz.dataplane"
bp = Blueprint("pdp", __name__)


class ReadOnly(APIError):
    status = 405
    code = "decision_point_read_only"


class NotReached(APIError):
    status = 409
    code = "revision_not_reached"


class State:
    """What the app's views share: the mirror, the syncer, the decision spool, settings."""

    def __init__(self, control: ControlPlane, mirror: Mirror, syncer: Syncer, spool: DecisionSpool,
                 wait_seconds: float):
        self.control, self.mirror, self.syncer, self.spool = control, mirror, syncer, spool
        self.wait_seconds = wait_seconds


def _state() -> State:
    return current_app.extensions[STATE_KEY]


def _authenticate() -> Caller:
    """The application behind the API key, by the digests the control plane sent."""
    try:
        digest = hash_secret(bearer_token(request.headers.get("Authorization")))
    except InvalidCredential as e:
        raise Unauthorized(e.detail) from e
    for copy in list(_state().mirror.tenants.values()):
        found = copy.digests.get(digest)
        if found is not None:
            if copy.tenant.disabled:
                raise Unauthorized(f"Tenant {copy.key} is disabled: its credentials are refused until an "
                                   "operator enables it again.")
            g.caller = Caller(copy.id, found[0], found[1], copy.key)
            return g.caller
    raise Unauthorized("The API key is not valid.")


def _reach(at_least: int | None) -> None:
    """Wait (a bounded time) until the revision a check asks for has been received; 409 if not."""
    if at_least is None:
        return
    st = _state()
    if not st.mirror.wait_for(g.caller.tenant_id, at_least, st.wait_seconds):
        err = NotReached(f"revision {at_least} has not reached this decision point within {st.wait_seconds:g}s "
                         f"(it has {st.mirror.revision(g.caller.tenant_id)}); nothing was decided: try again, or "
                         "ask the control plane", details={"revision": st.mirror.revision(g.caller.tenant_id)})
        raise err


def _no_jwt(items) -> None:
    for item in items:
        if "jwt" in item["user"]:
            raise InvalidRequest("a decision point decides for users by id or userName; an end user's JWT is "
                                 "verified, and its user synced, at the control plane")


@bp.post("/v1/check")
def check():
    _authenticate()
    item = load_check(json_body())
    _no_jwt([item])
    _reach(item["at_least"])
    b = check_views.DecisionBatch()
    out, row = check_views.decide(item, item["at_least"], item["explain"] or check_views._explain_arg(), b)
    b.audit.record(row)
    return json_response(_flag_stale(out))


def _flag_stale(body: dict) -> dict:
    """Say so in an answer given while the control plane is out of reach (from the last revision
    received), as the control plane does while its database is."""
    if not _state().syncer.connected:
        body["stale"] = True
    return body


@bp.post("/v1/check/bulk")
def check_bulk():
    _authenticate()
    items, at_least = load_bulk(json_body(), current_app.config["AUTHZ_BULK_MAX_CHECKS"])
    _no_jwt(items)
    _reach(max([i["at_least"] or 0 for i in items] + [at_least or 0]) or None)
    b = check_views.DecisionBatch(at=utcnow())
    results, rows = [], []
    for item in items:
        out, row = check_views.decide(item, item["at_least"] or at_least, check_views._explain_arg() or item["explain"],
                                      b)
        results.append(out)
        rows.append(row)
    b.g.decision_id = None
    b.audit.write_now(rows)
    return json_response(_flag_stale({"results": results, "revision": max(r[11] for r in rows)}))


@bp.get("/v1/users/<path:user>/permissions")
def permissions(user):
    _authenticate()
    at_least = request.args.get("at_least", type=int)
    _reach(at_least)
    found = pdp.engine().permissions(g.caller.tenant_id, user, at_least)
    if found is None:
        raise NotFound(f"no user {user!r} in this tenant")
    return json_response(_flag_stale(found))


@bp.route("/v1/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/scim/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/admin/<path:rest>", methods=["GET", "POST"])
def elsewhere(rest):
    raise ReadOnly(f"this is a decision point: it answers checks (/v1/check, /v1/check/bulk, "
                   f"/v1/users/<user>/permissions); send {request.method} {request.path} to the control plane "
                   f"at {_state().control.url}", details={"control_plane": _state().control.url})


def _tenants_report() -> list[dict]:
    st = _state()
    now = time.time()
    return [{"key": c.key, "revision": c.revision, "control_plane_revision": c.newest,
             "revisions_behind": max(0, c.newest - c.revision),
             "seconds_since_sync": round(now - c.synced_at, 3)} for c in st.mirror.tenants.values()]


@bp.get("/healthz")
def healthz():
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready once every tenant is held (from the control plane or local disk); says how far behind."""
    st = _state()
    tenants = _tenants_report()
    body = {"status": "ready" if tenants else "loading", "control_plane": st.control.url,
            "connected": st.syncer.connected, "last_error": st.syncer.last_error, "tenants": tenants,
            "decisions_pending": len(st.spool.queue)}
    return json_response(body, 200 if tenants else 503)


@bp.get("/metrics")
def metrics():
    st = _state()
    lines = ["# HELP scim_authz_pdp_revision The newest revision of the tenant this decision point holds.",
             "# TYPE scim_authz_pdp_revision gauge",
             "# HELP scim_authz_pdp_revisions_behind Revisions the control plane has that this decision point has not.",
             "# TYPE scim_authz_pdp_revisions_behind gauge",
             "# HELP scim_authz_pdp_seconds_since_sync Seconds since the control plane last answered for the tenant.",
             "# TYPE scim_authz_pdp_seconds_since_sync gauge"]
    for t in _tenants_report():
        label = '{{tenant="{}"}}'.format(t["key"].replace("\\", "\\\\").replace('"', '\\"'))
        lines += [f"scim_authz_pdp_revision{label} {t['revision']}",
                  f"scim_authz_pdp_revisions_behind{label} {t['revisions_behind']}",
                  f"scim_authz_pdp_seconds_since_sync{label} {t['seconds_since_sync']}"]
    lines += ["# HELP scim_authz_pdp_connected 1 while the control plane answers.",
              "# TYPE scim_authz_pdp_connected gauge", f"scim_authz_pdp_connected {int(st.syncer.connected)}",
              "# HELP scim_authz_pdp_decisions_shipped_total Decisions the control plane has taken.",
              "# TYPE scim_authz_pdp_decisions_shipped_total counter",
              f"scim_authz_pdp_decisions_shipped_total {st.spool.shipped}"]
    return Response("\n".join(lines) + "\n", content_type="text/plain; version=0.0.4")


def create_pdp_app(control_plane: str, key: str, data_dir: str | Path, *, poll_seconds: float = 0.05,
                   wait_seconds: float = 2.0, transport=None, start: bool = True) -> Flask:
    """The decision point's app. With `start`, its syncer and decision shipper run (threads)."""
    from scim_authz.config import config_for

    app = Flask(__name__)
    app.config.from_object(config_for(None))  # the same limits as the control plane's (no database is opened)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    control = ControlPlane(control_plane, key, transport=transport)
    mirror = Mirror()
    engine = Engine(mirror, feed=mirror)
    syncer = Syncer(control, engine, mirror, data_dir, poll_seconds=poll_seconds)
    spool = DecisionSpool(data_dir, control.send_decisions, lambda tid: mirror.tenants[tid].key)
    app.extensions[pdp.ENGINE_KEY] = engine
    app.extensions[pdp.AUDIT_KEY] = spool
    app.extensions[STATE_KEY] = State(control, mirror, syncer, spool, wait_seconds)
    app.register_blueprint(bp)
    register_error_handlers(app)

    @app.errorhandler(StaleRevision)
    def _stale(err: StaleRevision):
        return json_error({"error": {"status": 409, "code": "revision_not_reached", "message": str(err)}}, 409)

    syncer.load_local()
    if start:
        syncer.start()
        spool.start()
    return app


def stop(app: Flask) -> None:
    st = app.extensions[STATE_KEY]
    st.syncer.stop()
    st.spool.close()
    st.spool.flush()
    st.control.close()
