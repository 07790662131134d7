"""A request's JSON body and the origin it was addressed to, read the same way by every edge."""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable

from flask import current_app, has_request_context, request

from scim_authz.web.guard import INT64, refuse_what_is_past_the_cap, unstorable

SCIM_PATH = "/scim/v2"
# Only a body with a \\u escape can hold NUL or a lone surrogate once parsed (strict UTF-8 and
# strict JSON refuse them raw): the rest, nearly every body, is not walked for them.
_ESCAPE = b"\\u"
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


def json_body(invalid: Callable[[str], Exception], *, limit: int | None = None,
              too_large: Callable[[str], Exception] | None = None, want_object: bool = False):
    """The request body as JSON, whatever the Content-Type says (IdPs vary).

    `invalid(message)` is raised for an empty body, text that is not JSON, or (with `want_object`)
    JSON that is not an object; `too_large(message)` for a declared length over `limit` bytes."""
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise (too_large or invalid)(f"the request body is larger than {limit} bytes")
    raw = request.get_data(cache=True)
    refuse_what_is_past_the_cap()
    if not raw.strip():
        raise invalid("the request needs a JSON body")
    try:
        # Strict UTF-8 (RFC 8259 §8.1): json.loads(bytes) would let the bytes of a lone surrogate
        # (ED A0 80) through as text that no database stores.
        data = json.loads(raw.decode("utf-8-sig"), parse_constant=no_constant, parse_int=bounded_int)
    except RecursionError as e:
        raise invalid("the body nests too deep") from e
    except (ValueError, UnicodeDecodeError) as e:
        raise invalid(f"the body is not valid JSON: {e}") from e
    max_depth = current_app.config["MAX_JSON_DEPTH"]
    if raw.count(b"[") + raw.count(b"{") > max_depth and nesting(raw, max_depth) > max_depth:
        raise invalid(f"the body nests deeper than {max_depth} levels")
    if _ESCAPE in raw:
        problem = json_problem(data, max_depth)
        if problem:
            raise invalid(problem)
    if want_object and not isinstance(data, dict):
        raise invalid("the body must be a JSON object")
    return data


def nesting(raw: bytes, limit: int) -> int:
    """How deep valid JSON text nests (exactly, when over `limit`). Its brackets alone give a bound
    (tens of microseconds for a bulk body of a thousand checks); only when that bound is over the
    limit are the strings, whose brackets do not count, taken out first (a slower regular expression)."""
    deepest = _bracket_depth(raw.translate(None, _NOT_BRACKETS))
    return deepest if deepest <= limit else _bracket_depth(_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS))


def _bracket_depth(brackets: bytes) -> int:
    depth = deepest = 0
    for b in brackets:
        if b == 91 or b == 123:  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


def bounded_int(text: str) -> int:
    """json.loads's parse_int: an integer that fits 64 bits (no column holds more), else ValueError."""
    if len(text.lstrip("-")) > 19 or not -INT64 - 1 <= (n := int(text)) <= INT64:
        raise ValueError(f"a number is out of range (integers are at most {INT64})")
    return n


def no_constant(name: str):
    """json.loads's parse_constant: NaN and Infinity are not JSON numbers (RFC 8259 §6)."""
    raise ValueError(f"{name} is not a JSON number")


def json_problem(data, max_depth: int) -> str | None:
    """Why parsed JSON cannot be taken in, or None: nesting deeper than `max_depth`, text with NUL
    or a lone surrogate (no database stores them), an integer past 64 bits (no column holds it)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        kind = type(value)
        if kind is dict or kind is list:
            if depth > max_depth:
                return f"the body nests deeper than {max_depth} levels"
            if kind is dict:
                for key in value:
                    if unstorable(key):
                        return "a key holds a NUL or an unpaired surrogate, which nothing can store"
                items = value.values()
            else:
                items = value
            stack.extend((v, depth + 1) for v in items if type(v) in (dict, list, str, int))
        elif kind is str:
            if unstorable(value):
                return "a string holds a NUL or an unpaired surrogate, which nothing can store"
        elif kind is int and not -INT64 - 1 <= value <= INT64:
            return f"a number is out of range (integers are at most {INT64})"
    return None


def public_origin() -> str:
    """The origin clients reach this server at: PUBLIC_BASE_URL when set; else, in a request, the
    origin it was addressed to; else (the CLI) where gunicorn listens, as config/gunicorn.conf.py
    reads BIND, with every interface shown as loopback."""
    configured = current_app.config.get("PUBLIC_BASE_URL")
    if configured:
        return configured
    if has_request_context():
        return _request_origin()
    host, _, port = os.environ.get("BIND", "127.0.0.1:8000").rpartition(":")
    if host in ("", "0.0.0.0", "[::]"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


_ORIGINS_KEY = "scim_authz.origins"
_ORIGINS_KEPT = 64


def _request_origin() -> str:
    """request.host_url without its slash, worked out once per scheme, Host and mount point (it is
    on every SCIM answer, and werkzeug builds it anew each time); an app keeps a few of them."""
    environ = request.environ
    key = (environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"), environ.get("SERVER_NAME"),
           environ.get("SERVER_PORT"), environ.get("SCRIPT_NAME"))
    known = current_app.extensions.setdefault(_ORIGINS_KEY, {})
    origin = known.get(key)
    if origin is None:
        origin = request.host_url.rstrip("/")  # (a Host the app does not trust raises here, every time)
        if len(known) < _ORIGINS_KEPT:
            known[key] = origin
    return origin


def scim_base_url() -> str:
    """The SCIM base URL to give an IdP (the token decides the tenant, so it is the same for all)."""
    return public_origin() + SCIM_PATH
