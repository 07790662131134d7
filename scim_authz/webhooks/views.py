"""The /webhooks blueprint: Logto webhooks and Okta event hooks, one URL per tenant and IdP.

    POST /webhooks/logto/<tenant key>   logto-signature-sha-256: hex HMAC-SHA256 of the body
    GET  /webhooks/okta/<tenant key>    Okta's one-time verification (X-Okta-Verification-Challenge)
    POST /webhooks/okta/<tenant key>    Okta's event deliveries
                                        (both with Authorization: <the secret Okta was given>)

Every request is checked against the rate limits, its body capped (WEBHOOK_MAX_REQUEST_BYTES) and
authenticated before anything is parsed. A missing or wrong signature or secret, a tenant key that
names no tenant, a disabled tenant and a tenant with no secret for that IdP are one answer, 401,
so the answer does not say which tenant keys exist; the log says which it was (never the secret).
The events are then applied in one write transaction (scim_authz/webhooks/sync.py), as the
webhook's source in the administrative change log.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Response, g, request
from werkzeug.exceptions import TooManyRequests

from scim_authz.db.txn import transaction
from scim_authz.governance.actor import Actor, acting
from scim_authz.ops.logs import ENVIRON_KEY
from scim_authz.policy import webhook_secrets
from scim_authz.policy.tenants import find_tenant
from scim_authz.web import rate_limit, requests
from scim_authz.web.guard import refuse_what_is_past_the_cap
from scim_authz.webhooks import logto, okta, sync
from scim_authz.webhooks.errors import InvalidPayload, Refused
from scim_authz.webhooks.events import IGNORE
from scim_authz.webhooks.verify import DECOY, logto_signature_matches, okta_secret_matches

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger("scim_authz.webhooks")
SURFACE = "webhook"  # its rate limits (scim_authz/web/rate_limit.py)
CHALLENGES = {
    "logto": f'Signature realm="scim-authz webhooks", header="{logto.SIGNATURE_HEADER}"',
    "okta": f'Header realm="scim-authz webhooks", header="{okta.SECRET_HEADER}"',
}


@dataclass(frozen=True)
class WebhookCaller:
    """The tenant a webhook was authenticated for (read by the log lines of the request)."""

    tenant_id: int
    tenant_key: str
    source: str


@bp.post("/logto/<tenant_key>")
def logto_event(tenant_key: str):
    address = _admit()
    raw = _raw_body()
    signature = request.headers.get(logto.SIGNATURE_HEADER)
    caller = _authenticate(tenant_key, "logto", address, signature is not None,
                           lambda key: logto_signature_matches(key, raw, signature))
    event = logto.parse(_json_object(), raw)
    results = _apply(caller, [event])
    return _json({"received": 1, "results": results})


@bp.get("/okta/<tenant_key>")
def okta_verification(tenant_key: str):
    address = _admit()
    _okta_caller(tenant_key, address)
    challenge = request.headers.get(okta.CHALLENGE_HEADER)
    if not challenge:
        raise InvalidPayload(f"Okta verifies an event hook with a GET carrying {okta.CHALLENGE_HEADER}; "
                             "this request has none")
    log.info("okta event hook verified for tenant %s", tenant_key)
    return _json({"verification": challenge})


@bp.post("/okta/<tenant_key>")
def okta_events(tenant_key: str):
    address = _admit()
    _raw_body()
    caller = _okta_caller(tenant_key, address)
    events = okta.parse(_json_object())
    results = _apply(caller, events)
    return _json({"received": len(events), "results": results})


# ---- the steps ----------------------------------------------------------------------------------

def _admit() -> str:
    """The client's address, within the webhook rate limits (429 with Retry-After past them)."""
    address = rate_limit.client_address()
    rate_limit.limits().admit(SURFACE, address, None, TooManyRequests)
    return address


def _raw_body() -> bytes:
    """The body as sent (what Logto signed), within the body cap (413 past it)."""
    raw = request.get_data(cache=True)
    refuse_what_is_past_the_cap()
    return raw


def _okta_caller(tenant_key: str, address: str) -> WebhookCaller:
    header = request.headers.get(okta.SECRET_HEADER)
    return _authenticate(tenant_key, "okta", address, header is not None,
                         lambda secret: okta_secret_matches(secret, header))


def _authenticate(tenant_key: str, source: str, address: str, presented: bool,
                  matches: Callable[[str], bool]) -> WebhookCaller:
    """The tenant whose secret for `source` the request proves it holds, or Refused (401). The
    tenant is read in a read-only transaction of its own: a refusal never takes a write lock."""
    with transaction(False):
        tenant = find_tenant(tenant_key)
        tenant_id = tenant.id if tenant is not None else None
        disabled = tenant is not None and tenant.disabled_at is not None
        secret = webhook_secrets.secret_for(tenant, source) if tenant is not None else None
    # The same comparison whether or not the tenant exists and has a secret.
    matched = matches(secret if secret is not None and not disabled else DECOY)
    reason = None
    if not presented:
        reason = f"no {_credential(source)}"
    elif tenant_id is None:
        reason = "no tenant has this key"
    elif disabled:
        reason = "the tenant is disabled"
    elif secret is None:
        reason = f"the tenant has no {source} secret (flask webhooks set-secret {tenant_key} {source})"
    elif not matched:
        reason = f"the {_credential(source)} does not match the tenant's"
    if reason is not None:
        rate_limit.limits().auth_failed(SURFACE, address)
        log.warning("%s webhook for tenant key %r from %s refused: %s", source, tenant_key, address, reason)
        told = f"the request has no {_credential(source)}" if not presented else \
            f"the {_credential(source)} is not valid for this URL"
        raise Refused(told, CHALLENGES[source])
    g.caller = WebhookCaller(tenant_id, tenant_key, source)
    return g.caller


def _credential(source: str) -> str:
    return f"{logto.SIGNATURE_HEADER} signature" if source == "logto" else f"{okta.SECRET_HEADER} header"


def _json_object() -> dict:
    """The (already read) body as a JSON object, or 400."""
    return requests.json_body(InvalidPayload, want_object=True)


def _apply(caller: WebhookCaller, events) -> list[dict]:
    """The events applied in one transaction, as the webhook's source in the change log."""
    actor = Actor("webhook", caller.source, "webhook", request.environ.get(ENVIRON_KEY))
    writes = any(ev.action != IGNORE and ev.skip is None for ev in events)
    with transaction(writes), acting(actor):
        return sync.apply(caller.tenant_id, caller.source, events)


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status, content_type="application/json")
