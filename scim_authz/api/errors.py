"""Errors of the /v1 edge itself (a malformed request, a missing API key), rendered as JSON bodies by
scim_authz/http_errors.py. What the domain services refuse is a scim_authz.policy.errors.PolicyError."""
from __future__ import annotations


class APIError(Exception):
    """Root of /v1 errors: an HTTP status, a stable code, a message, and optional details."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, details: dict | list | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if status is not None:
            self.status = status

    def body(self) -> dict:
        err = {"status": self.status, "code": self.code, "message": self.message}
        if self.details is not None:
            err["details"] = self.details
        return {"error": err}


class InvalidRequest(APIError):
    """The body or parameters are malformed; details name the fields."""


class Unauthorized(APIError):
    """No valid API key."""
    status = 401
    code = "unauthorized"


class Forbidden(APIError):
    """A valid credential that does not cover what it asks for (a PDP key, another tenant)."""
    status = 403
    code = "forbidden"


class SnapshotRequired(APIError):
    """A decision point asked for changes the change log no longer holds all of."""
    status = 410
    code = "snapshot_required"


class Unavailable(APIError):
    """The request could not be done now; nothing was kept: send it again."""
    status = 503
    code = "unavailable"
