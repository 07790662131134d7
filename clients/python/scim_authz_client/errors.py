"""The client's exceptions, under one root, each carrying what the server's JSON error body said.

The server answers every /v1 failure as {"error": {"status", "code", "message", "details"?}}; the
HTTP status picks the class, so callers can catch the kind of failure without parsing anything.
"""
from __future__ import annotations

from typing import Any


class ScimAuthzError(Exception):
    """Root of every error this client raises."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 details: Any = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details

    def __str__(self) -> str:
        prefix = f"{self.status} {self.code}: " if self.status and self.code else ""
        return prefix + self.message


class InvalidRequest(ScimAuthzError):
    """400 or 422: the request was malformed; `details` names each field that was wrong."""


class AuthenticationError(ScimAuthzError):
    """401: the API key is missing, unknown or revoked."""


class PermissionDenied(ScimAuthzError):
    """403: the API key may not do this."""


class NotFound(ScimAuthzError):
    """404: no such user, role, assignment or endpoint."""


class Conflict(ScimAuthzError):
    """409: the write conflicts with what exists (a duplicate key, a role still in use)."""


class RateLimited(ScimAuthzError):
    """429: too many requests from this address or key."""


class ServerError(ScimAuthzError):
    """A 5xx other than 503: the server failed; a failed request changes nothing."""


class ServerUnavailable(ScimAuthzError):
    """503, a timeout or a connection error: the server could not be reached or could not answer."""


# Tables over branches: the class each status is raised as; other 4xx are the root class.
_BY_STATUS: dict[int, type[ScimAuthzError]] = {
    400: InvalidRequest, 401: AuthenticationError, 403: PermissionDenied, 404: NotFound,
    409: Conflict, 422: InvalidRequest, 429: RateLimited, 503: ServerUnavailable,
}


def error_for(status: int, body: Any, text: str = "") -> ScimAuthzError:
    """The exception for an error response: its class by status, its words from the JSON body."""
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ScimAuthzError)
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return cls(str(err.get("message") or f"HTTP {status}"), status=status,
                   code=err.get("code"), details=err.get("details"))
    # Not /v1's JSON (a proxy's page, a SCIM body): keep a little of the text to say what it was.
    return cls(f"HTTP {status}: {text[:200]}".rstrip(": ") if text else f"HTTP {status}", status=status)
