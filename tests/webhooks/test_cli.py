"""`flask webhooks …`: an operator sets a tenant's Logto signing key (copied from Logto) or has an
Okta secret generated and printed once; the receivers take exactly those; nothing shows them again."""
from __future__ import annotations

from scim_authz.db.models import Tenant
from tests.api._api_helpers import rows
from tests.webhooks.conftest import Logto, Okta, changes, post_register

LOGTO_KEY = "copied-from-logto-console-0123456789"


def test_logto_key_is_taken_as_given_and_never_printed(app, runner, client, tenant):
    assert Logto(client, key=LOGTO_KEY).post(post_register()).status_code == 401
    r = runner.invoke(args=["webhooks", "set-secret", "acme", "logto", "--secret", LOGTO_KEY])
    assert r.exit_code == 0, r.output
    assert "/webhooks/logto/acme" in r.output and LOGTO_KEY not in r.output
    assert Logto(client, key=LOGTO_KEY).post(post_register()).status_code == 200
    # from standard input, replacing it
    r = runner.invoke(args=["webhooks", "set-secret", "acme", "logto", "--secret-stdin"],
                      input="another-key-from-logto-0123456789\n")
    assert r.exit_code == 0, r.output
    assert Logto(client, key=LOGTO_KEY).post(post_register(created="2024-06-01T00:00:00.000Z")).status_code == 401
    assert Logto(client, key="another-key-from-logto-0123456789").post(
        post_register(created="2024-06-01T00:00:00.000Z")).status_code == 200


def test_logto_needs_the_key_logto_generated(runner, tenant):
    r = runner.invoke(args=["webhooks", "set-secret", "acme", "logto"])
    assert r.exit_code != 0 and "Logto generates the signing key" in r.output
    r = runner.invoke(args=["webhooks", "set-secret", "acme", "logto", "--secret", "short"])
    assert r.exit_code != 0 and "at least 16 characters" in r.output


def test_okta_secret_is_generated_and_printed_once(app, runner, client, tenant):
    r = runner.invoke(args=["webhooks", "set-secret", "acme", "okta"])
    assert r.exit_code == 0, r.output
    secret = r.output.strip().splitlines()[-1]
    assert len(secret) >= 40 and " " not in secret
    assert Okta(client, secret=secret).verify("abc").get_json() == {"verification": "abc"}
    shown = runner.invoke(args=["webhooks", "show", "acme"])
    assert shown.exit_code == 0 and secret not in shown.output
    assert "okta\thttp" in shown.output and "secret set" in shown.output and "no secret" in shown.output
    # the settings the API returns do not carry it either
    stored = rows(app, Tenant, key="acme")[0].settings
    assert stored["webhooks"] == {"okta_secret": secret}
    # a second one replaces the first
    second = runner.invoke(args=["webhooks", "set-secret", "acme", "okta"]).output.strip().splitlines()[-1]
    assert second != secret
    assert Okta(client, secret=secret).verify().status_code == 401
    assert Okta(client, secret=second).verify().status_code == 200


def test_remove_and_the_change_log(app, runner, client, tenant):
    runner.invoke(args=["webhooks", "set-secret", "acme", "okta"])
    r = runner.invoke(args=["webhooks", "remove-secret", "acme", "okta"])
    assert r.exit_code == 0, r.output
    assert runner.invoke(args=["webhooks", "remove-secret", "acme", "okta"]).exit_code != 0
    assert "webhooks" not in rows(app, Tenant, key="acme")[0].settings
    log = changes(app, tenant[0], surface="cli")
    assert [(c.action, c.target, c.actor_kind) for c in log] == [("webhook.secret.set", "okta", "cli"),
                                                                ("webhook.secret.remove", "okta", "cli")]
    assert all("okta_secret" not in str(c.before) + str(c.after) for c in log)


def test_the_api_never_returns_a_webhook_secret(runner, api):
    runner.invoke(args=["webhooks", "set-secret", "acme", "logto", "--secret", LOGTO_KEY])
    body = api.get("/tenant").get_data(as_text=True)
    assert LOGTO_KEY not in body and "webhooks" not in body
    assert api.patch("/tenant", {"name": "Acme"}).status_code == 200  # other settings keep it
    assert runner.invoke(args=["webhooks", "show", "acme"]).output.count("secret set") == 1


def test_unknown_tenant_or_source(runner, tenant):
    r = runner.invoke(args=["webhooks", "set-secret", "nobody", "okta"])
    assert r.exit_code != 0 and "no tenant 'nobody'" in r.output
    assert runner.invoke(args=["webhooks", "set-secret", "acme", "auth0"]).exit_code != 0
