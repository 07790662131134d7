"""`policy promote --from acme-staging --to acme`: tenants linked as environments of one
organisation (`tenants link`), the staging policy shown as a diff and applied to production with
mappings found by group name; refused across organisations unless forced; a group production lacks
stops it before anything is written; logged as policy.promote."""
from __future__ import annotations

import pytest

from tests.api._api_helpers import scim_group
from tests.conftest import SCIMClient, make_tenant
from tests.governance._policy import SMALL, admin_changes, holdings, policy, write


@pytest.fixture
def environments(app, runner, client, tenant, tmp_path):
    """acme-staging (with SMALL applied) and acme, both with a group Engineering of their own."""
    staging_id, staging_token = make_tenant(app, "acme-staging")
    for token in (staging_token, tenant[1]):
        scim_group(SCIMClient(client, token), "Engineering")
    for key, env in (("acme-staging", "staging"), ("acme", "production")):
        r = runner.invoke(args=["tenants", "link", key, "--organization", "acme", "--environment", env])
        assert r.exit_code == 0, r.output
    assert policy(runner, "apply", write(tmp_path, SMALL), "--tenant", "acme-staging").exit_code == 0
    return staging_id, tenant[0]


def promote(runner, *args, **kwargs):
    return policy(runner, "promote", "--from", "acme-staging", "--to", "acme", *args, **kwargs)


def test_promote_shows_the_diff_and_applies_it(app, runner, environments):
    staging, production = environments
    before = holdings(app, production)
    r = promote(runner, "--yes")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("promote acme-staging -> acme\n")
    for line in ("~ setting default_role: none -> viewer", "+ role editor", "+ mapping Engineering -> editor",
                 "+ schema (4 lines)", f"promoted acme-staging to acme at revision {before['revision'] + 1}"):
        assert line in r.output, (line, r.output)
    after = holdings(app, production)
    assert after["roles"] == holdings(app, staging)["roles"]
    assert after["group_role_mappings"] == 1 and after["authz_schemas"] == 1
    assert after["relationships"] == 0  # data stays in its environment unless asked for
    assert after["revision"] == before["revision"] + 1
    (entry,) = admin_changes(app, production, "policy.promote")
    assert entry.target == "from acme-staging" and entry.actor_kind == "cli"
    again = promote(runner, "--yes")
    assert again.exit_code == 0 and "acme already holds the policy of acme-staging: no changes" in again.output
    assert holdings(app, production) == after


def test_the_prompt_and_a_dry_run_write_nothing(app, runner, environments):
    production = environments[1]
    before = holdings(app, production)
    r = promote(runner, input="n\n")
    assert r.exit_code == 1 and "Apply these 5 change(s) to acme? [y/N]: n\nError: nothing was written" in r.output
    r = promote(runner, "--dry-run")
    assert r.exit_code == 0 and "+ role viewer" in r.output and "dry run: nothing was written" in r.output
    assert holdings(app, production) == before
    r = promote(runner, input="y\n")
    assert r.exit_code == 0 and "promoted acme-staging to acme" in r.output
    assert holdings(app, production)["group_role_mappings"] == 1


def test_sections_asked_for_travel_too(app, runner, environments):
    r = promote(runner, "--yes", "--sections", "roles,group_mappings,schema,relationships")
    assert r.exit_code == 0, r.output
    assert "+ relationship document:1#owner@user:someone" in r.output and "setting" not in r.output
    assert holdings(app, environments[1])["relationships"] == 1
    assert promote(runner, "--sections", "roles,secrets").exit_code == 2


def test_tenants_of_different_organisations_need_force(app, runner, environments):
    production = environments[1]
    assert runner.invoke(args=["tenants", "link", "acme", "--organization", "globex", "--environment",
                               "production"]).exit_code == 0
    before = holdings(app, production)
    r = promote(runner, "--yes")
    assert r.exit_code == 1
    assert "acme-staging (staging of acme) and acme (production of globex) are not environments of one " \
           "organisation" in r.output
    assert holdings(app, production) == before
    r = promote(runner, "--yes", "--force")
    assert r.exit_code == 0 and "promoted acme-staging to acme" in r.output
    r = policy(runner, "promote", "--from", "acme", "--to", "acme", "--yes", "--force")
    assert r.exit_code == 1 and "cannot be promoted to itself" in r.output


def test_a_group_production_lacks_stops_the_promotion(app, runner, client, environments, tmp_path):
    staging, production = environments
    scim_group(SCIMClient(client, scim_token(app, staging)), "Sales")
    more = ("version: 1\nroles:\n  - {key: viewer, permissions: [document:view]}\n"
            "  - {key: editor, name: Editor, permissions: [document:edit], extends: [viewer]}\n"
            "group_mappings:\n  - {group: Engineering, role: editor}\n  - {group: Sales, role: viewer}\n")
    assert policy(runner, "apply", write(tmp_path, more, "more.yaml"), "--tenant", "acme-staging").exit_code == 0
    before = holdings(app, production)
    r = promote(runner, "--yes")
    assert r.exit_code == 1
    assert "no group with displayName 'Sales' in tenant acme" in r.output
    assert "tenant acme does not have (exactly one of) group 'Sales'; nothing was applied" in r.output
    assert holdings(app, production) == before


def scim_token(app, tenant_id: int) -> str:
    """Another SCIM token of a tenant (make_tenant's is not kept by the fixture)."""
    from scim_authz.credentials.keys import issue_credential
    from scim_authz.db.extensions import db
    from scim_authz.db.models import Tenant
    from scim_authz.db.txn import intent

    with app.app_context(), intent(True):
        secret = issue_credential(db.session.get(Tenant, tenant_id), "scim", "tests").secret
        db.session.commit()
        return secret


def test_a_source_whose_policy_does_not_validate_is_not_promoted(app, runner, environments):
    """A permission saved before permissions were held to the check's vocabulary (`roles check`)."""
    from scim_authz.db.extensions import db
    from scim_authz.db.models import Role
    from scim_authz.db.txn import intent

    staging, production = environments
    with app.app_context(), intent(True):
        db.session.add(Role(tenant_id=staging, key="signer", name="signer", description="",
                            permissions=["document:sign-off"], extends=[]))
        db.session.commit()
    before = holdings(app, production)
    r = promote(runner, "--yes")
    assert r.exit_code == 1
    assert "the policy of acme-staging does not validate as a file; fix it there first" in r.output
    assert "roles[1].permissions[0]: the action 'sign-off' can never be checked" in r.output
    assert holdings(app, production) == before
