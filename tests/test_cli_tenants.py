"""The command line's tenant lifecycle (`tenants rename|link|disable|enable`) and the admin API's
operator keys (`admin-keys generate`), as an operator uses them."""
from __future__ import annotations

from tests.admin._tenants import OperatorClient, tenant_changes
from tests.conftest import SCIMClient


def test_rename_link_disable_and_enable(app, runner, client, tenant):
    scim = SCIMClient(client, tenant[1])
    r = runner.invoke(args=["tenants", "rename", "acme", "Acme Corp"])
    assert r.exit_code == 0 and "now named 'Acme Corp'" in r.output, r.output
    r = runner.invoke(args=["tenants", "link", "acme", "--organization", "acme", "--environment", "production"])
    assert r.exit_code == 0 and "acme/production" in r.output, r.output
    r = runner.invoke(args=["tenants", "disable", "acme"])
    assert r.exit_code == 0 and "disabled tenant acme" in r.output
    assert scim.get("/Users").status_code == 401
    assert "disabled 20" in runner.invoke(args=["tenants", "list"]).output
    assert "already disabled" in runner.invoke(args=["tenants", "disable", "acme"]).output
    assert runner.invoke(args=["tenants", "enable", "acme"]).exit_code == 0
    assert scim.get("/Users").status_code == 200
    assert [c["action"] for c in tenant_changes(app)] == ["tenant.rename", "tenant.link", "tenant.disable",
                                                         "tenant.enable"]
    assert {(c["actor_kind"], c["surface"]) for c in tenant_changes(app)} == {("cli", "cli")}


def test_refusals_are_messages(runner, tenant):
    r = runner.invoke(args=["tenants", "disable", "nobody"])
    assert r.exit_code != 0 and "there is no tenant 'nobody'" in r.output
    r = runner.invoke(args=["tenants", "link", "acme", "--environment", "dev"])
    assert r.exit_code != 0 and "an environment belongs to an organization" in r.output


def test_a_generated_operator_key_opens_the_admin_api_once_listed(app, runner, client, tenant):
    r = runner.invoke(args=["admin-keys", "generate", "ci"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    secret, entry = lines[1], lines[3]
    assert secret.startswith("adm_") and entry.startswith("ci:") and secret not in entry
    ops = OperatorClient(client, secret)
    assert ops.get("/tenants").status_code == 401  # not listed yet
    app.config["ADMIN_API_KEYS"] = entry
    assert [t["key"] for t in ops.get("/tenants").get_json()["tenants"]] == ["acme"]
    assert runner.invoke(args=["admin-keys", "generate", "no spaces"]).exit_code != 0
