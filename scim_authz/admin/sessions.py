"""Signed-cookie sessions, never for the machine APIs: a SCIM or /v1 request neither reads, signs
nor sets a cookie (a check pays nothing for the console's sign-in, and an API answer sets no cookie)."""
from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface

STATELESS = ("/v1/", "/scim/")


class ConsoleSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, and its null session under the stateless API prefixes."""

    def open_session(self, app, request):
        if request.path.startswith(STATELESS):
            return None  # Flask then uses make_null_session()
        return super().open_session(app, request)
