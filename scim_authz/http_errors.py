"""The one place that turns exceptions into response bodies: SCIM errors for /scim, JSON elsewhere."""
from __future__ import annotations

import json
import logging

from flask import Flask, Response, request
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from scim_authz.api.errors import APIError
from scim_authz.scim.errors import SCIMError

log = logging.getLogger("scim_authz.http_errors")
SCIM_CONTENT_TYPE = "application/scim+json"


def scim_response(body: dict, status: int, headers: dict | None = None) -> Response:
    """A response with the SCIM media type (RFC 7644 §3.1)."""
    return Response(json.dumps(body, separators=(",", ":")), status=status,
                    content_type=SCIM_CONTENT_TYPE, headers=headers)


def empty_response(status: int, headers: dict | None = None) -> Response:
    """A response without a body (204, 304): no Content-Type, since there is no content."""
    resp = Response(status=status, headers=headers)
    resp.headers.pop("Content-Type", None)
    return resp


def _is_scim_path() -> bool:
    return request.path.startswith("/scim/")


def _render(status: int, scim_type: str | None, detail: str) -> Response:
    if request.path == "/admin" or request.path.startswith("/admin/"):
        # A browser asked: a page, not JSON (the console's own views render theirs in its style).
        page = (f"<!doctype html><html lang=en><meta charset=utf-8><title>{status}</title>"
                f"<h1>{status}</h1><p>{escape(detail)}</p><p><a href=\"/admin/\">Back to the console</a></p>")
        return Response(page, status=status, content_type="text/html; charset=utf-8")
    if _is_scim_path():
        err = SCIMError(detail, status=status)
        err.scim_type = scim_type
        return scim_response(err.body(), status)
    body = {"error": {"status": status, "code": scim_type or _code(status), "message": detail}}
    return Response(json.dumps(body), status=status, content_type="application/json")


def _code(status: int) -> str:
    return {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
            405: "method_not_allowed", 409: "conflict", 412: "precondition_failed",
            413: "payload_too_large"}.get(status, "error")


def register_error_handlers(app: Flask) -> None:
    """Map SCIM errors, HTTP errors and anything unexpected to bodies; never leak a traceback."""

    @app.errorhandler(SCIMError)
    def _scim_error(err: SCIMError):
        resp = _render(err.status, err.scim_type, err.detail)
        if err.status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="scim-authz"'
        return resp

    @app.errorhandler(APIError)
    def _api_error(err: APIError):
        resp = Response(json.dumps(err.body()), status=err.status, content_type="application/json")
        if err.status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="scim-authz"'
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        detail = err.description or err.name
        if err.code == 404:
            detail = f"No endpoint at {request.path}"
        resp = _render(err.code or 500, None, detail)
        if err.code == 405 and getattr(err, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(err.valid_methods)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _render(500, None, "Internal server error; the request changed nothing.")
