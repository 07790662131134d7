"""The decision point's web app (`scim-authz pdp`): the decision API only, for the tenants its PDP key
covers: the control plane's own views of /v1's checks, permissions and lookups and of AuthZEN,
over the same engine, which reads the mirror (mirror.py) instead of a database.

An application authenticates with its own API key, as on the control plane (the PDP holds the
keys' digests, never the keys). Everything else of /v1, SCIM and the console is refused with a
JSON error naming the control plane. No database: the app reads no setting of one.
"""
from __future__ import annotations

import time
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.exceptions import Forbidden

from scim_authz import pdp
from scim_authz.api import authzen_search, authzen_views, check_views
from scim_authz.api.context import AUTHENTICATOR, NO_DATABASE, json_response
from scim_authz.api.errors import APIError, Unauthorized
from scim_authz.authz.engine import Engine
from scim_authz.authz.model import StaleRevision
from scim_authz.credentials.keys import Caller, InvalidCredential, bearer_token, hash_secret
from scim_authz.dataplane.mirror import ControlPlaneAway, Mirror
from scim_authz.dataplane.spool import DecisionSpool
from scim_authz.dataplane.sync import ControlPlane, Syncer
from scim_authz.http_errors import json_error, register_error_handlers
from scim_authz.ops.metrics import Metrics

STATE_KEY = "scim_authz.dataplane"
bp = Blueprint("pdp", __name__)


class ReadOnly(APIError):
    status = 405
    code = "decision_point_read_only"


class State:
    """What the app's views share: the mirror, the syncer, the decision spool, and who may read
    the metrics (the control plane's rule: METRICS_ALLOW_FROM, loopback by default, or METRICS_TOKEN)."""

    def __init__(self, control: ControlPlane, mirror: Mirror, syncer: Syncer, spool: DecisionSpool, scrapers):
        self.control, self.mirror, self.syncer, self.spool = control, mirror, syncer, spool
        self.scrapers = scrapers


def _state() -> State:
    return current_app.extensions[STATE_KEY]


def _authenticate() -> Caller:
    """The application behind the API key, by the digests the control plane sent (api/context.py's
    AUTHENTICATOR); the tenant's store, as the control plane's credential cache gives it, in g.store."""
    try:
        digest = hash_secret(bearer_token(request.headers.get("Authorization")))
    except InvalidCredential as e:
        raise Unauthorized(e.detail) from e
    held = _state().mirror.holder(digest)
    if held is None:
        raise Unauthorized("The API key is not valid.")
    copy, (credential_id, label) = held
    if copy.tenant.disabled:
        raise Unauthorized(f"Tenant {copy.key} is disabled: its credentials are refused until an operator "
                           "enables it again.")
    g.store = pdp.engine().store(copy.id)  # (as the control plane's credential cache does)
    return Caller(copy.id, credential_id, label, copy.key)


def _wanted(body) -> int | None:
    """The highest `consistency.at_least` of a check or bulk check body (None: none asked)."""
    if not isinstance(body, dict):
        return None
    asked = [body.get("consistency")] + [c.get("consistency") for c in body.get("checks") or () if isinstance(c, dict)]
    found = [c["at_least"] for c in asked if isinstance(c, dict) and type(c.get("at_least")) is int]
    return max(found, default=None)


@bp.before_app_request
def _revision_first():
    """A check asking for a revision not received yet waits for it (--wait-seconds), then is a 409:
    never a stale answer, and not a deny either (the control plane answers such a check as a deny,
    from its own database, where the revision cannot be still on its way)."""
    if request.method != "POST" or request.path not in ("/v1/check", "/v1/check/bulk"):
        return None
    raw = request.get_data(cache=True)  # (kept: the view reads the same bytes)
    if b"at_least" not in raw and b"\\u" not in raw:
        return None  # nothing asked for, not even escaped: the body is parsed once, by the view
    wanted = _wanted(request.get_json(silent=True))
    if wanted is None:
        return None
    caller = _authenticate()
    mirror = _state().mirror
    if mirror.wait_for(caller.tenant_id, wanted):
        return None
    have = mirror.tenants[caller.tenant_id].revision
    return json_error({"error": {
        "status": 409, "code": "revision_not_reached",
        "message": f"revision {wanted} has not reached this decision point within {mirror.wait_seconds:g}s (it "
                   f"has {have}); nothing was decided: try again, or ask the control plane",
        "details": {"revision": have}}}, 409)


@bp.route("/v1/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/scim/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/admin/<path:rest>", methods=["GET", "POST"])
def elsewhere(rest):
    raise ReadOnly(f"this is a decision point: it answers checks, permissions, lookups and AuthZEN "
                   f"evaluations and searches; send {request.method} {request.path} to the control plane "
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
    """Ready once every tenant is held (from the control plane or local disk); to those who may read
    the metrics, how far behind each tenant is too."""
    st = _state()
    tenants = _tenants_report()
    body = {"status": "ready" if tenants else "loading"}
    if st.scrapers.admits(request.environ):
        body.update(control_plane=st.control.url, connected=st.syncer.connected, last_error=st.syncer.last_error,
                    tenants=tenants, decisions_pending=st.spool.pending())
    return json_response(body, 200 if tenants else 503)


@bp.get("/metrics")
def metrics():
    st = _state()
    if not st.scrapers.admits(request.environ):
        raise Forbidden("Metrics are served only to the networks in METRICS_ALLOW_FROM, or with METRICS_TOKEN.")
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
                   wait_seconds: float = 2.0, ship_seconds: float = 2.0, transport=None, start: bool = True) -> Flask:
    """The decision point's app, holding what local disk has. With `start` (one process), its syncer
    and decision shipper run (threads); under gunicorn, `prepare` runs in the master and `begin` in
    each worker instead (scim_authz/cli_pdp.py)."""
    from scim_authz.config import config_for

    app = Flask(__name__)
    app.config.from_object(config_for(None))  # the same limits as the control plane's (no database is opened)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    control = ControlPlane(control_plane, key, transport=transport)
    mirror = Mirror(wait_seconds)
    engine = Engine(mirror, feed=mirror, retry_seconds=0.0)
    syncer = Syncer(control, engine, mirror, data_dir, poll_seconds=poll_seconds)
    spool = DecisionSpool(data_dir, control.send_decisions, lambda tid: mirror.tenants[tid].key, ship_seconds)
    app.extensions[pdp.ENGINE_KEY] = engine
    app.extensions[pdp.AUDIT_KEY] = spool
    app.extensions[STATE_KEY] = State(control, mirror, syncer, spool, Metrics(app))
    app.extensions[AUTHENTICATOR] = _authenticate
    app.extensions[NO_DATABASE] = True
    for blueprint in (check_views.bp, authzen_views.bp, authzen_search.bp, bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)

    @app.errorhandler(StaleRevision)
    @app.errorhandler(ControlPlaneAway)
    def _not_reached(err: Exception):
        # A check's at_least this decision point has not received within --wait-seconds: never an
        # answer from an older revision.
        message = (f"{err}; this decision point has not received that revision within {wait_seconds:g}s: "
                   "nothing was decided. Try again, or ask the control plane.")
        return json_error({"error": {"status": 409, "code": "revision_not_reached", "message": message}}, 409)

    syncer.load_local()
    if start:
        syncer.start()
        spool.start()
    return app


def prepare(app: Flask) -> None:
    """In gunicorn's master, before it forks: hold every tenant (from local disk, else from the
    control plane, waiting for it), then freeze it out of the garbage collector's way so the
    workers share it copy-on-write. Nothing started here survives the fork: no thread, no connection."""
    import gc

    st = app.extensions[STATE_KEY]
    st.syncer.first_sync(wait_for_data=True)
    st.control.close()
    gc.collect()
    gc.freeze()


def begin(app: Flask) -> None:
    """In each worker, before it serves: its own decision spool (a slot of the data directory),
    the disk writer's role if no other worker has it, one round of sync, then its threads."""
    from scim_authz.dataplane import slots

    st = app.extensions[STATE_KEY]
    spools = st.syncer.dir.parent / "decisions"
    own = slots.claim(spools)
    st.spool.use_dir(own)
    st.spool.adopt(slots.orphans(spools, own))  # what workers no longer running did not send
    st.syncer.claim_persistence()
    st.syncer.first_sync(wait_for_data=False)
    st.syncer.start()
    st.spool.start()


def stop(app: Flask | None) -> None:
    """Stop the syncer and the decision shipper, writing what is not sent to local disk."""
    if app is None:  # (a worker that failed to load its app)
        return
    st = app.extensions[STATE_KEY]
    st.syncer.stop()
    st.spool.close()
    st.control.close()
