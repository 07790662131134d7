"""Each tenant's IdP webhook secrets, kept in the tenant's settings (`settings["webhooks"]`): Logto's
signing key (Logto generates it; the operator copies it here) and the Okta event hook's
Authorization header value (generated here; the operator pastes it into Okta).

They are stored as given, since the HMAC and the comparison need them, and are never returned by
any API, shown by the console or written to a log: `settings_dict` (policy/tenants.py) leaves them
out, and the change log records only that one was set or removed, not its value."""
from __future__ import annotations

import secrets

from scim_authz.db.extensions import db
from scim_authz.db.models import Tenant
from scim_authz.governance import changelog
from scim_authz.policy.errors import InvalidInput

SETTING = "webhooks"
# source -> the key of its secret under settings["webhooks"]
KEYS = {"logto": "logto_signing_key", "okta": "okta_secret"}
MIN_LENGTH = 16  # a shorter secret is too easy to guess for a header compared as it is


def generate() -> str:
    """A fresh secret: 32 random bytes, URL-safe text (43 characters)."""
    return secrets.token_urlsafe(32)


def secret_for(tenant: Tenant, source: str) -> str | None:
    """The tenant's secret for `source` ("logto" | "okta"), or None when none is set."""
    value = ((tenant.settings or {}).get(SETTING) or {}).get(KEYS[source])
    return value if isinstance(value, str) and value else None


def configured(tenant: Tenant) -> dict[str, bool]:
    """Which sources have a secret set (never the secrets themselves)."""
    return {source: secret_for(tenant, source) is not None for source in KEYS}


def set_secret(tenant: Tenant, source: str, secret: str) -> None:
    """Store `secret` as the tenant's secret for `source`, replacing any earlier one."""
    if source not in KEYS:
        raise InvalidInput(f"unknown webhook source {source!r}", details={"source": [f"one of {', '.join(KEYS)}"]})
    if len(secret) < MIN_LENGTH or secret != secret.strip():
        raise InvalidInput(f"a webhook secret is at least {MIN_LENGTH} characters, without surrounding spaces",
                           details={"secret": [f"at least {MIN_LENGTH} characters"]})
    replaced = secret_for(tenant, source) is not None
    _write(tenant, {**_webhooks(tenant), KEYS[source]: secret})
    changelog.record(tenant.id, "webhook.secret.set", source, before={"set": replaced}, after={"set": True})


def remove_secret(tenant: Tenant, source: str) -> bool:
    """Forget the tenant's secret for `source` (its webhooks are then refused); False if none was set."""
    if secret_for(tenant, source) is None:
        return False
    _write(tenant, {k: v for k, v in _webhooks(tenant).items() if k != KEYS[source]})
    changelog.record(tenant.id, "webhook.secret.remove", source, before={"set": True}, after={"set": False})
    return True


def _webhooks(tenant: Tenant) -> dict:
    return dict((tenant.settings or {}).get(SETTING) or {})


def _write(tenant: Tenant, webhooks: dict) -> None:
    settings = {k: v for k, v in (tenant.settings or {}).items() if k != SETTING}
    if webhooks:
        settings[SETTING] = webhooks
    tenant.settings = settings  # a new dict: the JSON column notices the change
    db.session.flush()
