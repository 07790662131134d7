"""Who is calling /v1 (an application API key -> its tenant), and the request's one transaction."""
from __future__ import annotations

import functools
import json

from flask import Response, g, request

from scim_authz.credentials import cache as auth_cache
from scim_authz.api.errors import InvalidRequest, Unauthorized
from scim_authz.credentials.keys import Caller, InvalidCredential
from scim_authz.db.extensions import db
from scim_authz.db.txn import WRITE_INTENT

def _authenticate() -> Caller:
    try:
        return auth_cache.authenticate(request.headers.get("Authorization"), "app")
    except InvalidCredential as e:
        raise Unauthorized(e.detail if "Bearer" in e.detail else "The API key is not valid.") from e


def api_endpoint(write: bool = False):
    """Authenticate the API key; run the view in one transaction; JSON out."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            g.caller = _authenticate()
            token = WRITE_INTENT.set(write)
            try:
                result = view(*args, **kwargs)
                if write:
                    db.session.commit()
                elif db.session.registry.has():  # a check that never touched the database
                    db.session.rollback()        # should not pay for making a session
            except Exception:
                if db.session.registry.has():
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
