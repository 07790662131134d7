"""The credentials of the /webhooks routes, for tests/test_route_auth.py: each tenant's Logto signing
key and Okta secret (set after a replaced pair, so the old ones are refused too), the headers that
must be refused, and the headers a valid request carries."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from scim_authz.db.extensions import db
from scim_authz.db.models import Tenant
from scim_authz.db.txn import intent
from scim_authz.policy import webhook_secrets

SIGNATURE = "logto-signature-sha-256"
CHALLENGE = "X-Okta-Verification-Challenge"


@dataclass(frozen=True)
class WebhookSecrets:
    logto: str
    okta: str
    replaced_logto: str
    replaced_okta: str

    def values(self) -> list[str]:
        return [self.logto, self.okta, self.replaced_logto, self.replaced_okta]


def configure(app, tenant_id: int, prefix: str) -> WebhookSecrets:
    """Set the tenant's secrets twice, keeping both the replaced and the current ones."""
    s = WebhookSecrets(f"{prefix}-logto-key-{webhook_secrets.generate()}", webhook_secrets.generate(),
                       f"{prefix}-old-logto-key-{webhook_secrets.generate()}", webhook_secrets.generate())
    with app.app_context(), intent(True):
        tenant = db.session.get(Tenant, tenant_id)
        for logto, okta in ((s.replaced_logto, s.replaced_okta), (s.logto, s.okta)):
            webhook_secrets.set_secret(tenant, "logto", logto)
            webhook_secrets.set_secret(tenant, "okta", okta)
        db.session.commit()
        db.session.remove()
    return s


def _sign(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def is_logto(endpoint: str) -> bool:
    return endpoint.startswith("webhooks.logto")


def valid_headers(endpoint: str, body: bytes | None, s: WebhookSecrets) -> dict:
    """What the IdP sends with a request the tenant's secrets accept."""
    if is_logto(endpoint):
        return {SIGNATURE: _sign(s.logto, body or b"")}
    return {"Authorization": s.okta, CHALLENGE: "probe-challenge"}


def refused_headers(endpoint: str, body: bytes | None, s: WebhookSecrets, scim_token: str,
                    api_key: str) -> list[tuple[str, dict]]:
    """(name, headers) of every credential the route must answer 401."""
    body = body or b""
    if is_logto(endpoint):
        out = [("no signature", {}),
               ("a garbage signature", {SIGNATURE: "garbage"}),
               ("an empty signature", {SIGNATURE: ""}),
               ("the signing key itself", {SIGNATURE: s.logto}),
               ("a signature with the replaced key", {SIGNATURE: _sign(s.replaced_logto, body)}),
               ("a signature with the Okta secret", {SIGNATURE: _sign(s.okta, body)}),
               ("a signature of another body", {SIGNATURE: _sign(s.logto, body + b" ")}),
               ("a signature with a character more", {SIGNATURE: _sign(s.logto, body) + "0"})]
        return out + [(f"{name}, no signature", {"Authorization": v}) for name, v in (
            ("the SCIM token", f"Bearer {scim_token}"), ("the API key", f"Bearer {api_key}"))]
    return [(name, {**({"Authorization": v} if v is not None else {}), CHALLENGE: "probe-challenge"})
            for name, v in (
                ("no Authorization", None),
                ("an empty Authorization", ""),
                ("garbage", "garbage"),
                ("the replaced secret", s.replaced_okta),
                ("the secret with a character more", s.okta + "x"),
                ("the secret with a character less", s.okta[:-1]),
                ("the secret as a bearer token", f"Bearer {s.okta}"),
                ("the Logto signing key", s.logto),
                ("the SCIM token", f"Bearer {scim_token}"),
                ("the API key", f"Bearer {api_key}"))]
