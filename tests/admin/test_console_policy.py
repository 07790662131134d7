"""The console's policy pages through the Flask test client: roles, group mappings, role mode, the
relationship schema, the playground and the audit log. Bad input shows its message and writes nothing."""
from __future__ import annotations

import pytest

from scim_authz import pdp
from scim_authz.db.models import AuthzSchema, Change, Decision, GroupRoleMapping, Role, Tenant
from tests.admin.conftest import text, words
from tests.api._api_helpers import count, revision, rows

V1 = "entity document {\n  relation owner @user\n  permission view = owner\n}\n"
V2 = "entity document {\n  relation owner @user\n  relation viewer @user\n  permission view = owner or viewer\n}\n"
BAD = "entity doc {\n  relation owner @usr\n}"


def _role(console, key="editor", permissions="document:view\ndocument:edit", **extra):
    r = console.post("/admin/roles", {"key": key, "permissions": permissions, **extra})
    assert r.status_code == 302, text(r)


# ---- roles -----------------------------------------------------------------------------------

def test_create_edit_and_delete_a_role(app, console, tenant):
    assert "No roles yet" in text(console.get("/admin/roles"))
    assert 'for="f-permissions"' in text(console.get("/admin/roles/new"))
    _role(console, "viewer", "document:view")
    _role(console, "editor", "document:edit\n\n  document:edit  ", extends="viewer", name="Editor",
          condition='user.department == "Engineering"')
    editor = rows(app, Role, tenant_id=tenant[0], key="editor")[0]
    assert editor.permissions == ["document:edit"] and editor.extends == ["viewer"] and editor.name == "Editor"
    page = text(console.get("/admin/roles"))
    assert "document:edit" in page and "viewer" in page and "Role editor is saved." in page
    page = text(console.get("/admin/roles/editor/edit"))
    assert "a role's key cannot change" in page and 'value="viewer" checked' in page
    r = console.post("/admin/roles/editor", {"permissions": "document:edit\ndocument:delete", "name": "Editor"})
    assert r.status_code == 302
    assert rows(app, Role, tenant_id=tenant[0], key="editor")[0].permissions == ["document:delete", "document:edit"]
    assert rows(app, Role, tenant_id=tenant[0], key="editor")[0].extends == []
    assert "Delete role editor?" in text(console.get("/admin/roles/editor/delete"))
    assert console.post("/admin/roles/editor/delete").status_code == 302
    assert count(app, Role, tenant_id=tenant[0]) == 1


@pytest.mark.parametrize("form, field, message", [
    ({"key": ""}, "key", "Enter a key"),
    ({"key": "bad key!"}, "key", "Use letters, digits, _ and - only"),
    ({"key": "r", "permissions": "document:view\nnot a permission"}, "permissions",
     'line 2: “not a permission” must be "resource_type:action"'),
    ({"key": "r", "condition": "user.title =="}, "condition", "column"),
    ({"key": "r", "extends": "ghost"}, "extends", "no role 'ghost'"),
])
def test_bad_role_input_is_shown_next_to_the_field_and_nothing_is_written(app, console, tenant, form, field,
                                                                          message):
    rev = revision(app, tenant[0])
    r = console.post("/admin/roles", form)
    assert r.status_code == 400
    page = text(r)
    assert message in page
    assert f'id="err-{field}"' in page and "nothing was saved" in page
    assert count(app, Role, tenant_id=tenant[0]) == 0
    assert revision(app, tenant[0]) == rev


def test_a_taken_key_and_a_role_still_extended(app, console, tenant):
    _role(console, "viewer", "document:view")
    r = console.post("/admin/roles", {"key": "viewer", "permissions": "x:y"})
    assert r.status_code == 400 and "already exists" in text(r)
    _role(console, "editor", "document:edit", extends="viewer")
    r = console.post("/admin/roles/viewer/delete")
    assert r.status_code == 409 and "extend 'viewer'" in text(r)
    assert count(app, Role, tenant_id=tenant[0]) == 2
    assert console.get("/admin/roles/ghost/edit").status_code == 404


# ---- group mappings --------------------------------------------------------------------------

def test_preview_lists_who_gains_the_role_through_nested_groups_and_writes_nothing(app, console, tenant, people):
    _role(console)
    page = text(console.get(f"/admin/mappings/new?group={people['eng']}"))
    assert "Engineering" in page and "Preview who is affected" in page
    rev = revision(app, tenant[0])
    r = console.post("/admin/mappings/preview", {"group": people["eng"], "role": "editor"})
    assert r.status_code == 200
    page = words(r)
    assert "alice@acme.test" in page and "direct member" in page
    assert "bob@acme.test" in page and "through nested group Platform" in page
    assert "carol@acme.test" not in page  # deactivated: counted, not listed
    assert "Would gain the role 2" in page and "Deactivated (always denied) 1" in page
    assert 'name="group" value="' in text(r)  # the save step carries the choice
    assert count(app, GroupRoleMapping, tenant_id=tenant[0]) == 0 and revision(app, tenant[0]) == rev


def test_the_preview_names_exactly_the_users_whose_checks_the_mapping_turns_to_allow(app, console, tenant, people):
    """The preview is the engine's answer: who it lists are the users the check endpoint allows
    once the mapping is saved, and denied before (bob holds the role already through Platform)."""
    _role(console)
    assert console.post("/admin/mappings", {"group": people["platform"], "role": "editor"}).status_code == 302

    def allowed() -> set[str]:
        with app.app_context():
            eng = pdp.engine(app)
            return {name for name in ("alice@acme.test", "bob@acme.test", "carol@acme.test")
                    if eng.check(tenant[0], name, "edit", "document", "1").allowed}

    before = allowed()
    page = words(console.post("/admin/mappings/preview", {"group": people["eng"], "role": "editor"}))
    listed = {name for name in ("alice@acme.test", "bob@acme.test", "carol@acme.test") if name in page}
    assert console.post("/admin/mappings", {"group": people["eng"], "role": "editor"}).status_code == 302
    assert listed == allowed() - before == {"alice@acme.test"}


def test_save_edit_and_delete_a_mapping(app, console, tenant, people):
    _role(console)
    _role(console, "owner", "document:*")
    r = console.post("/admin/mappings", {"group": people["platform"], "role": "editor", "resource": ""})
    assert r.status_code == 302
    assert "Members of Platform now hold editor." in text(console.get("/admin/mappings"))
    # Engineering's preview: bob holds editor already through Platform, so only alice would gain it.
    page = words(console.post("/admin/mappings/preview", {"group": people["eng"], "role": "editor"}))
    assert "alice@acme.test" in page and "bob@acme.test" not in page and "Hold it already otherwise 1" in page
    mid = rows(app, GroupRoleMapping, tenant_id=tenant[0])[0].id
    page = text(console.get(f"/admin/mappings/{mid}/edit"))
    assert "Edit mapping" in page and f'name="replace" value="{mid}"' in page
    r = console.post("/admin/mappings", {"group": people["platform"], "role": "owner", "resource": "project:apollo",
                                         "replace": str(mid)})
    assert r.status_code == 302
    (m,) = rows(app, GroupRoleMapping, tenant_id=tenant[0])
    assert (m.resource_type, m.resource_id, m.created_by) == ("project", "apollo", "console ada@acme.test")
    page = words(console.get(f"/admin/mappings/{m.id}/delete"))
    assert "Would lose the role 1" in page and "bob@acme.test" in page
    assert console.post(f"/admin/mappings/{m.id}/delete").status_code == 302
    assert count(app, GroupRoleMapping, tenant_id=tenant[0]) == 0


@pytest.mark.parametrize("form, message", [
    ({"group": "", "role": "editor"}, "Choose one of the groups"),
    ({"group": "GROUP", "role": ""}, "Choose a role."),
    ({"group": "GROUP", "role": "ghost"}, "There is no role 'ghost'."),
    ({"group": "GROUP", "role": "editor", "resource": "no colon"}, "Write it as type:id"),
])
def test_bad_mapping_input_writes_nothing(app, console, tenant, people, form, message):
    _role(console)
    form = {k: people["eng"] if v == "GROUP" else v for k, v in form.items()}
    for path in ("/admin/mappings/preview", "/admin/mappings"):
        r = console.post(path, form)
        assert r.status_code == 400 and message in text(r), path
    assert count(app, GroupRoleMapping, tenant_id=tenant[0]) == 0


def test_group_picker_searches_by_name(console, people):
    page = text(console.get("/admin/mappings/new?gq=plat"))
    assert ">Platform</option>" in page and ">Engineering</option>" not in page


# ---- role mode -------------------------------------------------------------------------------

def test_role_mode_shows_each_meaning_and_saves(app, console, tenant):
    page = text(console.get("/admin/settings"))
    assert "Only roles mapped from the identity provider's groups count." in page and 'value="hybrid" checked' in page
    r = console.post("/admin/settings", {"name": "Acme Corp", "role_mode": "idp", "default_role": ""})
    assert r.status_code == 302
    t = rows(app, Tenant, id=tenant[0])[0]
    assert (t.role_mode, t.name) == ("idp", "Acme Corp")


@pytest.mark.parametrize("form, message", [
    ({"name": "Acme", "role_mode": "root"}, "Choose how roles are decided."),
    ({"name": "", "role_mode": "app"}, "Enter the organisation's name."),
    ({"name": "Acme", "role_mode": "app", "default_role": "ghost"}, "no role 'ghost'"),
])
def test_bad_settings_change_nothing(app, console, tenant, form, message):
    r = console.post("/admin/settings", form)
    assert r.status_code == 400 and message in text(r)
    assert rows(app, Tenant, id=tenant[0])[0].role_mode == "hybrid"


# ---- relationship schema ---------------------------------------------------------------------

def test_validate_shows_line_and_column_and_writes_nothing(app, console, tenant):
    page = text(console.get("/admin/schema"))
    assert "No schema yet" in page and "entity folder" in page
    r = console.post("/admin/schema/validate", {"source": BAD})
    assert "Line 2, column 19 : unknown entity type 'usr' in '@usr' (did you mean 'user'?)" in words(r)
    page = text(r)
    assert 'data-error-lines="2"' in page and '<span class="err">2</span>' in page
    assert "The schema is valid" in text(console.post("/admin/schema/validate", {"source": V1}))
    assert count(app, AuthzSchema, tenant_id=tenant[0]) == 0
    assert count(app, Change, tenant_id=tenant[0], kind="schema") == 0


def test_save_versions_and_activate_an_old_one(app, console, tenant):
    r = console.post("/admin/schema", {"source": BAD})
    assert r.status_code == 400 and "nothing was saved" in text(r) and "Line 2, column 19" in words(r)
    assert count(app, AuthzSchema, tenant_id=tenant[0]) == 0
    assert console.post("/admin/schema", {"source": V1.replace("\n", "\r\n")}).status_code == 302
    assert console.post("/admin/schema", {"source": V2}).status_code == 302
    page = text(console.get("/admin/schema"))
    assert "Editing version 2" in page and "Version 1" in page and "console ada@acme.test" in page
    assert "relation viewer" in text(console.get("/admin/schema?version=2"))
    assert "relation viewer" not in text(console.get("/admin/schema?version=1"))
    assert console.get("/admin/schema?version=9").status_code == 404
    assert console.post("/admin/schema/versions/1/activate").status_code == 302
    newest = max(rows(app, AuthzSchema, tenant_id=tenant[0]), key=lambda s: s.version)
    assert newest.version == 3 and newest.source == V1


# ---- playground and audit --------------------------------------------------------------------

def _flush(app):
    with app.app_context():
        pdp.audit(app).flush()


def test_playground_answers_explains_and_audits(app, console, tenant, people):
    _role(console)
    console.post("/admin/mappings", {"group": people["eng"], "role": "editor"})
    r = console.post("/admin/playground", {"user": "bob@acme.test", "action": "edit", "resource": "document:1"})
    assert r.status_code == 200
    page = text(r)
    assert "Allowed" in page and "role editor via group Platform, member of Engineering (IdP)" in page
    assert "role editor via group Engineering (IdP)" in text(console.get(f"/admin/users/{people['bob']}"))
    r = console.post("/admin/playground", {"user": "carol@acme.test", "action": "edit", "resource": "document:1"})
    assert "Denied" in text(r) and "deactivated" in text(r)
    _flush(app)
    decisions = sorted(rows(app, Decision, tenant_id=tenant[0]), key=lambda d: d.at)
    assert [(d.user_key, d.allowed, d.asked_by) for d in decisions] == [
        ("bob@acme.test", True, "console ada@acme.test"), ("carol@acme.test", False, "console ada@acme.test")]
    assert decisions[0].user_id == people["bob"] and decisions[0].resource_type == "document"


@pytest.mark.parametrize("form, message", [
    ({"user": "", "action": "edit", "resource": "document:1"}, "Choose a user"),
    ({"user": "ghost", "action": "edit", "resource": "document:1"}, "There is no user 'ghost'"),
    ({"user": "bob@acme.test", "action": "", "resource": "document:1"}, "Enter an action"),
    ({"user": "bob@acme.test", "action": "edit", "resource": "document"}, "type:id"),
    ({"user": "bob@acme.test", "action": "edit", "resource": "document:1", "context": "[1]"}, "a JSON object"),
])
def test_playground_input_errors_record_nothing(app, console, tenant, people, form, message):
    r = console.post("/admin/playground", form)
    assert r.status_code == 400 and message in text(r)
    _flush(app)
    assert count(app, Decision, tenant_id=tenant[0]) == 0


def test_audit_lists_filters_and_charts(app, console, tenant, people):
    for user, resource in (("alice@acme.test", "document:1"), ("bob@acme.test", "folder:2")):
        console.post("/admin/playground", {"user": user, "action": "view", "resource": resource})
    page = text(console.get("/admin/audit"))
    assert "alice@acme.test" in page and "bob@acme.test" in page and "console ada@acme.test" in page
    assert "<svg" in page and "Monthly active users" in page and "2 active user(s)" in page
    page = text(console.get("/admin/audit?user=alice@acme.test"))
    assert "alice@acme.test" in page and "folder:2" not in page
    page = text(console.get("/admin/audit?resource_type=folder&result=denied"))
    assert "folder:2" in page and "document:1" not in page
    assert "No decisions" in text(console.get("/admin/audit?result=allowed"))
    r = console.get("/admin/audit?user=ghost")
    assert r.status_code == 400 and "There is no user 'ghost'" in text(r)
    r = console.get("/admin/audit?since=yesterday")
    assert r.status_code == 400 and "YYYY-MM-DD" in text(r)
    assert "No decisions" in text(console.get("/admin/audit?until=2000-01-01"))


def test_audit_pages_with_a_cursor(app, console, people):
    for n in range(52):
        console.post("/admin/playground", {"user": "alice@acme.test", "action": "view", "resource": f"doc:{n}"})
    page = text(console.get("/admin/audit"))
    assert "doc:51" in page and "doc:1 " not in page and "Older →" in page
    nxt = page.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    page = text(console.get(nxt))
    assert "doc:0" in page and "doc:51" not in page and "← Newest" in page


def test_dashboard_counts(app, console, tenant, people):
    _role(console)
    console.post("/admin/mappings", {"group": people["eng"], "role": "editor"})
    console.post("/admin/playground", {"user": "alice@acme.test", "action": "edit", "resource": "document:1"})
    page = text(console.get("/admin/"))
    for label, n in (("Users", 3), ("Groups", 2), ("Roles", 1), ("Group mappings", 1), ("Decisions today", 1)):
        assert f'<span class="stat-value">{n}</span><span class="stat-label">{label}</span>' in page, label
