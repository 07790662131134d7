"""Errors of the domain services, under one root. They carry a stable code, a message a person can
act on and optional details per field, but no HTTP status: each edge maps them once (`/v1` and
`/access/v1` in scim_authz/http_errors.py, the console to form errors, the CLI to messages)."""
from __future__ import annotations


class PolicyError(Exception):
    """Root of the policy services' errors."""

    code = "invalid_request"

    def __init__(self, message: str, *, details: dict | list | None = None):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(PolicyError):
    """What was asked is not valid; details name the fields."""


class InvalidSchema(InvalidInput):
    """A relationship schema that does not validate; details list line, column and message."""

    code = "invalid_schema"


class NotFound(PolicyError):
    """No such user, group, role, assignment, mapping or schema version in the tenant."""

    code = "not_found"


class Conflict(PolicyError):
    """The write conflicts with what exists (a duplicate key, a role still in use)."""

    code = "conflict"
