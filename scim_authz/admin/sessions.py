"""Signed-cookie sessions, never for the machine APIs: a SCIM or /v1 request neither reads, signs
nor sets a cookie (a check pays nothing for the console's sign-in, and an API answer sets no cookie).

A console sign-in is a session holding the admin's id, the admin's session epoch at sign-in and the
time of sign-in, all under the cookie's signature. It stands while the epoch still equals the one
on the admin's row (sign-out, disabling and a new password bump that, ending every copy of every
cookie of that admin) and for the session lifetime from sign-in (PERMANENT_SESSION_LIFETIME). Both
are checked by the server on each request: a cookie kept past its expiry proves nothing."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from flask.sessions import SecureCookieSessionInterface, SessionMixin

from scim_authz.db.models import Admin

STATELESS = ("/v1/", "/scim/", "/access/", "/.well-known/")
SESSION_ADMIN, SESSION_TENANT = "admin_id", "tenant_id"
SESSION_EPOCH, SESSION_SIGNED_IN = "admin_epoch", "signed_in_at"
_IDENTITY = (SESSION_ADMIN, SESSION_EPOCH, SESSION_SIGNED_IN, SESSION_TENANT)


def begin(session: SessionMixin, admin: Admin) -> None:
    """Make `session` a fresh sign-in of `admin` (a new CSRF token too: nothing from before is kept)."""
    session.clear()
    session.permanent = True  # an expiring cookie, so the browser drops it when the server would refuse it
    session[SESSION_ADMIN] = admin.id
    session[SESSION_EPOCH] = admin.session_epoch
    session[SESSION_SIGNED_IN] = int(time.time())


def stands(session: SessionMixin, admin: Admin, lifetime: timedelta) -> bool:
    """Whether `session`, which names `admin`, still signs them in: they are enabled, nothing has
    ended their sessions since, and the sign-in is younger than `lifetime`."""
    epoch, signed_in = session.get(SESSION_EPOCH), session.get(SESSION_SIGNED_IN)
    if admin.disabled_at is not None or not isinstance(epoch, int) or epoch != admin.session_epoch:
        return False
    return isinstance(signed_in, int) and time.time() - signed_in < lifetime.total_seconds()


def forget(session: SessionMixin) -> None:
    """Drop the sign-in from `session` (its CSRF token stays, so the sign-in form still works)."""
    for key in _IDENTITY:
        session.pop(key, None)


class ConsoleSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, and its null session under the stateless API prefixes."""

    def open_session(self, app, request):
        if request.path.startswith(STATELESS):
            return None  # Flask then uses make_null_session()
        return super().open_session(app, request)

    def get_expiration_time(self, app, session):
        """A sign-in's cookie expires when the sign-in does, not a lifetime after each request."""
        signed_in = session.get(SESSION_SIGNED_IN)
        if session.permanent and isinstance(signed_in, int):
            return datetime.fromtimestamp(signed_in, UTC) + app.permanent_session_lifetime
        return super().get_expiration_time(app, session)
