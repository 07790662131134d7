"""Access reviews: every user with each effective role, where it comes from (the IdP group chain,
or who assigned it and when), since when it is held, and when the user was last checked."""
from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy import update

from scim_authz.db.extensions import db
from scim_authz.db.models import GroupMember, GroupRoleMapping
from tests.api._api_helpers import scim_group, scim_user


def _when(app, model, value: datetime, **where) -> None:
    with app.app_context():
        col = model.added if model is GroupMember else model.created
        db.session.execute(update(model).filter_by(**where).values({col.key: value}))
        db.session.commit()
        db.session.remove()


def test_roles_with_provenance_since_and_last_checked(app, api, scim):
    bob = scim_user(scim, "bob@example.com", externalId="00ub")
    ann = scim_user(scim, "ann@example.com")
    scim_user(scim, "carl@example.com")
    platform = scim_group(scim, "Platform", [bob])
    eng = scim_group(scim, "Engineering", [platform])
    api.post("/roles", {"key": "editor", "permissions": ["document:edit"]})
    api.post("/roles", {"key": "viewer", "permissions": ["document:view"]})
    api.post("/group-mappings", {"group": eng, "role": "editor"})
    api.post("/role-assignments", {"user": ann, "role": "viewer", "resource": "document:7"})
    # the chain's links were made at different times: bob holds editor since the newest of them
    _when(app, GroupMember, datetime(2026, 1, 5), group_id=platform, member_id=bob)
    _when(app, GroupMember, datetime(2026, 3, 1), group_id=eng, member_id=platform)
    _when(app, GroupRoleMapping, datetime(2026, 2, 1), group_id=eng)
    assert api.post("/check", {"user": bob, "action": "edit", "resource": "document:1"}).get_json()["allowed"]

    rows = api.get("/access-review").get_json()["access_review"]
    assert [(r["userName"], r["role"]) for r in rows] == [
        ("ann@example.com", "viewer"), ("bob@example.com", "editor"), ("carl@example.com", None)]
    a, b, c = rows
    assert b["source"] == "idp" and b["group_chain"] == ["Platform", "Engineering"]
    assert b["provenance"] == "role editor via group Platform, member of Engineering (IdP)"
    assert b["since"] == "2026-03-01T00:00:00Z" and b["externalId"] == "00ub"
    assert b["last_checked"] is not None and a["last_checked"] is None
    assert a["source"] == "app" and a["resource"] == "document:7" and a["assigned_by"].startswith("key ")
    assert a["since"] and a["group_chain"] is None
    assert c["source"] is None and c["active"] is True

    r = api.get("/access-review?format=csv")
    assert r.status_code == 200 and r.content_type.startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [(t["userName"], t["role"], t["group_chain"]) for t in table] == [
        ("ann@example.com", "viewer", ""), ("bob@example.com", "editor", "Platform > Engineering"),
        ("carl@example.com", "", "")]
    assert api.get("/access-review?format=xml").status_code == 400


def test_a_deactivated_user_is_listed_as_such_and_other_tenants_see_nothing(api, other_api, scim):
    uid = scim_user(scim, "gone@example.com", active=False)
    api.post("/roles", {"key": "viewer", "permissions": ["document:view"]})
    api.post("/role-assignments", {"user": uid, "role": "viewer"})
    rows = api.get("/access-review").get_json()["access_review"]
    assert [(r["userName"], r["active"], r["role"]) for r in rows] == [("gone@example.com", False, "viewer")]
    assert other_api.get("/access-review").get_json()["access_review"] == []


def test_from_the_cli(api, scim, runner):
    uid = scim_user(scim, "ann@example.com")
    api.post("/roles", {"key": "viewer", "permissions": ["document:view"]})
    api.post("/role-assignments", {"user": uid, "role": "viewer"})
    out = runner.invoke(args=["access-review", "acme"])
    assert out.exit_code == 0, out.output
    assert [(r["userName"], r["role"], r["source"]) for r in csv.DictReader(io.StringIO(out.output))] == [
        ("ann@example.com", "viewer", "app")]
    as_json = runner.invoke(args=["access-review", "acme", "--format", "json"])
    assert '"role": "viewer"' in as_json.output
    assert runner.invoke(args=["access-review", "nope"]).exit_code != 0
    before = runner.invoke(args=["access-review", "acme", "--as-of", "2000-01-01T00:00:00"])
    assert before.exit_code == 0 and before.output.strip().count("\n") == 0  # the header alone: nobody then
