"""Who is calling /v1 (an application API key -> its tenant), and the request's one transaction."""
from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass

from flask import Response, current_app, g, request

from scim_authz import auth, pdp
from scim_authz.api.errors import InvalidRequest, Unauthorized
from scim_authz.extensions import db
from scim_authz.scim.errors import Unauthorized as SCIMUnauthorized
from scim_authz.txn import WRITE_INTENT

# A validated key is trusted this long unless its tenant's credentials change first.
KEY_CACHE_SECONDS = 60.0
CACHE_KEY = "scim_authz.api_keys"


@dataclass(frozen=True)
class Caller:
    tenant_id: int
    credential_id: int
    label: str  # "key <prefix>… (<name>)", for the audit log


def _authenticate() -> Caller:
    """The caller of this request. Cached per key; a revoked key stops working at the next request
    after its revocation reaches this instance, as every credential change bumps the revision."""
    header = request.headers.get("Authorization")
    try:
        token = auth.bearer_token(header)
    except SCIMUnauthorized as e:
        raise Unauthorized(e.detail) from e
    digest = auth.hash_secret(token)
    cache = current_app.extensions.setdefault(CACHE_KEY, {})
    hit = cache.get(digest)
    eng = pdp.engine()
    now = time.monotonic()
    if hit is not None:
        caller, epoch, expires = hit
        st = eng.store(caller.tenant_id)
        if st.credentials_epoch == epoch and now < expires:
            g.store = st
            return caller
    try:
        tenant, cred = auth.authenticate(header, "app")
    except SCIMUnauthorized as e:
        cache.pop(digest, None)
        raise Unauthorized("The API key is not valid.") from e
    caller = Caller(tenant.id, cred.id, f"key {cred.prefix}… ({cred.name})" if cred.name else f"key {cred.prefix}…")
    if auth.last_used_is_stale(cred):
        auth.touch_last_used_now(cred.id)
    st = eng.store(tenant.id)
    cache[digest] = (caller, st.credentials_epoch, now + KEY_CACHE_SECONDS)
    g.store = st
    return caller


def api_endpoint(write: bool = False):
    """Authenticate the API key; run the view in one transaction; JSON out."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            token = WRITE_INTENT.set(write)
            try:
                g.caller = _authenticate()
                result = view(*args, **kwargs)
                if write:
                    db.session.commit()
                else:
                    db.session.rollback()
            except Exception:
                db.session.rollback()
                raise
            finally:
                WRITE_INTENT.reset(token)
            return result if isinstance(result, Response) else json_response(result)
        return wrapper
    return decorate


def json_response(body, status: int = 200) -> Response:
    if isinstance(body, tuple):
        body, status = body
    return Response(json.dumps(body, separators=(",", ":")), status=status, content_type="application/json")


def json_body() -> dict:
    """The request body as a JSON object, or 400."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise InvalidRequest("the request needs a JSON body")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidRequest(f"the body is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object")
    return data
