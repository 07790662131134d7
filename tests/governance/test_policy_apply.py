"""`policy export | diff | apply` through the CLI: what diff shows is what apply does; an apply is
all or nothing, makes one revision, is idempotent (a second writes nothing), is logged as
policy.apply; a dry run writes nothing; the engine decides by what was applied."""
from __future__ import annotations

from tests.api._api_helpers import allowed, scim_group, scim_user
from tests.conftest import SCIMClient
from tests.governance._policy import (
    EXAMPLE,
    SMALL,
    admin_changes,
    change_revisions,
    example_directory,
    holdings,
    policy,
    write,
)


def test_apply_the_example_then_again_changes_nothing(app, runner, client, tenant, api):
    tid, token = tenant
    example_directory(SCIMClient(client, token))
    assert not allowed(api, "root@acme.example", "delete", "anything:1")  # the engine holds the tenant before
    before = holdings(app, tid)
    r = policy(runner, "diff", str(EXAMPLE), "--tenant", "acme")
    assert r.exit_code == 0, r.output
    assert "+ role editor\n    name: \"Editor\"\n    permissions: document:comment, document:edit\n" \
           "    extends: viewer" in r.output
    assert "+ mapping externalId 00g-platform -> maintainer on project:apollo" in r.output
    assert "~ setting default_role: none -> viewer" in r.output
    assert r.output.splitlines()[-1].startswith("acme: 5 roles added; 4 mappings added; 1 assignment added;")
    assert holdings(app, tid) == before  # diff writes nothing

    r = policy(runner, "apply", str(EXAMPLE), "--tenant", "acme")
    assert r.exit_code == 0, r.output
    assert f"applied to acme at revision {before['revision'] + 1}: 5 roles added" in r.output
    after = holdings(app, tid)
    assert after["revision"] == before["revision"] + 1
    assert (after["roles"], after["group_role_mappings"], after["role_assignments"], after["relationships"],
            after["resource_attributes"], after["authz_schemas"]) == (after["roles"], 4, 1, 2, 1, 1)
    assert after["settings"]["default_role"] == "viewer"

    again = policy(runner, "apply", str(EXAMPLE), "--tenant", "acme")
    assert again.exit_code == 0 and "acme already holds" in again.output and "no changes" in again.output
    assert holdings(app, tid) == after  # no revision, no change log entry, nothing
    r = policy(runner, "diff", str(EXAMPLE), "--tenant", "acme", "--exit-code")
    assert r.exit_code == 0 and "acme: no changes" in r.output

    # the engine decides by it: ann (Engineering) edits, and reads through the schema's relationships
    ann = scim_user(SCIMClient(client, token), "ann@acme.example")
    assert not allowed(api, ann, "edit", "document:1")
    eng = next(g for g in SCIMClient(client, token).get("/Groups").get_json()["Resources"]
               if g["displayName"] == "Engineering")
    assert SCIMClient(client, token).patch(f"/Groups/{eng['id']}", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": ann}]}]}).status_code in (200, 204)
    assert allowed(api, ann, "edit", "document:1") and allowed(api, ann, "view", "document:1")
    assert allowed(api, "root@acme.example", "delete", "anything:1")


def test_one_apply_is_one_revision_and_one_change_log_entry(app, runner, client, tenant, tmp_path):
    tid, token = tenant
    scim_group(SCIMClient(client, token), "Engineering")
    before = holdings(app, tid)["revision"]
    path = write(tmp_path, SMALL)
    r = policy(runner, "apply", path, "--tenant", "acme")
    assert r.exit_code == 0, r.output
    assert change_revisions(app, tid, before) == {before + 1}  # roles, mapping, schema, relationship, setting
    (entry,) = admin_changes(app, tid, "policy.apply")
    assert (entry.actor_kind, entry.surface, entry.target) == ("cli", "cli", path)
    assert entry.before["revision"] == before and entry.before["roles"] == 0
    assert entry.after["revision"] == before + 1
    assert entry.after["added"] == {"role": 2, "mapping": 1, "schema": 1, "relationship": 1}
    assert entry.after["changed"] == {"setting": 1}
    assert "+ role viewer\n    permissions: document:view" in entry.after["changes"]


def test_what_changes_is_shown_line_by_line(app, runner, client, tenant, tmp_path):
    scim_group(SCIMClient(client, tenant[1]), "Engineering")
    assert policy(runner, "apply", write(tmp_path, SMALL), "--tenant", "acme").exit_code == 0
    changed = (SMALL.replace("role_mode: hybrid", "role_mode: idp")
               .replace("permissions: [document:edit]", "permissions: [document:edit, document:delete]")
               .replace("    relation owner @user\n", "    relation owner @user\n    relation reader @user\n")
               .replace("group_mappings:\n  - group: Engineering\n    role: editor\n", "group_mappings: []\n")
               .replace("  - key: viewer\n", "  - key: auditor\n    permissions: [report:view]\n  - key: viewer\n"))
    path = write(tmp_path, changed, "changed.yaml")
    r = policy(runner, "diff", path, "--tenant", "acme", "--exit-code")
    assert r.exit_code == 1, r.output  # --exit-code: there are changes
    for line in ("~ setting role_mode: hybrid -> idp", "+ role auditor\n    permissions: report:view",
                 "~ role editor\n    permissions: +document:delete", "- mapping Engineering -> editor",
                 "~ schema (a new version after 1)", "    +  relation reader @user"):
        assert line in r.output, (line, r.output)
    assert "acme: 1 role added; 1 mapping removed; 1 setting changed; 1 role changed; 1 schema changed" in r.output
    r = policy(runner, "apply", path, "--tenant", "acme")
    assert r.exit_code == 0 and "- mapping Engineering -> editor" in r.output
    assert policy(runner, "diff", path, "--tenant", "acme").output.strip() == "acme: no changes"


def test_a_dry_run_writes_nothing(app, runner, client, tenant, tmp_path):
    tid = tenant[0]
    example_directory(SCIMClient(client, tenant[1]))
    before = holdings(app, tid)
    r = policy(runner, "apply", str(EXAMPLE), "--tenant", "acme", "--dry-run")
    assert r.exit_code == 0, r.output
    assert "+ role admin" in r.output
    assert f"dry run: 5 roles added; 4 mappings added; 1 assignment added; 1 schema added; 2 relationships added; " \
           f"1 resource added; 1 setting changed; would be revision {before['revision'] + 1} of acme; nothing was " \
           "written" in r.output
    assert holdings(app, tid) == before


def test_a_file_that_does_not_validate_applies_nothing(app, runner, client, tenant, tmp_path):
    tid = tenant[0]
    scim_group(SCIMClient(client, tenant[1]), "Engineering")
    before = holdings(app, tid)
    path = write(tmp_path, SMALL.replace("extends: [viewer]", "extends: [viewr]"))
    r = policy(runner, "apply", path, "--tenant", "acme")
    assert r.exit_code == 1 and f"{path}:10: roles[1].extends[0]: no role 'viewr' in this file" in r.output
    assert holdings(app, tid) == before


def test_groups_the_tenant_lacks_are_listed_and_nothing_is_applied(app, runner, tenant, tmp_path):
    tid = tenant[0]
    before = holdings(app, tid)
    text = SMALL.replace("group_mappings:\n  - group: Engineering\n    role: editor\n",
                         "group_mappings:\n  - group: Engineering\n    role: editor\n"
                         "  - group: {externalId: 00g-sales}\n    role: viewer\n")
    path = write(tmp_path, text)
    for command in ("diff", "apply"):
        r = policy(runner, command, path, "--tenant", "acme")
        assert r.exit_code == 1, r.output
        assert f"{path}:12: group_mappings[0].group: no group with displayName 'Engineering' in tenant acme" \
            in r.output
        assert f"{path}:14: group_mappings[1].group: no group with externalId '00g-sales' in tenant acme" in r.output
        assert "tenant acme does not have (exactly one of) group 'Engineering', group with externalId " \
               "'00g-sales'; nothing was applied" in r.output
    assert holdings(app, tid) == before


def test_a_write_refused_half_way_leaves_nothing(app, runner, tenant, tmp_path):
    """The roles are written, then a relationship is refused (the tenant has no schema and the file
    none): the roles go too."""
    tid = tenant[0]
    before = holdings(app, tid)
    path = write(tmp_path, "version: 1\nroles:\n  - {key: viewer, permissions: [doc:view]}\n"
                           "relationships:\n  - doc:1#owner@user:ann\n")
    r = policy(runner, "apply", path, "--tenant", "acme")
    assert r.exit_code == 1 and "this tenant has no schema yet" in r.output, r.output
    assert holdings(app, tid) == before


def test_sections_a_file_leaves_out_are_left_alone(app, runner, client, tenant, tmp_path):
    tid = tenant[0]
    scim_group(SCIMClient(client, tenant[1]), "Engineering")
    assert policy(runner, "apply", write(tmp_path, SMALL), "--tenant", "acme").exit_code == 0
    roles_only = "version: 1\nroles:\n  - {key: viewer, permissions: [document:view]}\n" \
                 "  - {key: editor, name: Editor, permissions: [document:edit], extends: [viewer]}\n"
    r = policy(runner, "diff", write(tmp_path, roles_only, "roles.yaml"), "--tenant", "acme")
    assert r.output.strip() == "acme: no changes"  # mappings, schema, relationships, settings untouched
    r = policy(runner, "apply", write(tmp_path, roles_only + "relationships: []\n", "empty.yaml"), "--tenant", "acme")
    assert "- relationship document:1#owner@user:someone" in r.output
    assert holdings(app, tid)["relationships"] == 0 and holdings(app, tid)["group_role_mappings"] == 1


def test_roles_are_written_in_an_order_every_step_allows(app, runner, tenant, tmp_path):
    """Parents before heirs, a default role deleted, and an inheritance turned around."""
    first = ("version: 1\ndefault_role: old\nroles:\n  - {key: old, permissions: [a:x]}\n"
             "  - {key: a, extends: [b]}\n  - {key: b, extends: [old]}\n")
    assert policy(runner, "apply", write(tmp_path, first), "--tenant", "acme").exit_code == 0
    second = ("version: 1\ndefault_role: c\nroles:\n  - {key: c, extends: [a], permissions: [c:y]}\n"
              "  - {key: b, permissions: [b:z]}\n  - {key: a, extends: [new]}\n  - {key: new, extends: [b]}\n")
    r = policy(runner, "apply", write(tmp_path, second, "second.yaml"), "--tenant", "acme")
    assert r.exit_code == 0, r.output
    held = {k: ext for k, _, _, ext, _ in holdings(app, tenant[0])["roles"]}
    assert held == {"a": ("new",), "b": (), "c": ("a",), "new": ("b",)}
    assert holdings(app, tenant[0])["settings"]["default_role"] == "c"


def test_a_tenant_that_does_not_exist_is_a_usage_error(runner, tmp_path):
    for args in (("apply", write(tmp_path, SMALL), "--tenant", "nobody"), ("export", "--tenant", "nobody")):
        r = policy(runner, *args)
        assert r.exit_code == 2 and "no tenant 'nobody'" in r.output
