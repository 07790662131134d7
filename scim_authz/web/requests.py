"""A request's JSON body and the origin it was addressed to, read the same way by every edge."""
from __future__ import annotations

import json
import os
from collections.abc import Callable

from flask import current_app, has_request_context, request

SCIM_PATH = "/scim/v2"


def json_body(invalid: Callable[[str], Exception], *, limit: int | None = None,
              too_large: Callable[[str], Exception] | None = None, want_object: bool = False):
    """The request body as JSON, whatever the Content-Type says (IdPs vary).

    `invalid(message)` is raised for an empty body, text that is not JSON, or (with `want_object`)
    JSON that is not an object; `too_large(message)` for a declared length over `limit` bytes."""
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise (too_large or invalid)(f"the request body is larger than {limit} bytes")
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise invalid("the request needs a JSON body")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise invalid(f"the body is not valid JSON: {e}") from e
    if want_object and not isinstance(data, dict):
        raise invalid("the body must be a JSON object")
    return data


def public_origin() -> str:
    """The origin clients reach this server at: PUBLIC_BASE_URL when set; else, in a request, the
    origin it was addressed to; else (the CLI) where gunicorn listens, as config/gunicorn.conf.py
    reads BIND, with every interface shown as loopback."""
    configured = current_app.config.get("PUBLIC_BASE_URL")
    if configured:
        return configured
    if has_request_context():
        return request.host_url.rstrip("/")
    host, _, port = os.environ.get("BIND", "127.0.0.1:8000").rpartition(":")
    if host in ("", "0.0.0.0", "[::]"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def scim_base_url() -> str:
    """The SCIM base URL to give an IdP (the token decides the tenant, so it is the same for all)."""
    return public_origin() + SCIM_PATH
