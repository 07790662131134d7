"""The admin API (/admin/api/tenants): only an operator key of ADMIN_API_KEYS opens it; it creates a
tenant with working first credentials, renames and links it, disables and enables it, and every
change is one entry of the administrative change log, as the operator key's."""
from __future__ import annotations

import pytest

from scim_authz import create_app
from scim_authz.config.settings import ConfigurationError
from scim_authz.credentials.keys import issue_credential
from scim_authz.db.extensions import db
from scim_authz.db.models import Credential, Tenant
from scim_authz.db.txn import intent
from tests.admin._tenants import OperatorClient, operator_key, super_console, tenant_changes
from tests.api._api_helpers import error, rows
from tests.conftest import APIClient, SCIMClient, app_config


@pytest.fixture
def ops(app, client):
    return OperatorClient(client, operator_key(app))


def test_create_issues_working_credentials_and_is_logged(app, client, ops):
    r = ops.post("/tenants", {"key": "globex", "name": "Globex Corp", "role_mode": "app",
                              "organization": "globex", "environment": "production"})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.headers["Location"].endswith("/admin/api/tenants/globex")
    assert r.headers["Cache-Control"] == "no-store"  # the secrets are in this response only
    body = r.get_json()
    assert body["tenant"] == {"key": "globex", "name": "Globex Corp", "role_mode": "app", "organization": "globex",
                              "environment": "production", "disabled": False, "disabled_at": None,
                              "created": body["tenant"]["created"]}
    secrets = {c["kind"]: c["secret"] for c in body["credentials"]}
    assert secrets["scim"].startswith("scim_") and secrets["app"].startswith("sk_")
    assert SCIMClient(client, secrets["scim"]).get("/Users").status_code == 200
    assert APIClient(client, secrets["app"]).get("/roles").status_code == 200
    [t] = rows(app, Tenant, key="globex")
    assert (t.name, t.role_mode, t.organization, t.environment, t.disabled_at) == \
        ("Globex Corp", "app", "globex", "production", None)
    [entry] = tenant_changes(app)
    assert entry["action"] == "tenant.create" and entry["target"] == "globex" and entry["tenant_id"] == t.id
    assert (entry["actor_kind"], entry["actor"], entry["surface"]) == ("admin", "operator key ci", "api")
    assert entry["request_id"] == r.headers["X-Request-ID"]
    assert entry["before"] is None and entry["after"]["name"] == "Globex Corp"
    assert sorted(c["kind"] for c in entry["after"]["credentials"]) == ["app", "scim"]
    assert not any(s in str(entry) for s in secrets.values())  # prefixes only, never a secret


def test_create_without_credentials_and_with_defaults(app, ops):
    body = ops.post("/tenants", {"key": "bare", "credentials": []}).get_json()
    assert body["credentials"] == [] and body["tenant"]["name"] == "bare" and body["tenant"]["role_mode"] == "hybrid"
    assert rows(app, Credential, tenant_id=rows(app, Tenant, key="bare")[0].id) == []


@pytest.mark.parametrize("body, field", [
    ({"key": "Not A Key"}, "key"),
    ({"key": "x" * 64}, "key"),
    ({}, "key"),
    ({"key": "ok", "role_mode": "both"}, "role_mode"),
    ({"key": "ok", "credentials": ["admin"]}, "credentials"),
    ({"key": "ok", "environment": "production"}, "environment"),
    ({"key": "ok", "organization": "Acme Inc"}, "organization"),
    ({"key": "ok", "name": "  "}, "name"),
    ({"key": "ok", "tenant_id": 1}, "tenant_id"),
])
def test_create_refuses_what_is_not_valid(app, ops, body, field):
    err = error(ops.post("/tenants", body), 400)
    assert field in err["details"], err
    assert rows(app, Tenant, key="ok") == [] and tenant_changes(app) == []


def test_create_refuses_a_taken_key_and_a_taken_environment(app, ops, tenant):
    error(ops.post("/tenants", {"key": "acme"}), 409, "conflict")
    assert ops.post("/tenants", {"key": "a-prod", "organization": "a", "environment": "prod"}).status_code == 201
    err = error(ops.post("/tenants", {"key": "a-prod2", "organization": "a", "environment": "prod"}), 409)
    assert "a-prod" in err["message"]
    assert [c["target"] for c in tenant_changes(app)] == ["a-prod"]


def test_list_get_and_filter(ops, tenant):
    ops.post("/tenants", {"key": "b-dev", "organization": "b", "environment": "dev", "credentials": []})
    assert [t["key"] for t in ops.get("/tenants").get_json()["tenants"]] == ["acme", "b-dev"]
    assert [t["key"] for t in ops.get("/tenants?organization=b").get_json()["tenants"]] == ["b-dev"]
    assert ops.get("/tenants/acme").get_json()["tenant"]["key"] == "acme"
    error(ops.get("/tenants/nope"), 404, "not_found")
    error(ops.get("/nothing-here"), 404)  # JSON under /admin/api, not the console's page


def test_rename_and_link_change_the_name_never_the_key(app, ops, tenant):
    r = ops.patch("/tenants/acme", {"name": "Acme Corporation"})
    assert r.status_code == 200 and r.get_json()["tenant"]["name"] == "Acme Corporation"
    ops.patch("/tenants/acme", {"organization": "acme", "environment": "production"})
    ops.patch("/tenants/acme", {"name": "Acme Corporation"})  # no change: no entry
    error(ops.patch("/tenants/acme", {"key": "other"}), 400)
    error(ops.patch("/tenants/acme", {"environment": "dev", "organization": None}), 400)
    error(ops.patch("/tenants/nope", {"name": "x"}), 404)
    [t] = rows(app, Tenant, id=tenant[0])
    assert (t.key, t.name, t.organization, t.environment) == ("acme", "Acme Corporation", "acme", "production")
    rename, link = tenant_changes(app)
    assert rename["action"] == "tenant.rename" and rename["before"] == {"name": "acme"} \
        and rename["after"] == {"name": "Acme Corporation"}
    assert link["action"] == "tenant.link" and link["after"] == {"organization": "acme", "environment": "production"}
    r = ops.patch("/tenants/acme", {"organization": None, "environment": None})
    assert r.get_json()["tenant"]["organization"] is None


def test_disable_and_enable_are_idempotent_and_logged_once_each(app, ops, tenant):
    r = ops.post("/tenants/acme/disable")
    assert r.status_code == 200 and r.get_json()["changed"] is True and r.get_json()["tenant"]["disabled"] is True
    assert ops.post("/tenants/acme/disable").get_json()["changed"] is False
    assert rows(app, Tenant, id=tenant[0])[0].disabled_at is not None
    r = ops.post("/tenants/acme/enable")
    assert r.get_json()["changed"] is True and r.get_json()["tenant"]["disabled_at"] is None
    assert ops.post("/tenants/acme/enable").get_json()["changed"] is False
    assert [c["action"] for c in tenant_changes(app)] == ["tenant.disable", "tenant.enable"]
    disable = tenant_changes(app)[0]
    assert disable["before"]["disabled"] is False and disable["after"]["disabled"] is True
    error(ops.post("/tenants/nope/disable"), 404)


def _tenant_credential(app, tenant_id: int, kind: str) -> str:
    with app.app_context(), intent(True):
        issued = issue_credential(db.session.get(Tenant, tenant_id), kind, "probe")
        db.session.commit()
        db.session.remove()
    return issued.secret


def test_only_an_operator_key_opens_it(app, client, tenant):
    operator_key(app)  # one exists: none of the below is it
    console = super_console(app)
    refused = {
        "no Authorization": OperatorClient(client, None),
        "a made-up operator key": OperatorClient(client, "adm_" + "A" * 43),
        "a SCIM token": OperatorClient(client, tenant[1]),
        "an API key": OperatorClient(client, _tenant_credential(app, tenant[0], "app")),
        "a tenant's admin-kind credential": OperatorClient(client, _tenant_credential(app, tenant[0], "admin")),
        "a super-admin's console session": OperatorClient(console.client, None),
    }
    attempts = (("GET", "/tenants", None), ("POST", "/tenants", {"key": "evil"}),
                ("PATCH", "/tenants/acme", {"name": "evil"}), ("POST", "/tenants/acme/disable", None))
    for name, who in refused.items():
        for method, path, body in attempts:
            r = who.request(method, path, body)
            error(r, 401, "unauthorized")
            assert r.headers["WWW-Authenticate"].startswith("Bearer"), (name, method, path)
    assert rows(app, Tenant, key="evil") == [] and rows(app, Tenant, id=tenant[0])[0].name == "acme"
    assert rows(app, Tenant, id=tenant[0])[0].disabled_at is None and tenant_changes(app) == []


def test_a_key_not_listed_any_more_is_refused(app, client, tenant):
    secret = operator_key(app, "old")
    ops = OperatorClient(client, secret)
    assert ops.get("/tenants").status_code == 200
    app.config["ADMIN_API_KEYS"] = ""  # removed from the setting (a restart, in production)
    error(ops.get("/tenants"), 401)


def test_a_malformed_setting_stops_the_app_from_starting(app):
    with pytest.raises(ConfigurationError, match="ADMIN_API_KEYS"):
        create_app({**app_config(app.config["SQLALCHEMY_DATABASE_URI"]), "ADMIN_API_KEYS": "ci:not-a-digest"})
