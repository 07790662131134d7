"""The command line: tenants and tokens, as an operator uses them."""
from __future__ import annotations

from tests.conftest import SCIMClient


def test_create_tenant_issue_list_and_revoke_token(runner, client):
    r = runner.invoke(args=["tenants", "create", "acme", "--name", "Acme Corp", "--role-mode", "idp"])
    assert r.exit_code == 0, r.output
    assert "created tenant acme" in r.output
    assert runner.invoke(args=["tenants", "create", "acme"]).exit_code != 0
    assert runner.invoke(args=["tenants", "create", "Bad Key!"]).exit_code != 0

    r = runner.invoke(args=["tokens", "issue", "acme", "--name", "Okta"])
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    cred_id = r.output.split()[1]
    scim = SCIMClient(client, token)
    assert scim.get("/Users").status_code == 200

    listing = runner.invoke(args=["tokens", "list", "acme"]).output
    assert "Okta" in listing and token not in listing and token[:11] in listing and "active" in listing

    r = runner.invoke(args=["tokens", "revoke", "acme", cred_id])
    assert r.exit_code == 0, r.output
    assert scim.get("/Users").status_code == 401
    assert "revoked" in runner.invoke(args=["tokens", "list", "acme"]).output


def test_token_for_unknown_tenant_fails_clearly(runner):
    r = runner.invoke(args=["tokens", "issue", "nobody"])
    assert r.exit_code != 0 and "no tenant 'nobody'" in r.output


def test_demo_prints_url_and_a_working_token(runner, client):
    r = runner.invoke(args=["demo"])
    assert r.exit_code == 0, r.output
    assert "/scim/v2" in r.output
    token = next(line.split()[-1] for line in r.output.splitlines() if "SCIM token:" in line)
    assert SCIMClient(client, token).get("/ServiceProviderConfig").status_code == 200
    # Run again: the same tenant, a second token.
    assert runner.invoke(args=["demo"]).exit_code == 0


def test_demo_url_follows_bind_and_public_base_url(runner, app, monkeypatch):
    def url():
        out = runner.invoke(args=["demo"]).output
        return next(line.split()[-1] for line in out.splitlines() if "SCIM base URL:" in line)

    monkeypatch.delenv("BIND", raising=False)
    assert url() == "http://127.0.0.1:8000/scim/v2"
    monkeypatch.setenv("BIND", "127.0.0.1:18123")
    assert url() == "http://127.0.0.1:18123/scim/v2"
    monkeypatch.setenv("BIND", "0.0.0.0:9000")
    assert url() == "http://127.0.0.1:9000/scim/v2"
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://authz.example.com")
    assert url() == "https://authz.example.com/scim/v2"


def test_roles_check_lists_permissions_no_check_can_ask_about(runner, app):
    from scim_authz.db.extensions import db
    from scim_authz.db.models import Role
    from scim_authz.policy.tenants import create_tenant

    assert runner.invoke(args=["roles", "check"]).exit_code == 0
    with app.app_context():
        t = create_tenant("acme")
        # Saved before permissions and actions shared one vocabulary: the API refuses it today.
        db.session.add(Role(tenant_id=t.id, key="signer", name="signer", description="",
                            permissions=["document:view", "document:sign-off"], extends=[]))
        db.session.commit()
    r = runner.invoke(args=["roles", "check"])
    assert r.exit_code == 1
    assert "acme\trole signer\tdocument:sign-off\tthe action 'sign-off' can never be checked" in r.output
    assert "document:view\t" not in r.output
    assert runner.invoke(args=["roles", "check", "--tenant", "acme"]).exit_code == 1
    assert runner.invoke(args=["roles", "check", "--tenant", "nobody"]).exit_code == 1
