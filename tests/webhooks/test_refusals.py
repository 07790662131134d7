"""What the webhook receivers refuse: a missing or wrong Logto signature or Okta secret, another
tenant's secret, a tenant key that names no tenant (or one disabled, or without a secret) all get
one 401 that does not say which, change nothing, and are logged with the reason and never the
secret; bodies past the cap get 413, and an address that keeps failing gets 429."""
from __future__ import annotations

import logging

import pytest

from scim_authz.db.extensions import db
from scim_authz.db.models import Tenant, utcnow
from scim_authz.db.txn import intent
from tests.api._api_helpers import allowed
from tests.conftest import close_app, make_tenant
from tests.fuzz._world import changed_tables, snapshot
from tests.web._limits import Clock, limited_app
from tests.webhooks.conftest import (
    LOGTO_KEY,
    OKTA_SECRET,
    Logto,
    Okta,
    okta_event,
    post_register,
    set_secrets,
    sign,
)

OTHER_KEY = "globex-logto-key-0123456789abcdef"
OTHER_SECRET = "globex-okta-secret-0123456789abcd"


def refused(r, header: str) -> dict:
    """A 401 in /v1's error shape with a challenge naming the header to send; its error object."""
    assert r.status_code == 401, (r.status_code, r.get_data(as_text=True))
    assert r.mimetype == "application/json"
    assert header in r.headers.get("WWW-Authenticate", "")
    body = r.get_json()
    assert set(body) == {"error"} and body["error"]["status"] == 401 and body["error"]["code"] == "unauthorized"
    return body["error"]


@pytest.fixture
def globex(app, hooks):
    """A second tenant, with secrets of its own."""
    tid, _ = make_tenant(app, "globex")
    set_secrets(app, tid, logto=OTHER_KEY, okta=OTHER_SECRET)
    return tid


LOGTO_CASES = {
    "no signature": dict(key=None),
    "a signature made with another key": dict(key="not-the-signing-key-0123456789"),
    "another tenant's signing key": dict(key=OTHER_KEY),
    "a signature of another body": dict(signature=sign(b"{}")),
    "garbage": dict(signature="garbage"),
    "an empty signature": dict(signature=""),
    "the signing key itself": dict(signature=LOGTO_KEY),
}


@pytest.mark.parametrize("case", list(LOGTO_CASES))
def test_a_bad_logto_signature_is_refused_and_changes_nothing(app, client, api, hooks, globex, member_role,
                                                              caplog, case):
    opts = dict(LOGTO_CASES[case])
    sender = Logto(client, key=opts.pop("key", LOGTO_KEY))
    before = snapshot(app)
    with caplog.at_level(logging.WARNING, "scim_authz.webhooks"):
        r = sender.post(post_register(), **opts)
    err = refused(r, "logto-signature-sha-256")
    assert changed_tables(before, snapshot(app)) == []
    assert not allowed(api, "ann@example.com", "view", "document:1")
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "scim_authz.webhooks"]
    assert len(lines) == 1 and "refused" in lines[0] and "'acme'" in lines[0]
    missing = case == "no signature"
    assert ("no logto-signature-sha-256" in lines[0]) == missing == err["message"].startswith("the request has no")
    for secret in (LOGTO_KEY, OTHER_KEY, OKTA_SECRET):
        assert secret not in caplog.text and secret not in r.get_data(as_text=True)


OKTA_CASES = {
    "no Authorization": None,
    "a wrong secret": "not-the-secret-0123456789abcdef",
    "another tenant's secret": OTHER_SECRET,
    "the secret as a bearer token": f"Bearer {OKTA_SECRET}",
    "the secret with a character more": OKTA_SECRET + "x",
    "the secret with a character less": OKTA_SECRET[:-1],
    "the Logto key": LOGTO_KEY,
}


@pytest.mark.parametrize("case", list(OKTA_CASES))
def test_a_wrong_or_missing_okta_secret_is_refused_and_changes_nothing(app, client, hooks, globex, caplog, case):
    sender = Okta(client, secret=OKTA_CASES[case])
    before = snapshot(app)
    with caplog.at_level(logging.WARNING, "scim_authz.webhooks"):
        refused(sender.verify(), "Authorization")
        refused(sender.deliver(okta_event("user.lifecycle.create")), "Authorization")
    assert changed_tables(before, snapshot(app)) == []
    assert all("refused" in rec.getMessage() for rec in caplog.records if rec.name == "scim_authz.webhooks")
    assert OKTA_SECRET not in caplog.text and OTHER_SECRET not in caplog.text


def test_an_unknown_tenant_is_refused_like_a_bad_signature(app, client, hooks, caplog):
    """The answer for a tenant key that names no tenant is the answer for a wrong signature."""
    before = snapshot(app)
    with caplog.at_level(logging.WARNING, "scim_authz.webhooks"):
        unknown = Logto(client, tenant_key="no-such-tenant").post(post_register())
        wrong = Logto(client, key="not-the-signing-key-0123456789").post(post_register())
        okta_unknown = Okta(client, tenant_key="no-such-tenant").deliver(okta_event("user.lifecycle.create"))
        okta_wrong = Okta(client, secret="not-the-secret-0123456789").deliver(okta_event("user.lifecycle.create"))
    assert refused(unknown, "logto") == refused(wrong, "logto")
    assert refused(okta_unknown, "Authorization") == refused(okta_wrong, "Authorization")
    assert unknown.headers["WWW-Authenticate"] == wrong.headers["WWW-Authenticate"]
    assert changed_tables(before, snapshot(app)) == []
    # the operator is told which it was
    assert "no tenant has this key" in caplog.text and "does not match" in caplog.text


def test_a_tenant_without_a_secret_or_disabled_is_refused(app, client, tenant):
    # no secret set yet: even a signature made with an empty key is refused
    r = Logto(client, key="").post(post_register())
    refused(r, "logto")
    refused(Okta(client, secret="").verify(), "Authorization")
    set_secrets(app, tenant[0], logto=LOGTO_KEY, okta=OKTA_SECRET)
    assert Logto(client).post(post_register()).status_code == 200
    assert Okta(client).verify().status_code == 200
    with app.app_context(), intent(True):
        db.session.get(Tenant, tenant[0]).disabled_at = utcnow()
        db.session.commit()
        db.session.remove()
    refused(Logto(client).post(post_register(created="2024-06-01T00:00:00.000Z")), "logto")
    refused(Okta(client).verify(), "Authorization")


def test_a_body_past_the_cap_is_a_413_before_anything_else(app, client, hooks):
    app.config["WEBHOOK_MAX_REQUEST_BYTES"] = 2048
    big = post_register()
    big["user"]["customData"] = {"pad": "x" * 4096}
    r = Logto(client).post(big)
    assert r.status_code == 413 and r.get_json()["error"]["status"] == 413
    r = Okta(client).deliver(*[okta_event("user.lifecycle.create") for _ in range(10)])
    assert r.status_code == 413


def test_an_address_that_keeps_failing_is_held_back(tmp_path):
    clock = Clock()
    app = limited_app(tmp_path, {"RATE_LIMIT_WEBHOOK_AUTH_FAILURES": (0.0001, 3)}, clock)
    try:
        tid, _ = make_tenant(app, "acme")
        set_secrets(app, tid, okta=OKTA_SECRET)
        client = app.test_client()
        here = {"environ_base": {"REMOTE_ADDR": "203.0.113.9"}}
        for _ in range(3):
            assert client.get("/webhooks/okta/acme", headers={"Authorization": "wrong-secret-0123456789"},
                              **here).status_code == 401
        r = client.get("/webhooks/okta/acme", headers={"Authorization": OKTA_SECRET,
                                                        "X-Okta-Verification-Challenge": "c"}, **here)
        assert r.status_code == 429 and r.headers.get("Retry-After")
        assert r.get_json()["error"]["code"] == "too_many_requests"
        other = {"environ_base": {"REMOTE_ADDR": "198.51.100.1"}}
        assert client.get("/webhooks/okta/acme", headers={"Authorization": OKTA_SECRET,
                                                          "X-Okta-Verification-Challenge": "c"},
                          **other).status_code == 200
    finally:
        close_app(app)
