"""Errors of the webhook edge, rendered as /v1-shaped JSON bodies by scim_authz/http_errors.py."""
from __future__ import annotations


class WebhookError(Exception):
    """Root of the webhook edge's errors: an HTTP status, a stable code and a message."""

    status = 400
    code = "invalid_request"
    challenge: str | None = None  # WWW-Authenticate, for a 401

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidPayload(WebhookError):
    """The body is not a delivery this receiver understands (after it was authenticated)."""

    code = "invalid_payload"


class Refused(WebhookError):
    """The signature or the secret did not match, or the URL names no tenant that takes this IdP's
    webhooks: one answer for all, so a caller cannot tell which tenant keys exist."""

    status = 401
    code = "unauthorized"

    def __init__(self, message: str, challenge: str):
        super().__init__(message)
        self.challenge = challenge
