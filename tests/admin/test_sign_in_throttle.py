"""The console's sign-in throttle (finding 11): one count for every worker, by email and by client
address, with a backoff per email that is bounded, so nobody can keep the real admin out."""
from __future__ import annotations

import pytest

from tests.admin.conftest import Console, text
from tests.conftest import close_app
from tests.web._limits import Clock, in_workers, limited_app

WRONG = "not the password at all"
CAP = 900


@pytest.fixture
def settings():
    return {}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(tmp_path, settings, clock):
    app = limited_app(tmp_path, settings, clock)
    yield app
    close_app(app)


def browser(app, address: str) -> Console:
    """A browser of its own (cookies, CSRF token) at a client address."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return Console(client)


def retry_after(r) -> int:
    value = r.headers.get("Retry-After")
    assert value is not None and value.isdigit() and int(value) >= 1, dict(r.headers)
    return int(value)


def refused(r) -> int:
    """Assert the 429 page of a throttled sign-in; its Retry-After."""
    assert r.status_code == 429, (r.status_code, text(r))
    assert "Too many failed sign-ins" in text(r)
    return retry_after(r)


def test_finding_11_workers_count_the_failures_of_one_email_once(app, acme_admin):
    def work():
        c = browser(app, "203.0.113.10")
        return [c.login(acme_admin, WRONG).status_code for _ in range(5)]

    statuses = [s for worker in in_workers(app, 2, work) for s in worker]
    # Five failures are free, for all workers together; the rest are refused unheard.
    assert statuses.count(401) == 5 and statuses.count(429) == 5, statuses


def test_finding_11_one_email_tried_from_many_addresses_is_held_back(app, acme_admin, clock):
    for n in range(5):
        assert browser(app, f"198.51.100.{n}").login(acme_admin, WRONG).status_code == 401
    admin = browser(app, "192.0.2.50")
    wait = refused(admin.login(acme_admin))  # even the right password waits: the email is backed off
    assert wait <= CAP
    clock.advance(wait)
    assert admin.login(acme_admin).status_code == 302


@pytest.mark.parametrize("settings", [{"RATE_LIMIT_CONSOLE_SIGN_IN_FAILURES": (1 / 60, 6)}])
def test_finding_11_one_password_sprayed_over_many_emails_is_stopped_by_address(app, acme_admin, clock):
    sprayer = browser(app, "203.0.113.11")
    for n in range(6):
        assert sprayer.login(f"user{n}@acme.test", WRONG).status_code == 401
    assert refused(sprayer.login("user6@acme.test", WRONG)) == 60
    assert refused(sprayer.login(acme_admin)) == 60  # nothing from this address is heard now
    assert browser(app, "192.0.2.51").login(acme_admin).status_code == 302
    clock.advance(60)
    assert sprayer.login("user7@acme.test", WRONG).status_code == 401


def test_finding_11_an_attacker_cannot_keep_the_real_admin_out(app, acme_admin, clock):
    attacker = browser(app, "203.0.113.12")
    waits, failures = [], 0
    while failures < 20:  # always try again the moment the server allows it
        r = attacker.login(acme_admin, WRONG)
        if r.status_code == 429:
            waits.append(retry_after(r))
            clock.advance(waits[-1])
        else:
            assert r.status_code == 401
            failures += 1
    assert CAP <= max(waits) <= 2 * CAP, waits  # the backoff grew, and stopped growing at its cap
    admin = browser(app, "192.0.2.52")  # arrives just after the attacker's latest failure
    wait = refused(admin.login(acme_admin))
    assert wait <= CAP
    clock.advance(wait)
    # The attacker, ready at the same moment, does not get the turn the backoff opens...
    assert attacker.login(acme_admin, WRONG).status_code == 429
    # ...and the admin signs in.
    assert admin.login(acme_admin).status_code == 302


def test_finding_11_the_backoff_decays_once_the_failures_stop(app, acme_admin, clock):
    somebody = browser(app, "198.51.100.20")
    for _ in range(5):
        assert somebody.login(acme_admin, WRONG).status_code == 401
    refused(somebody.login(acme_admin, WRONG))
    clock.advance(24 * 3600)
    for _ in range(5):  # a day later the email has its free failures back
        assert somebody.login(acme_admin, WRONG).status_code == 401
    clock.advance(CAP)
    assert somebody.login(acme_admin).status_code == 302


def test_a_sign_in_clears_the_email_s_failures(app, acme_admin):
    admin = browser(app, "192.0.2.53")
    for _ in range(4):
        assert admin.login(acme_admin, WRONG).status_code == 401
    assert admin.login(acme_admin).status_code == 302
    other = browser(app, "192.0.2.54")
    for _ in range(5):
        assert other.login(acme_admin, WRONG).status_code == 401
