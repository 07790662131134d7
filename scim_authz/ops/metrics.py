"""Prometheus metrics at GET /metrics: requests, decisions, SCIM traffic, the decision log and the engine.

Under gunicorn (config/gunicorn.conf.py) prometheus_client runs in its multiprocess mode: each
worker writes its values to files of its own in PROMETHEUS_MULTIPROC_DIR (scim_authz/ops/multiproc.py)
and a scrape, whichever worker answers it, sums every worker's. Elsewhere (tests, `flask run`) the
values live in the process's memory. Every metric is documented in docs/operations.md.

The request path only takes notes: a request's route, status and latency, a check's outcome and
time, each a tuple appended to a deque (one call in C, safe from any thread). A thread per process
turns the notes into counts once a second and hands them to prometheus_client, where each value
costs a lock, a pid check and a write to a shared file; a scrape does the same first. So what
another worker counted shows in a scrape within a second (what the answering worker counted, at
once), and a worker killed outright loses at most its last second of counts.

The engine's gauges (tenants, users and relationships loaded, revision lag) are read at scrape time
from the engine of the process answering: every worker holds the same tenants.

Scraping is allowed from the networks in METRICS_ALLOW_FROM (loopback by default), or to a caller
presenting METRICS_TOKEN as a bearer token; anyone else gets 403.
"""
from __future__ import annotations

import atexit
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import threading
import time
import weakref
from bisect import bisect_left
from collections import deque
from time import perf_counter

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily
from werkzeug.exceptions import Forbidden

from scim_authz.credentials import end_user_jwt
from scim_authz.ops import multiproc
from scim_authz.pdp import AUDIT_KEY, ENGINE_KEY, decision_log
from scim_authz.web.proxy import PEER_KEY

log = logging.getLogger("scim_authz.ops.metrics")
KEY = "scim_authz.metrics"  # app.extensions[KEY]: the app's Metrics (also the engine's observer)
FLUSH_SECONDS = 1.0
MAX_PENDING = 500_000  # notes kept for the flusher (two a check): tens of seconds' worth at full speed
HTTP_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CHECK_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)
# A method outside these, on a URL no route matched, is counted as "other" (any text can be a method).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# The IdP behind a SCIM request, from its User-Agent (lower-cased substrings, first match wins). Okta
# sends "Okta SCIM Client 1.0.0"; Microsoft's provisioning service "Microsoft Azure AD SCIM provisioning"
# (and names with Microsoft.Identity or Entra in other versions).
CLIENTS = (("okta", "okta"), ("azure ad", "entra"), ("azure active directory", "entra"),
           ("microsoft.identity", "entra"), ("entra", "entra"), ("aad", "entra"))
# Headers a proxy adds to say whom it speaks for: sent by a peer not in TRUSTED_PROXIES, they mean
# the address we see is a proxy's, not the scraper's, so it admits nothing.
FORWARDING = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
_DISCOVERY = {"ServiceProviderConfig", "ResourceTypes", "Schemas"}

HTTP_REQUESTS = Counter("scim_authz_http_requests_total", "HTTP requests answered, by route, method and status",
                        ["route", "method", "status"])
HTTP_DURATION = Histogram("scim_authz_http_request_duration_seconds",
                          "Time from the request reaching the app to its status line, by route and method",
                          ["route", "method"], buckets=HTTP_BUCKETS)
DECISIONS = Counter("scim_authz_decisions_total", "Checks decided (each item of a bulk check), by decision",
                    ["decision"])
CHECK_DURATION = Histogram("scim_authz_check_duration_seconds", "Time the engine took to decide one check",
                           buckets=CHECK_BUCKETS)
SCIM_REQUESTS = Counter("scim_authz_scim_requests_total",
                        "SCIM requests answered, by resource, method, status and identity provider",
                        ["resource", "method", "status", "client"])
LOG_QUEUE = Gauge("scim_authz_decision_log_queue_depth", "Decisions waiting to be written to the decision log",
                  multiprocess_mode="livesum")
LOG_ROWS = Counter("scim_authz_decision_log_rows_written_total", "Decisions written to the decision log")
CATCH_UPS = Counter("scim_authz_engine_catch_ups_total",
                    "Times a tenant's policy was brought up to date change by change")
CHANGES = Counter("scim_authz_engine_changes_applied_total", "Changes applied by catch-ups")
RELOADS = Counter("scim_authz_engine_full_reloads_total", "Times a tenant's policy was reloaded whole")
JWKS_FAILURES = Counter("scim_authz_jwks_fetch_failures_total", "Fetches of an identity provider's JWKS that failed")

bp = Blueprint("metrics", __name__)


# ---- the request path's notes ---------------------------------------------------------------

class _State:
    def __init__(self):
        # What the request path noted, for the flusher: appending to a deque is one call in C and
        # safe from any thread. Bounded: were the flusher ever that far behind, the oldest go.
        self.pending: deque[tuple] = deque(maxlen=MAX_PENDING)
        self.lock = threading.Lock()
        self.flusher: threading.Thread | None = None
        self.children: dict = {}  # what is counted -> the prometheus children it is handed to
        self.instances: weakref.WeakSet = weakref.WeakSet()  # Metrics of live apps (decision log depth)


_state = _State()
_note = _state.pending.append


def _forget_in_child() -> None:
    """A forked worker starts with nothing noted (the parent's notes are the parent's) and no flusher."""
    global _state, _note
    instances = list(_state.instances)
    _state = _State()
    _state.instances.update(instances)
    _note = _state.pending.append


os.register_at_fork(after_in_child=_forget_in_child)


def _start_flusher() -> None:
    with _state.lock:
        if _state.flusher is None:
            _state.flusher = threading.Thread(target=_flush_forever, name="metrics-flusher", daemon=True)
            _state.flusher.start()
            atexit.register(_flush_at_exit, os.getpid())


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        try:
            flush()
        except Exception:  # noqa: BLE001 - the next second tries again; requests never wait on this
            log.exception("could not hand the metrics on")


def _flush_at_exit(pid: int) -> None:
    if pid == os.getpid():  # (a forked child inherits the handler of a parent that had one)
        flush()


def flush() -> None:
    """Hand what the request path noted to prometheus_client, and sample the decision log's queue."""
    st = _state
    with st.lock:
        tallies: dict[tuple, list] = {}  # what is counted -> [counts by bucket, sum]
        popleft = st.pending.popleft
        for _ in range(len(st.pending)):
            note = popleft()
            kind = note[0]
            if kind == "http":  # ("http", rule, method, status line, seconds)
                _, rule, method, status, seconds = note
                rule = rule.rule if rule is not None else None
                if rule is None and method not in METHODS:
                    method = "other"
                _tally(tallies, ("http", rule, method, status[:3]), HTTP_BUCKETS, seconds)
            elif kind == "check":  # ("check", allowed, seconds)
                _tally(tallies, note[:2], CHECK_BUCKETS, note[2])
            else:  # ("scim", rule, the resource the route matched, method, status line, User-Agent)
                _, rule, resource, method, status, user_agent = note
                rule = rule.rule if rule is not None else None
                if rule is None and method not in METHODS:
                    method = "other"
                key = ("scim", scim_resource(rule, resource), method, status[:3], idp_client(user_agent))
                _tally(tallies, key, (), 0.0)
        for key, (counts, total) in tallies.items():
            _hand_on(st.children, key, counts, total)
        depth = 0
        for m in list(st.instances):
            app = m.app()
            writer = app.extensions.get(AUDIT_KEY) if app is not None else None
            depth += len(writer.queue) if writer is not None else 0
        LOG_QUEUE.set(depth)


def _tally(tallies: dict, key: tuple, buckets: tuple, seconds: float) -> None:
    t = tallies.get(key)
    if t is None:
        t = tallies[key] = [[0] * (len(buckets) + 1), 0.0]
    t[0][bisect_left(buckets, seconds)] += 1
    t[1] += seconds


def _hand_on(children: dict, key: tuple, counts: list[int], total: float) -> None:
    found = children.get(key)
    if found is None:
        found = children[key] = _children(key)
    counter, histogram = found
    counter.inc(sum(counts))
    if histogram is not None:
        # prometheus_client has no call adding many observations at once: these are the values
        # Histogram.observe adds to (one per bucket, not cumulative, then the sum).
        for value, c in zip(histogram._buckets, counts, strict=True):
            if c:
                value.inc(c)
        histogram._sum.inc(total)


def _children(key: tuple):
    kind = key[0]
    if kind == "http":
        _, rule, method, status = key
        route = route_label(rule)
        return HTTP_REQUESTS.labels(route, method, status), HTTP_DURATION.labels(route, method)
    if kind == "check":
        return DECISIONS.labels("allow" if key[1] else "deny"), CHECK_DURATION
    _, resource, method, status, client = key  # "scim"
    return SCIM_REQUESTS.labels(resource, method, status, client), None


_ROUTES: dict[str | None, str] = {None: "unmatched"}
_CONVERTER = re.compile(r"<(?:[^<>]*:)?([^<>:]+)>")


def route_label(rule: str | None) -> str:
    """The route as a label: its URL rule with converters dropped (/scim/v2/<resource>/<rid>)."""
    label = _ROUTES.get(rule)
    if label is None:
        label = _ROUTES[rule] = _CONVERTER.sub(r"<\1>", rule)
    return label


_UA: dict[str, str] = {}


def idp_client(user_agent: str) -> str:
    """okta, entra or other, from a SCIM request's User-Agent."""
    client = _UA.get(user_agent)
    if client is None:
        ua = user_agent.lower()
        client = next((name for part, name in CLIENTS if part in ua), "other")
        if len(_UA) < 1024:  # any text can be a User-Agent: remember a bounded number
            _UA[user_agent] = client
    return client


def scim_resource(rule: str | None, resource: str | None) -> str:
    """Users, Groups, Bulk, Me, search (/.search at the root), discovery, or unmatched, from the
    route's rule and the resource it matched (<any(Users, Groups):resource>)."""
    if rule is None:
        return "unmatched"
    if resource in ("Users", "Groups"):
        return resource
    first = rule.removeprefix("/scim/v2/").partition("/")[0]
    if first in _DISCOVERY:
        return "discovery"
    return {"Bulk": "Bulk", "Me": "Me", ".search": "search"}.get(first, "other")


# ---- the app's metrics ----------------------------------------------------------------------

class Counting:
    """WSGI middleware timing each request from its arrival to its status line, and counting it then.

    Flask sends the status line (start_response) before it pops the request context, so the request
    it matched (werkzeug.request in the environ) is still there to say which route it was. No Flask
    hook is used: Flask calls each of those through ensure_sync, which alone costs about a microsecond."""

    def __init__(self, wsgi_app, metrics: Metrics):
        self.wsgi_app = wsgi_app
        self.record = metrics.record

    def __call__(self, environ, start_response):
        started = perf_counter()
        record = self.record

        def counted_start_response(status, headers, exc_info=None):
            record(environ, status, started)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, counted_start_response)


class Metrics:
    """One app's metrics settings and hooks; also the engine's observer (caught_up, reloaded)."""

    def __init__(self, app: Flask):
        self.app = weakref.ref(app)
        self.networks = parse_networks(app.config.get("METRICS_ALLOW_FROM", ""))
        token = app.config.get("METRICS_TOKEN") or ""
        self.token_digest = hashlib.sha256(token.encode()).digest() if token else None
        self._facts: dict[int, tuple[int, int, int]] = {}  # tenant -> (store id, revision, relationships)

    # -- the request path --

    def record(self, environ, status: str, started: float) -> None:
        """Note one request answered with `status` ("200 OK"), `started` by perf_counter."""
        seconds = perf_counter() - started
        req = environ.get("werkzeug.request")
        rule = req.url_rule if req is not None else None
        method = environ.get("REQUEST_METHOD", "")
        _note(("http", rule, method, status, seconds))
        if environ.get("PATH_INFO", "").startswith("/scim/"):
            view_args = req.view_args if req is not None else None
            _note(("scim", rule, view_args.get("resource") if view_args else None, method, status,
                   environ.get("HTTP_USER_AGENT", "")))
        if _state.flusher is None:
            _start_flusher()

    def checked(self, seconds: float, allowed: bool) -> None:
        """Note one decision and the engine's time on it (POST /v1/check and each bulk item)."""
        _note(("check", allowed, seconds))

    # -- the engine's observer --

    def caught_up(self, tenant_id: int, changes: int) -> None:
        CATCH_UPS.inc()
        CHANGES.inc(changes)

    def reloaded(self, tenant_id: int) -> None:
        RELOADS.inc()

    # -- scraping --

    def admits(self, environ) -> bool:
        """Whether this request may read the metrics: a token equal to METRICS_TOKEN (compared in
        constant time), or a client address in METRICS_ALLOW_FROM that is the scraper's own."""
        if self.token_digest is not None:
            scheme, _, given = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(
                    hashlib.sha256(given.strip().encode()).digest(), self.token_digest):
                return True
        if not self.networks:
            return False
        address = environ.get("REMOTE_ADDR") or ""
        if PEER_KEY in environ:  # through a trusted proxy: REMOTE_ADDR is the client it named, if any
            if address == environ[PEER_KEY]:
                return False
        elif any(environ.get(h) for h in FORWARDING):
            return False  # a proxy we do not trust speaks for someone we cannot see
        ip = _ip(address)
        return ip is not None and any(ip in net for net in self.networks)

    def engine_families(self):
        """Gauges read now from this process's engine."""
        app = self.app()
        eng = app.extensions.get(ENGINE_KEY) if app is not None else None
        stores = dict(eng.stores) if eng is not None else {}
        yield _gauge("scim_authz_engine_tenants_loaded", "Tenants whose policy this process holds", len(stores))
        yield _gauge("scim_authz_engine_users_loaded", "Users held, over every tenant",
                     sum(len(st.users) for st in stores.values()))
        yield _gauge("scim_authz_engine_relationships_loaded", "Relationship facts held, over every tenant",
                     sum(self._relationships(tid, st) for tid, st in stores.items()))
        newest_known = getattr(eng, "newest_known", None)
        if newest_known is not None:
            lags = []
            for tid, st in stores.items():
                newest = newest_known(tid)
                if newest is not None:
                    lags.append(max(0, newest - st.revision))
            yield _gauge("scim_authz_engine_revision_lag",
                         "Revisions the furthest-behind tenant held is behind the newest this instance knows of",
                         max(lags, default=0))
            yield _gauge("scim_authz_engine_tenants_behind", "Tenants held at an older revision than the newest known",
                         sum(1 for lag in lags if lag > 0))
        unconfirmed = getattr(eng, "unconfirmed", None)
        if unconfirmed is not None:
            yield _gauge("scim_authz_engine_tenants_unconfirmed",
                         "Tenants served from memory because their revision could not be read", len(unconfirmed))

    def _relationships(self, tid: int, st) -> int:
        """The tenant's relationship facts, counted again only when its store or revision changed."""
        seen = self._facts.get(tid)
        if seen is not None and seen[0] == id(st) and seen[1] == st.revision:
            return seen[2]
        try:
            n = len(st.rels)
        except RuntimeError:  # changed while counted (threaded workers): the last count stands
            return seen[2] if seen is not None else 0
        self._facts[tid] = (id(st), st.revision, n)
        return n


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class _Exposition:
    """What a scrape reports: every worker's values (or this process's), and the engine's gauges."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def collect(self):
        if prometheus_values.ValueClass._multiprocess:
            from prometheus_client.multiprocess import MultiProcessCollector

            yield from MultiProcessCollector(None).collect()
        else:
            yield from REGISTRY.collect()
        yield from self.metrics.engine_families()


@bp.get("/metrics")
def scrape():
    metrics: Metrics = current_app.extensions[KEY]
    if not metrics.admits(request.environ):
        raise Forbidden("Metrics are served only to the networks in METRICS_ALLOW_FROM, or with METRICS_TOKEN.")
    flush()
    return Response(generate_latest(_Exposition(metrics)), content_type=CONTENT_TYPE_LATEST)


def _ip(text: str):
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    return (ip.ipv4_mapped or ip) if ip.version == 6 else ip


def parse_networks(value: str) -> list:
    """Networks from "127.0.0.0/8, ::1/128, 10.0.0.5": a bad entry stops the app from starting, named."""
    networks = []
    for item in (i.strip() for i in (value or "").split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item))
        except ValueError as e:
            raise ValueError(f"METRICS_ALLOW_FROM: {item!r} is neither an IP address nor a network "
                             f"(as in 10.0.0.0/8): {e}") from e
    return networks


def init_app(app: Flask) -> None:
    """Serve /metrics and count requests, unless METRICS_ENABLED is off (then nothing is added)."""
    if not app.config.get("METRICS_ENABLED", True):
        return
    if multiproc.running_under_gunicorn() and not prometheus_values.ValueClass._multiprocess:
        log.warning("metrics: gunicorn runs without %s (config/gunicorn.conf.py sets it), so each worker "
                    "reports only its own counts, whichever answers the scrape", multiproc.ENV)
    metrics = Metrics(app)
    app.extensions[KEY] = metrics
    _state.instances.add(metrics)
    app.register_blueprint(bp)
    app.wsgi_app = Counting(app.wsgi_app, metrics)
    decision_log.HOOKS["rows_written"] = LOG_ROWS.inc
    end_user_jwt.HOOKS["fetch_failed"] = JWKS_FAILURES.inc
