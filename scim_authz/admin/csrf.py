"""CSRF protection for the console's forms: one random token per session, sent back in a hidden
field with every POST and compared in constant time."""
from __future__ import annotations

import hmac
import secrets

from flask import request, session
from werkzeug.exceptions import BadRequest

SESSION_KEY = "csrf"
FIELD = "csrf_token"


class CSRFRefused(BadRequest):
    """A POST without this session's token: refused before anything runs."""

    description = ("This form could not be accepted: it has expired or did not come from this console. "
                   "Nothing was changed. Go back, reload the page and try again.")


def token() -> str:
    """This session's token (created on first use)."""
    if SESSION_KEY not in session:
        session[SESSION_KEY] = secrets.token_urlsafe(32)
    return session[SESSION_KEY]


def protect() -> None:
    """Refuse a state-changing request whose form lacks this session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = session.get(SESSION_KEY)
    sent = request.form.get(FIELD, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CSRFRefused()
