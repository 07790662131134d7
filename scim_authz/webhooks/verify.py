"""Checking that a webhook came from the tenant's IdP: pure functions, constant-time comparisons."""
from __future__ import annotations

import hashlib
import hmac
import secrets

# Compared against when the URL names no tenant (or one without a secret), so a refusal costs the
# same work whether or not the tenant exists.
DECOY = secrets.token_urlsafe(32)


def logto_signature_matches(signing_key: str, body: bytes, signature: str | None) -> bool:
    """Logto signs the raw body: `logto-signature-sha-256` is the hex HMAC-SHA256 of it under the
    webhook's signing key."""
    expected = hmac.new(signing_key.encode(), body, hashlib.sha256).hexdigest().encode()
    given = (signature or "").strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected, given)


def okta_secret_matches(secret: str, header: str | None) -> bool:
    """Okta sends the configured secret as the whole Authorization header value. Both sides are
    hashed first, so the comparison takes the same time whatever the lengths."""
    given = (header or "").strip().encode("utf-8", "replace")
    return hmac.compare_digest(hashlib.sha256(given).digest(), hashlib.sha256(secret.encode()).digest())
