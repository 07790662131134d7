"""Who is calling /v1 (an application API key -> its tenant), and the request's one transaction."""
from __future__ import annotations

import functools
import json

from flask import Response, current_app, g, request
from werkzeug.exceptions import TooManyRequests

from scim_authz.api.errors import InvalidRequest, Unauthorized
from scim_authz.credentials import cache as auth_cache
from scim_authz.credentials.keys import Caller, InvalidCredential, TenantDisabled
from scim_authz.db.txn import transaction
from scim_authz.governance.actor import Actor, acting
from scim_authz.ops.logs import ENVIRON_KEY
from scim_authz.web import rate_limit, requests

# An app that decides without a database (a decision point: scim_authz/dataplane/server.py) sets
# AUTHENTICATOR, its own way to find the caller behind an API key, and NO_DATABASE: its views then
# run without a database transaction.
AUTHENTICATOR = "scim_authz.api_authenticator"
NO_DATABASE = "scim_authz.no_database"


def _authenticate() -> Caller:
    """The caller, within the rate limits (its address's and its key's, before the key is looked
    at); over one, werkzeug's 429, which scim_authz/http_errors.py renders as /v1's JSON error."""
    own = current_app.extensions.get(AUTHENTICATOR)
    if own is not None:
        return own()
    limits, address = rate_limit.limits(), rate_limit.client_address()
    authorization = request.headers.get("Authorization")
    limits.admit("api", address, authorization, TooManyRequests)
    try:
        return auth_cache.authenticate(authorization, "app")
    except TenantDisabled as e:  # the key is the tenant's own: not a guess, so not counted as one
        raise Unauthorized(e.detail) from e
    except InvalidCredential as e:
        limits.auth_failed("api", address)
        raise Unauthorized(e.detail if "Bearer" in e.detail else "The API key is not valid.") from e


def api_endpoint(write: bool = False):
    """Authenticate the API key; run the view in one transaction; JSON out."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            g.caller = _authenticate()
            actor = Actor("api_key", g.caller.label, "api", request.environ.get(ENVIRON_KEY))
            if NO_DATABASE in current_app.extensions:
                with acting(actor):
                    result = view(*args, **kwargs)
            else:
                with transaction(write), acting(actor):
                    result = view(*args, **kwargs)
            return result if isinstance(result, Response) else json_response(result)
        return wrapper
    return decorate


def json_response(body, status: int = 200) -> Response:
    if isinstance(body, tuple):
        body, status = body
    return Response(json.dumps(body, separators=(",", ":")), status=status, content_type="application/json")


def json_body() -> dict:
    """The request body as a JSON object, or 400."""
    return requests.json_body(InvalidRequest, want_object=True)
