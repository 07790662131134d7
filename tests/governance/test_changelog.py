"""The administrative change log: every administrative change leaves one append-only entry, in the
same transaction, saying who (API key, console admin, CLI user, IdP token), when, through which
surface, and before and after; readable with filters and a cursor; a failed request leaves none."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from scim_authz.db.extensions import db
from scim_authz.db.models import AdminChange, DirectoryWriteCount, utcnow
from scim_authz.governance import changelog
from tests.admin.conftest import Console, create_admin
from tests.api._api_helpers import count, rows, scim_group, scim_user


def changes(api, **query) -> list[dict]:
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    r = api.get("/changes" + (f"?{qs}" if qs else ""))
    assert r.status_code == 200, r.get_json()
    return r.get_json()["changes"]


def test_role_changes_through_the_api_say_who_and_what(app, api, tenant):
    assert api.post("/roles", {"key": "editor", "permissions": ["document:edit"]}).status_code == 201
    assert api.patch("/roles/editor", {"permissions": ["document:edit", "document:view"]}).status_code == 200
    assert api.delete("/roles/editor").status_code == 200
    got = changes(api, action="role.")
    assert [c["action"] for c in got] == ["role.delete", "role.update", "role.create"]  # newest first
    created, updated = got[2], got[1]
    assert created["actor"]["kind"] == "api_key" and api.key[:9] in created["actor"]["name"]
    assert created["surface"] == "api" and created["target"] == "editor" and created["before"] is None
    assert created["after"]["permissions"] == ["document:edit"]
    assert updated["before"]["permissions"] == ["document:edit"]
    assert updated["after"]["permissions"] == ["document:edit", "document:view"]
    assert got[0]["before"]["key"] == "editor" and got[0]["after"] is None
    assert all(c["request_id"] for c in got)


def test_a_failed_request_leaves_no_entry(app, api, tenant):
    before = count(app, AdminChange, tenant_id=tenant[0])
    r = api.post("/roles", {"key": "bad", "permissions": ["document:edit"], "extends": ["missing"]})
    assert r.status_code in (400, 404)
    assert count(app, AdminChange, tenant_id=tenant[0]) == before


def test_mappings_assignments_settings_schema_relationships_and_credentials(app, api, scim, tenant, runner):
    uid = scim_user(scim, "ann@example.com")
    gid = scim_group(scim, "Engineering", [uid])
    api.post("/roles", {"key": "viewer", "permissions": ["document:view"]})
    aid = api.post("/role-assignments", {"user": uid, "role": "viewer"}).get_json()["assignment"]["id"]
    api.post("/role-assignments", {"user": uid, "role": "viewer"})  # the same again: no change, no entry
    mid = api.post("/group-mappings", {"group": gid, "role": "viewer"}).get_json()["mapping"]["id"]
    api.delete(f"/role-assignments/{aid}")
    api.delete(f"/group-mappings/{mid}")
    api.patch("/tenant", {"role_mode": "idp"})
    api.post("/schema", {"source": "entity doc {\n  relation owner @user\n}\n"})
    api.post("/relationships", {"relationships": [
        {"resource": f"doc:{n}", "relation": "owner", "subject": f"user:{uid}"} for n in range(30)]})
    assert runner.invoke(args=["tokens", "issue", "acme", "--kind", "app", "--name", "ci"]).exit_code == 0
    got: dict = {}
    for c in changes(api):  # newest first: keep each action's newest
        got.setdefault(c["action"], c)
    assert set(got) >= {"assignment.create", "assignment.delete", "mapping.create", "mapping.delete",
                        "tenant.settings", "schema.write", "relationships.write", "credential.issue", "role.create"}
    assert len([c for c in changes(api) if c["action"] == "assignment.create"]) == 1
    assert got["mapping.create"]["target"] == "Engineering viewer"
    assert got["tenant.settings"]["before"]["role_mode"] == "hybrid"
    assert got["tenant.settings"]["after"]["role_mode"] == "idp"
    written = got["relationships.write"]["after"]
    assert written["count"] == 30 and len(written["first"]) == 20
    issued = got["credential.issue"]
    assert issued["surface"] == "cli" and issued["actor"]["kind"] == "cli" and issued["after"]["name"] == "ci"


def test_the_console_records_the_signed_in_admin(app, client, api, tenant):
    create_admin(app, "ada@acme.test", "acme")
    console = Console(client)
    assert console.login("ada@acme.test").status_code == 302
    assert console.post("/admin/roles", {"key": "auditor", "permissions": "document:view"}).status_code == 302
    entry = changes(api, action="role.create")[0]
    assert entry["actor"] == {"kind": "admin", "name": "ada@acme.test"} and entry["surface"] == "console"
    admin_created = rows(app, AdminChange, action="admin.create")
    assert [e.target for e in admin_created] == ["ada@acme.test"] and admin_created[0].tenant_id == tenant[0]


def test_filters_and_cursor(api):
    for n in range(5):
        api.post("/roles", {"key": f"r{n}", "permissions": ["document:view"]})
    first = api.get("/changes?action=role.create&limit=2").get_json()
    second = api.get(f"/changes?action=role.create&limit=2&cursor={first['next_cursor']}").get_json()
    third = api.get(f"/changes?action=role.create&limit=2&cursor={second['next_cursor']}").get_json()
    assert [c["target"] for c in first["changes"] + second["changes"] + third["changes"]] == [
        "r4", "r3", "r2", "r1", "r0"]
    assert third["next_cursor"] is None
    assert changes(api, target="r2")[0]["action"] == "role.create"
    assert changes(api, surface="console") == []
    assert api.get("/changes?cursor=%%%").status_code == 400
    assert api.get("/changes?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z").get_json()["changes"] == []


def test_another_tenant_sees_none_of_them(api, other_api):
    api.post("/roles", {"key": "secret-role", "permissions": ["document:view"]})
    assert all(c["target"] != "secret-role" for c in changes(other_api))


def test_scim_writes_are_counted_per_token_and_day_and_logged_when_asked(app, api, scim, tenant):
    scim_user(scim, "a@example.com")
    scim_user(scim, "b@example.com")
    assert scim.post("/Users", {"userName": "a@example.com"}).status_code == 409  # refused: not counted
    day = utcnow().date().isoformat()
    counted = api.get("/changes/directory-writes").get_json()["directory_writes"]
    assert [(c["day"], c["writes"]) for c in counted] == [(day, 2)]
    assert counted[0]["token"]["prefix"].startswith("scim_")
    assert changes(api, action="scim.") == []
    assert api.patch("/tenant", {"log_directory_writes": True}).status_code == 200
    uid = scim_user(scim, "c@example.com")
    assert scim.delete(f"/Users/{uid}").status_code == 204
    logged = changes(api, action="scim.")
    assert [c["action"] for c in logged] == ["scim.delete", "scim.post"]
    assert logged[0]["actor"]["kind"] == "scim_token" and logged[0]["surface"] == "scim"
    assert logged[0]["target"].endswith(f"/Users/{uid}")
    # counted in memory, written by the instance's thread within a second; reading through the
    # API writes them at once
    assert [c["writes"] for c in api.get("/changes/directory-writes").get_json()["directory_writes"]] == [4]
    assert [r.writes for r in rows(app, DirectoryWriteCount, tenant_id=tenant[0])] == [4]
    # the token's cached caller carries the setting; turning it off reaches it at the next write
    assert api.patch("/tenant", {"log_directory_writes": False}).status_code == 200
    scim_user(scim, "d@example.com")
    assert [c["action"] for c in changes(api, action="scim.")] == ["scim.delete", "scim.post"]
    assert api.patch("/tenant", {"log_directory_writes": True}).status_code == 200
    scim_user(scim, "e@example.com")
    assert [c["action"] for c in changes(api, action="scim.")] == ["scim.post", "scim.delete", "scim.post"]


def test_counts_are_written_by_the_thread_and_kept_when_the_database_refuses(app, scim, tenant):
    from scim_authz import pdp
    scim_user(scim, "a@example.com")
    with app.app_context():
        counter = pdp.write_counter(app)
    deadline = time.monotonic() + 5
    while not rows(app, DirectoryWriteCount, tenant_id=tenant[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r.writes for r in rows(app, DirectoryWriteCount, tenant_id=tenant[0])] == [1]
    real, counter.engine = counter.engine, None  # a flush that fails keeps its counts for the next
    counter.add(tenant[0], 999)
    counter.flush()
    counter.engine = real
    counter.flush()
    assert sorted(r.writes for r in rows(app, DirectoryWriteCount, tenant_id=tenant[0])) == [1, 1]


def test_the_log_is_append_only_and_retention_prunes(app, api, runner):
    api.post("/roles", {"key": "old", "permissions": ["document:view"]})
    with app.app_context():
        entry = db.session.execute(select(AdminChange).where(AdminChange.action == "role.create")).scalar_one()
        entry.target = "tampered"
        with pytest.raises(RuntimeError, match="append-only"):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.get(AdminChange, entry.id))
        with pytest.raises(RuntimeError, match="append-only"):
            db.session.flush()
        db.session.rollback()
        assert changelog.prune(30, now=utcnow() + timedelta(days=29)) == 0
        db.session.commit()
        db.session.remove()
    result = runner.invoke(args=["prune-admin-changes", "--days", "1"])
    assert result.exit_code == 0 and "deleted 0" in result.output
    with app.app_context():
        assert changelog.prune(30, now=utcnow() + timedelta(days=31)) >= 1
        db.session.commit()
        db.session.remove()
    assert changes(api, action="role.create") == []
