"""What every request must satisfy before a view reads it, and what every response carries.

Limits are enforced where the input arrives, before anything is parsed or stored, so a value that
no database can hold, or a body or URL too large to be worth reading, is refused with the
protocol's 400/413/414 (rendered by scim_authz/http_errors.py by path) and never reaches a query:
- request bodies are capped per surface before they are read, chunked bodies included (Werkzeug
  enforces `request.max_content_length` on the stream, which gunicorn terminates);
- NUL and lone surrogates are refused in the path, the query string and form fields (SQLite's
  driver cannot encode a lone surrogate; PostgreSQL refuses NUL in text);
- integers in the path and the query string must fit 64 bits (no column or OFFSET takes more);
- the URL is capped, so an over-long SCIM filter in a GET gets a SCIM error, not the app server's page.
"""
from __future__ import annotations

import re

from flask import Flask, current_app, request
from werkzeug.exceptions import BadRequest, RequestURITooLarge

INT64 = 2**63 - 1
# Numbers in a URL (path variables, query parameters) name ids, versions, cursors, offsets: every one
# is kept in a 32-bit column, and PostgreSQL refuses a larger one with an error, not a row.
INT32 = 2**31 - 1
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_INTEGER = re.compile(r"[+-]?[0-9]+")
CONSOLE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
# Body caps per surface (settings), longest prefix first.
SURFACES = (("/scim/", "SCIM_MAX_REQUEST_BYTES"), ("/v1/", "API_MAX_REQUEST_BYTES"),
            ("/access/", "API_MAX_REQUEST_BYTES"), ("/admin", "CONSOLE_MAX_REQUEST_BYTES"),
            ("/webhooks/", "WEBHOOK_MAX_REQUEST_BYTES"))


class InputRefused(BadRequest):
    """A request whose path, query or form holds what no store can keep; a 400 in the protocol's shape."""

    scim_type = "invalidValue"


def unstorable(text: str) -> bool:
    """True for text with NUL or a lone surrogate."""
    return _UNSTORABLE.search(text) is not None


def check_request() -> None:
    """Cap the body, and refuse unstorable text and out-of-range integers, before any view runs."""
    # This runs before every check: it reads the WSGI environ's strings rather than request
    # properties that build URLs, and parses a query string only when there is one.
    req = request._get_current_object()  # once: each use of the proxy costs a look-up
    environ = req.environ
    path, query = environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
    cfg = current_app.config
    for prefix, setting in SURFACES:
        if path.startswith(prefix):
            req.max_content_length = cfg[setting]
            break
    if len(path) + len(query) > cfg["MAX_URL_BYTES"]:
        raise RequestURITooLarge(f"the URL is longer than {cfg['MAX_URL_BYTES']} bytes; send a long filter "
                                 "with POST /.search")
    if "\x00" in path or (not path.isascii() and unstorable(req.path)):
        raise InputRefused("the path holds a NUL or an unpaired surrogate, which nothing can store")
    if query:
        for name, value in req.args.items(multi=True):
            _check_value(name, value, "query parameter")
    for name, value in (req.view_args or {}).items():
        if type(value) is int and not 0 <= value <= INT32:
            raise InputRefused(f"{name} is out of range")
    if req.method == "POST" and req.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in req.form.items(multi=True):
            _check_value(name, value, "form field")
        refuse_what_is_past_the_cap()


def refuse_what_is_past_the_cap() -> None:
    """After a body was read: 413 if it went on past the cap. Werkzeug stops reading a body that
    declared no length (chunked) at `max_content_length` without saying so; one more byte read from
    its exhausted stream raises RequestEntityTooLarge when there was more, and reads nothing when not."""
    stream = request.stream
    if getattr(stream, "is_exhausted", False):
        stream.read(1)


def _check_value(name: str, value: str, where: str) -> None:
    if unstorable(name) or unstorable(value):
        raise InputRefused(f"the {where} {name!r} holds a NUL or an unpaired surrogate, which nothing can store")
    # (Length first: int() refuses more than 4,300 digits, and past 19 the answer is known anyway.)
    if _INTEGER.fullmatch(value) and (len(value.lstrip("+-")) > 19 or abs(int(value)) > INT32):
        raise InputRefused(f"the {where} {name!r} is out of range (at most {INT32})")


def secure_headers(resp):
    """nosniff on every response; the console's headers on every /admin response, its 404s included."""
    resp.headers["X-Content-Type-Options"] = "nosniff"
    path = request.environ.get("PATH_INFO", "")
    if path == "/admin" or path.startswith("/admin/"):
        resp.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "same-origin"
        if request.endpoint != "admin.static":
            resp.headers["Cache-Control"] = "no-store"  # pages may show a secret once; never keep them
    return resp


def register(app: Flask) -> None:
    """Run the checks before every request and add the headers to every response."""
    app.before_request(check_request)
    app.after_request(secure_headers)
