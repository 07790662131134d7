"""The one place that turns exceptions into response bodies: SCIM errors for /scim, JSON elsewhere."""
from __future__ import annotations

import json
import logging
import sqlite3

import psycopg
from flask import Flask, Response, request
from markupsafe import escape
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from scim_authz.api.errors import APIError
from scim_authz.authz.model import StaleRevision
from scim_authz.policy.errors import Conflict, NotFound, PolicyError
from scim_authz.scim.errors import SCIMError
from scim_authz.web.deadline import RequestTimedOut
from scim_authz.webhooks.errors import WebhookError

log = logging.getLogger("scim_authz.http_errors")
SCIM_CONTENT_TYPE = "application/scim+json"
# The database's own errors for "cannot work now", as the driver raises them: SQLAlchemy wraps what
# it executes (OperationalError), but a connection the pool cannot make (Engine.raw_connection, which
# a unit of work's own connection comes from) arrives unwrapped. Both are a 503, not a 500.
DRIVER_UNAVAILABLE = (sqlite3.OperationalError, psycopg.OperationalError, psycopg.InterfaceError)


def scim_response(body: dict, status: int, headers: dict | None = None) -> Response:
    """A response with the SCIM media type (RFC 7644 §3.1)."""
    return Response(json.dumps(body, separators=(",", ":")), status=status,
                    content_type=SCIM_CONTENT_TYPE, headers=headers)


def scim_stream(parts, status: int, headers: dict | None = None, *, on_close=None) -> Response:
    """A SCIM response whose body is sent as `parts` yields it (chunked); `on_close` runs once it
    is sent or abandoned, whichever way."""
    resp = Response(parts, status=status, content_type=SCIM_CONTENT_TYPE, headers=headers)
    if on_close is not None:
        resp.call_on_close(on_close)
    return resp


def empty_response(status: int, headers: dict | None = None) -> Response:
    """A response without a body (204, 304): no Content-Type, since there is no content."""
    resp = Response(status=status, headers=headers)
    resp.headers.pop("Content-Type", None)
    return resp


# The HTTP status of each kind of domain error; any other PolicyError is the caller's mistake.
POLICY_STATUS: dict[type[PolicyError], int] = {NotFound: 404, Conflict: 409}


def policy_status(err: PolicyError) -> int:
    """The HTTP status a domain error is answered with."""
    return next((status for cls, status in POLICY_STATUS.items() if isinstance(err, cls)), 400)


def error_body(status: int, code: str, message: str, details=None) -> dict:
    """The JSON error body of /v1: {"error": {status, code, message, details?}}."""
    err = {"status": status, "code": code, "message": message}
    if details is not None:
        err["details"] = details
    return {"error": err}


def policy_error_body(err: PolicyError) -> dict:
    """A domain error as /v1's JSON error body."""
    return error_body(policy_status(err), err.code, err.message, err.details)


def _is_scim_path() -> bool:
    return request.path.startswith("/scim/")


def _render(status: int, scim_type: str | None, detail: str, code: str | None = None) -> Response:
    if (request.path == "/admin" or request.path.startswith("/admin/")) and not request.path.startswith("/admin/api/"):
        # A browser asked: a page, not JSON (the console's own views render theirs in its style;
        # the admin API under /admin/api answers JSON like /v1).
        page = (f"<!doctype html><html lang=en><meta charset=utf-8><title>{status}</title>"
                f"<h1>{status}</h1><p>{escape(detail)}</p><p><a href=\"/admin/\">Back to the console</a></p>")
        return Response(page, status=status, content_type="text/html; charset=utf-8")
    if _is_scim_path():
        err = SCIMError(detail, status=status)
        err.scim_type = scim_type
        return scim_response(err.body(), status)
    return json_error(error_body(status, code or scim_type or _code(status), detail), status)


def json_error(body: dict, status: int) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _code(status: int) -> str:
    return {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
            405: "method_not_allowed", 409: "conflict", 412: "precondition_failed",
            413: "payload_too_large", 414: "uri_too_long", 429: "too_many_requests",
            503: "unavailable"}.get(status, "error")


def _database_unavailable(err: Exception) -> str:
    """What to tell a client when the database refused to work, without its internals."""
    text = str(getattr(err, "orig", err)).lower()
    if "disk is full" in text or "disk full" in text or "no space left" in text or "could not extend" in text:
        return "the database's disk is full; nothing was written. Try again once space is freed."
    return "the database is unavailable; nothing was written. Try again shortly."


def register_error_handlers(app: Flask) -> None:
    """Map SCIM errors, HTTP errors and anything unexpected to bodies; never leak a traceback."""

    @app.errorhandler(SCIMError)
    def _scim_error(err: SCIMError):
        resp = _render(err.status, err.scim_type, err.detail)
        if err.status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="scim-authz"'
        return resp

    @app.errorhandler(PolicyError)
    def _policy_error(err: PolicyError):
        return json_error(policy_error_body(err), policy_status(err))

    @app.errorhandler(APIError)
    def _api_error(err: APIError):
        resp = json_error(err.body(), err.status)
        if err.status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="scim-authz"'
        return resp

    @app.errorhandler(WebhookError)
    def _webhook_error(err: WebhookError):
        resp = json_error(error_body(err.status, err.code, err.message), err.status)
        if err.challenge:
            resp.headers["WWW-Authenticate"] = err.challenge
        return resp

    @app.errorhandler(StaleRevision)
    def _stale_revision(err: StaleRevision):
        # at_least names a revision this server has not seen: the caller's mistake (a revision from
        # another tenant or made up), or a write not yet visible here; either way nothing is decided.
        return _render(400, "invalidValue", str(err), code="revision_not_known")

    def _database_error(err: Exception):
        log.error("database error on %s %s: %s", request.method, request.path, getattr(err, "orig", err))
        resp = _render(503, None, _database_unavailable(err))
        resp.headers["Retry-After"] = "5"
        return resp

    for cls in (OperationalError, *DRIVER_UNAVAILABLE):
        app.register_error_handler(cls, _database_error)

    @app.errorhandler(RequestTimedOut)
    def _timed_out(err: RequestTimedOut):
        log.error("%s %s stopped: %s", request.method, request.path, err)
        return _render(503, None, f"{err}; it was stopped and nothing was written. Try again, or ask for less.")

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        detail = err.description or err.name
        if err.code == 404:
            detail = f"No endpoint at {request.path}"
        resp = _render(err.code or 500, getattr(err, "scim_type", None) if _is_scim_path() else None, detail)
        if err.code == 405 and getattr(err, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(err.valid_methods)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _render(500, None, "Internal server error; the request changed nothing.")
