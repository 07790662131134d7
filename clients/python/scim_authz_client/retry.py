"""When a failed request may be sent again, how long to wait first, and what to raise when it may not.

Reads (GETs, checks and lookups, which are read-only POSTs) are safe to resend whatever happened,
so they retry on 502/503/504, timeouts and connection errors. A write is resent only when the
request never left the client (no connection could be made): otherwise it may have been applied,
and sending it again could apply it twice or answer with a confusing 404/409.
"""
from __future__ import annotations

import httpx

from scim_authz_client.errors import ScimAuthzError, ServerUnavailable

RETRY_STATUSES = frozenset({502, 503, 504})
# The request was never written to a connection: resending is safe for any call.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class RetryPolicy:
    """`retries` more attempts after the first, waiting `base` seconds doubling up to `cap`."""

    def __init__(self, retries: int = 2, base: float = 0.05, cap: float = 1.0):
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        self.retries, self.base, self.cap = retries, base, cap

    def delay(self, attempt: int) -> float:
        """The wait before retry number `attempt` (0 for the first retry)."""
        return min(self.cap, self.base * (2 ** attempt))

    def may_retry_error(self, attempt: int, idempotent: bool, exc: httpx.TransportError) -> bool:
        return attempt < self.retries and (idempotent or isinstance(exc, NOT_SENT))

    def may_retry_status(self, attempt: int, idempotent: bool, status: int) -> bool:
        return attempt < self.retries and idempotent and status in RETRY_STATUSES


def unavailable(method: str, url: str, exc: httpx.TransportError, idempotent: bool) -> ScimAuthzError:
    """A transport failure as ServerUnavailable, saying whether a write may have happened."""
    what = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    detail = str(exc) or type(exc).__name__
    message = f"{method} {url} {what}: {detail}"
    if not idempotent and not isinstance(exc, NOT_SENT):
        message += " (the request may have reached the server: the write may or may not have been applied)"
    err = ServerUnavailable(message, code="unreachable")
    err.__cause__ = exc
    return err
