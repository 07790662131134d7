"""Finding 3 of the security review: console sessions could not be revoked and lasted 31 days, and no
command disabled an admin or reset a password. Through the test client with real signed cookies: a
cookie is copied out of one client and replayed from another, as a thief would."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from scim_authz.db.models import Admin
from tests.admin.conftest import PASSWORD, Console, text
from tests.api._api_helpers import rows

GENERIC = "The email or password is not correct."
NEW_PASSWORD = "a different long passphrase"
HOUR = 3600.0


class Clock:
    """time.time moved forward on demand, for the server and itsdangerous's timestamps alike."""

    def __init__(self, monkeypatch):
        self.offset = 0.0
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + self.offset)

    def advance(self, hours: float) -> None:
        self.offset += hours * HOUR


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def cookie(console: Console) -> str:
    """The session cookie's value as the browser holds it."""
    return console.client.get_cookie("session").value


def replayed(app, value: str) -> Console:
    """Another browser that sends a copied session cookie (and no expiry: it is sent whatever it said)."""
    thief = app.test_client()
    thief.set_cookie("session", value)
    return Console(thief)


def signed_in(resp) -> bool:
    """The console answered with a page (not the sign-in redirect)."""
    return resp.status_code == 200


def sent_to_sign_in(resp) -> bool:
    return resp.status_code == 302 and "/admin/login" in resp.headers["Location"]


def cli(runner, *args, stdin: str | None = None):
    return runner.invoke(args=["admins", *args], input=stdin)


# ---- revocation on sign-out ------------------------------------------------------------------

def test_finding_3_cookie_copied_before_sign_out_is_refused(app, console):
    copied = cookie(console)
    assert signed_in(replayed(app, copied).get("/admin/"))  # the copy works while the admin is signed in
    assert console.post("/admin/logout").status_code == 302
    assert sent_to_sign_in(replayed(app, copied).get("/admin/"))
    assert sent_to_sign_in(replayed(app, copied).get("/admin/users"))


def test_finding_3_sign_out_signs_out_everywhere(app, console, acme_admin):
    laptop = Console(app.test_client())
    assert laptop.login(acme_admin).status_code == 302
    r = console.post("/admin/logout", follow_redirects=True)
    assert "signed out" in text(r) and "every browser" in text(r)
    assert sent_to_sign_in(laptop.get("/admin/"))
    assert laptop.login(acme_admin).status_code == 302  # signing in again starts a new session
    assert signed_in(laptop.get("/admin/"))


def test_finding_3_a_refused_session_sees_the_sign_in_form(app, console):
    """A stale cookie is not taken as signed in anywhere: the sign-in page shows its form."""
    copied = cookie(console)
    console.post("/admin/logout")
    thief = replayed(app, copied)
    r = thief.get("/admin/login")
    assert r.status_code == 200 and 'name="password"' in text(r)


# ---- lifetime --------------------------------------------------------------------------------

def test_finding_3_session_expires_after_lifetime(app, client, acme_admin, clock):
    c = Console(client)
    r = c.login(acme_admin)
    assert r.status_code == 302
    expires = parsedate_to_datetime(r.headers["Set-Cookie"].split("Expires=")[1].split(";")[0])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=8))) < timedelta(minutes=1)
    copied = cookie(c)

    clock.advance(4)
    assert signed_in(c.get("/admin/"))  # in use: the cookie is signed afresh, its issued-at is not
    clock.advance(3.9)
    assert signed_in(c.get("/admin/"))
    clock.advance(0.2)  # 8 hours and 6 minutes after signing in
    assert sent_to_sign_in(c.get("/admin/"))
    assert sent_to_sign_in(replayed(app, copied).get("/admin/"))


def test_finding_3_session_lifetime_is_configurable(app, client, acme_admin, clock, monkeypatch):
    from scim_authz.config.settings import console_session_lifetime

    monkeypatch.setenv("CONSOLE_SESSION_HOURS", "1.5")
    assert console_session_lifetime() == timedelta(hours=1.5)
    for wrong in ("0", "-1", "eight", "nan"):
        monkeypatch.setenv("CONSOLE_SESSION_HOURS", wrong)
        with pytest.raises(ValueError, match="CONSOLE_SESSION_HOURS must be a positive number of hours"):
            console_session_lifetime()
    monkeypatch.delenv("CONSOLE_SESSION_HOURS")
    assert console_session_lifetime() == timedelta(hours=8)

    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=1)
    c = Console(client)
    c.login(acme_admin)
    clock.advance(0.9)
    assert signed_in(c.get("/admin/"))
    clock.advance(0.2)
    assert sent_to_sign_in(c.get("/admin/"))


# ---- disabling and password resets -----------------------------------------------------------

def test_finding_3_disabled_admin_sessions_end(app, runner, console, acme_admin):
    copied = cookie(console)
    r = cli(runner, "disable", acme_admin)
    assert r.exit_code == 0, r.output
    assert sent_to_sign_in(console.get("/admin/"))
    assert sent_to_sign_in(replayed(app, copied).get("/admin/"))
    r = console.login(acme_admin)  # the right password: refused like a wrong one
    assert r.status_code == 401 and GENERIC in text(r)

    assert cli(runner, "enable", acme_admin).exit_code == 0
    assert sent_to_sign_in(replayed(app, copied).get("/admin/"))  # enabling revives no old session
    assert console.login(acme_admin).status_code == 302
    assert signed_in(console.get("/admin/"))


def test_finding_3_password_reset_ends_sessions(app, runner, console, acme_admin):
    copied = cookie(console)
    r = cli(runner, "reset-password", acme_admin, "--password-stdin", stdin=NEW_PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    assert sent_to_sign_in(console.get("/admin/"))
    assert sent_to_sign_in(replayed(app, copied).get("/admin/"))
    r = console.login(acme_admin, PASSWORD)
    assert r.status_code == 401 and GENERIC in text(r)
    assert console.login(acme_admin, NEW_PASSWORD).status_code == 302
    assert signed_in(console.get("/admin/"))


def test_finding_3_cli_disable_and_reset_password(app, runner, tenant, acme_admin):
    r = cli(runner, "disable", "ADA@acme.test")
    assert r.exit_code == 0 and "disabled admin ada@acme.test" in r.output, r.output
    assert rows(app, Admin, email=acme_admin)[0].disabled_at is not None
    listing = cli(runner, "list").output
    assert "ada@acme.test\tacme" in listing and "\tdisabled " in listing

    r = cli(runner, "reset-password", acme_admin, stdin=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert r.exit_code == 0 and f"new password for {acme_admin}" in r.output, r.output
    assert rows(app, Admin, email=acme_admin)[0].disabled_at is not None  # a reset does not enable

    r = cli(runner, "enable", acme_admin)
    assert r.exit_code == 0 and "enabled admin ada@acme.test" in r.output, r.output
    assert "\tdisabled " not in cli(runner, "list").output and "\tactive" in cli(runner, "list").output
    assert Console(app.test_client()).login(acme_admin, NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("args, stdin, message", [
    (["disable", "nobody@acme.test"], None, "no admin nobody@acme.test"),
    (["enable", "nobody@acme.test"], None, "no admin nobody@acme.test"),
    (["reset-password", "nobody@acme.test", "--password-stdin"], NEW_PASSWORD + "\n", "no admin nobody@acme.test"),
    (["reset-password", "ada@acme.test", "--password-stdin"], "short\n", "at least 12 characters"),
    (["reset-password", "ada@acme.test"], f"{NEW_PASSWORD}\nnot the same one\n" * 3, "do not match"),
])
def test_finding_3_cli_refuses_clearly(app, runner, console, acme_admin, args, stdin, message):
    r = cli(runner, *args, stdin=stdin)
    assert r.exit_code != 0 and message in r.output, r.output
    assert signed_in(console.get("/admin/"))  # a refused command ends no session
    assert console.login(acme_admin, PASSWORD).status_code == 302
