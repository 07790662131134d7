"""`scim-authz import FILE --tenant T`: users, groups and memberships from CSV, JSON and JSON Lines,
as an operator runs it, with the database's state (and what SCIM and /v1/check see) asserted."""
from __future__ import annotations

import csv
import json

import pytest
from sqlalchemy import func, select

from scim_authz.db.extensions import db
from scim_authz.db.models import AccessHistory, AdminChange, Change, Group, GroupMember, Tenant, User
from tests.api._api_helpers import allowed, scim_group
from tests.conftest import SCIMClient, make_tenant

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CSV_TEXT = """userName,externalId,givenName,familyName,email,active,title,department,employeeNumber,groups
ann@example.com,e-1,Ann,Lee,ann@work.example,true,Engineer,R&D,1001,Engineering;Everyone
bob@example.com,e-2,Bob,Roe,bob@work.example,FALSE,Manager,Sales,1002,Sales; everyone
carl@example.com,,Carl,Sun,,,,,,
"""


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(runner, *args):
    return runner.invoke(args=["import", *map(str, args)])


def state(app, tenant_id: int) -> dict:
    """What the tenant holds: users by userName (doc, version), groups by displayName (version,
    members' userNames or displayNames), the revision, the change log entries and the history rows."""
    with app.app_context():
        users = {u.user_name: u for u in db.session.execute(select(User).where(User.tenant_id == tenant_id)).scalars()}
        groups = {g.id: g for g in db.session.execute(select(Group).where(Group.tenant_id == tenant_id)).scalars()}
        names = {u.id: n for n, u in users.items()} | {g.id: g.display_name for g in groups.values()}
        members = {}
        for gid, mid in db.session.execute(select(GroupMember.group_id, GroupMember.member_id)
                                           .where(GroupMember.tenant_id == tenant_id)):
            members.setdefault(groups[gid].display_name, set()).add(names[mid])
        out = {
            "users": {n: (u.doc, u.version) for n, u in users.items()},
            "groups": {g.display_name: g.version for g in groups.values()},
            "members": members,
            "revision": db.session.get(Tenant, tenant_id).revision,
            "logged": db.session.execute(select(func.count()).select_from(AdminChange)
                                         .where(AdminChange.tenant_id == tenant_id)).scalar_one(),
            "history": db.session.execute(select(func.count()).select_from(AccessHistory)
                                          .where(AccessHistory.tenant_id == tenant_id)).scalar_one(),
        }
        db.session.remove()
        return out


def users_doc(scim, user_name: str) -> dict:
    r = scim.get(f'/Users?filter=userName eq "{user_name}"')
    assert r.status_code == 200, r.get_data(as_text=True)
    [found] = r.get_json()["Resources"]
    return found


def comparable(resource: dict) -> dict:
    """A SCIM resource without what differs between two tenants' copies (id, meta)."""
    return {k: v for k, v in resource.items() if k not in ("id", "meta")}


# ---- CSV -------------------------------------------------------------------------------------

def test_csv_creates_users_groups_and_memberships(app, runner, tenant, tmp_path):
    start = state(app, tenant[0])
    r = run(runner, write(tmp_path, "people.csv", CSV_TEXT), "--tenant", "acme")
    assert r.exit_code == 0, r.output
    assert "users        created 3, updated 0, already present 0, failed 0" in r.output
    assert "groups       created 3" in r.output and "memberships  added 4" in r.output
    s = state(app, tenant[0])
    assert set(s["users"]) == {"ann@example.com", "bob@example.com", "carl@example.com"}
    assert set(s["groups"]) == {"Engineering", "Everyone", "Sales"}  # the first spelling of "everyone"
    assert s["members"] == {"Engineering": {"ann@example.com"}, "Everyone": {"ann@example.com", "bob@example.com"},
                            "Sales": {"bob@example.com"}}
    ann, version = s["users"]["ann@example.com"]
    assert version == 1
    assert ann == {"userName": "ann@example.com", "externalId": "e-1",
                   "name": {"givenName": "Ann", "familyName": "Lee"},
                   "emails": [{"value": "ann@work.example", "type": "work"}], "active": True, "title": "Engineer",
                   ENTERPRISE: {"department": "R&D", "employeeNumber": "1001"}}
    assert s["users"]["bob@example.com"][0]["active"] is False
    assert s["users"]["carl@example.com"][0] == {"userName": "carl@example.com",
                                                 "name": {"givenName": "Carl", "familyName": "Sun"}}
    assert s["history"] - start["history"] == 3 + 3 + 4  # users, groups, memberships: by the triggers
    assert s["revision"] == start["revision"] + 1 and s["logged"] == start["logged"] + 1
    with app.app_context():
        t = db.session.get(Tenant, tenant[0])
        entry = db.session.execute(select(AdminChange).where(AdminChange.tenant_id == tenant[0])
                                   .order_by(AdminChange.id.desc())).scalars().first()
        assert (entry.action, entry.actor_kind, entry.surface) == ("directory.import", "cli", "cli")
        assert entry.target == "people.csv line 2 to line 4"
        assert entry.after["users_created"] == 3 and entry.after["memberships_added"] == 4
        assert entry.after["first"] == ["ann@example.com", "bob@example.com", "carl@example.com"]
        kinds = db.session.execute(select(Change.kind, func.count()).where(
            Change.tenant_id == tenant[0], Change.revision == t.revision).group_by(Change.kind)).all()
        assert dict(kinds) == {"user": 3, "group": 3, "member": 4}  # all under the one revision
        db.session.remove()


def test_scim_reads_an_imported_user_as_post_would_have_made_it(app, runner, client, scim, tmp_path):
    posted = SCIMClient(client, make_tenant(app, "globex")[1])
    bodies = [
        {"userName": "ann@example.com", "externalId": "e-1", "name": {"givenName": "Ann", "familyName": "Lee"},
         "emails": [{"value": "ann@work.example", "type": "work"}], "active": True, "title": "Engineer",
         ENTERPRISE: {"department": "R&D", "employeeNumber": "1001"}},
        # Loose input as IdPs send it: names in any case, read-only and unknown attributes, "False".
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE], "USERNAME": "Dee@Example.com",
         "id": "not-kept", "meta": {"created": "2000-01-01T00:00:00Z"}, "groups": [{"value": "x"}],
         "active": "False", "password": "never stored", "name.givenName": "Dee", "nickName": None,
         f"{ENTERPRISE}:manager": "boss-id", "urn:example:custom": {"x": 1}, "whatever": 1,
         "phoneNumbers": [{"value": "+1 555", "type": "mobile", "primary": "true"}]},
    ]
    r = run(runner, write(tmp_path, "users.json", json.dumps(bodies)), "--tenant", "acme")
    assert r.exit_code == 0, r.output
    for body in bodies:
        assert posted.post("/Users", body).status_code == 201
    for name in ("ann@example.com", "Dee@Example.com"):
        imported, made = users_doc(scim, name), users_doc(posted, name)
        assert comparable(imported) == comparable(made)
        assert imported["meta"]["version"] == made["meta"]["version"] == 'W/"1"'
        assert imported["meta"]["location"].endswith(f"/Users/{imported['id']}")
    # A CSV row reads back as the body its columns describe, POSTed.
    r = run(runner, write(tmp_path, "one.csv", CSV_TEXT.splitlines()[0] + "\n" + CSV_TEXT.splitlines()[1]),
            "--tenant", "acme", "--update")
    assert r.exit_code == 0, r.output
    imported = users_doc(scim, "ann@example.com")
    assert comparable(imported) == {**comparable(users_doc(posted, "ann@example.com")), "groups": imported["groups"]}
    assert sorted(g["display"] for g in imported["groups"]) == ["Engineering", "Everyone"]


def test_csv_columns_mapped_with_map_options(app, runner, tenant, tmp_path):
    text = 'login,mail,Home Mail,Phone,Cost,teams,Notes\nann@example.com,a@w,a@h,+1,42,"A;B",ignored\n'
    path = write(tmp_path, "hr.csv", text)
    r = run(runner, path, "--tenant", "acme")
    assert r.exit_code == 2 and "no User attribute for column(s) 'login', 'Home Mail', 'Cost', 'teams', 'Notes'" \
        in r.output, r.output
    assert state(app, tenant[0])["users"] == {}  # nothing written
    r = run(runner, path, "--tenant", "acme", "--map", "login=userName", "--map", "mail=email",
            "--map", 'home mail=emails[type eq "home"].value', "--map", f"Cost={ENTERPRISE}:costCenter",
            "--map", "teams=groups", "--map", "Notes=")
    assert r.exit_code == 0, r.output
    s = state(app, tenant[0])
    assert s["users"]["ann@example.com"][0] == {
        "userName": "ann@example.com", "emails": [{"type": "work", "value": "a@w"}, {"type": "home", "value": "a@h"}],
        "phoneNumbers": [{"type": "work", "value": "+1"}], ENTERPRISE: {"costCenter": "42"}}
    assert s["members"] == {"A": {"ann@example.com"}, "B": {"ann@example.com"}}


@pytest.mark.parametrize(("args", "message"), [
    (["--map", "login=nope"], "'nope' is not a User attribute"),
    (["--map", "login=groups[type eq \"x\"].value"], "read-only"),
    (["--map", "login=name"], "map the column to one of its sub-attributes"),
    (["--map", 'login=emails[type ne "x"].value'], "named by `eq` comparisons"),
    (["--map", "nocolumn=title"], "the header has no column 'nocolumn'"),
    (["--map", "login"], "write it as COLUMN=PATH"),
    (["--map", "login=userName", "--map", "mail=USERNAME"], "both fill userName"),
    (["--map", "login=title"], "no column fills userName"),
])
def test_column_maps_that_cannot_be_used_are_refused_before_anything_is_written(
        app, runner, tenant, tmp_path, args, message):
    r = run(runner, write(tmp_path, "hr.csv", "login,mail\nann,a@w\n"), "--tenant", "acme", *args)
    assert r.exit_code == 2 and message in r.output, r.output
    assert state(app, tenant[0])["users"] == {}


# ---- JSON and JSON Lines ---------------------------------------------------------------------

def test_json_users_and_groups_with_members_by_user_name_external_id_and_group_name(app, runner, tenant, tmp_path):
    doc = {
        "Users": [{"userName": "ann@example.com", "externalId": "okta-1"}, {"userName": "bob@example.com"}],
        "Groups": [
            {"displayName": "Backend", "members": [{"value": "okta-1"}, {"value": "BOB@example.com", "type": "User"}]},
            {"displayName": "Engineering", "externalId": "g-1", "members": [{"value": "backend", "type": "Group"}]},
            {"displayName": "Loop", "members": [{"value": "Loop"}]},
            {"displayName": "Ghosts", "members": [{"value": "nobody@example.com"}, {"value": "ann@example.com"}]},
        ],
    }
    errors = tmp_path / "errors.jsonl"
    r = run(runner, write(tmp_path, "dir.json", json.dumps(doc)), "--tenant", "acme", "--errors", errors)
    assert r.exit_code == 1, r.output
    s = state(app, tenant[0])
    assert set(s["users"]) == {"ann@example.com", "bob@example.com"}
    assert s["members"] == {"Backend": {"ann@example.com", "bob@example.com"}, "Engineering": {"Backend"},
                            "Ghosts": {"ann@example.com"}}
    problems = [json.loads(line) for line in errors.read_text().splitlines()]
    assert problems == [
        {"location": "Groups[2]", "kind": "Member", "name": "Loop",
         "error": "of group 'Loop': a group cannot be a member of itself"},
        {"location": "Groups[3]", "kind": "Member", "name": "nobody@example.com",
         "error": "of group 'Ghosts': no userName, externalId or group displayName 'nobody@example.com' in this "
                  "tenant"}]
    assert "memberships  added 4, already present 0, failed 2" in r.output
    with app.app_context():
        eng = db.session.execute(select(Group).where(Group.display_name == "Engineering")).scalar_one()
        assert eng.external_id == "g-1" and eng.doc == {"displayName": "Engineering", "externalId": "g-1"}
        db.session.remove()
    # Nesting that would close a cycle with what the tenant already holds is refused too.
    cycle = {"Groups": [{"displayName": "Backend", "members": [{"value": "Engineering"}]}]}
    r = run(runner, write(tmp_path, "cycle.json", json.dumps(cycle)), "--tenant", "acme")
    assert r.exit_code == 1 and "nesting these groups would make a cycle" in r.output, r.output


def test_json_lines_mixes_users_and_groups_and_reports_lines_that_are_not_json(app, runner, tenant, tmp_path):
    lines = [json.dumps({"userName": "ann@example.com"}), "{not json", "",
             json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Team",
                         "members": [{"value": "ann@example.com"}]}),
             json.dumps({"userName": "bob@example.com", "active": "maybe"})]
    errors = tmp_path / "errors.csv"
    r = run(runner, write(tmp_path, "dir.ndjson", "\n".join(lines) + "\n"), "--tenant", "acme", "--errors", errors)
    assert r.exit_code == 1, r.output
    assert state(app, tenant[0])["members"] == {"Team": {"ann@example.com"}}
    with errors.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(p["location"], p["kind"], p["name"]) for p in rows] == [("line 2", "User", ""),
                                                                     ("line 5", "User", "bob@example.com")]
    assert rows[0]["error"].startswith("not JSON") and rows[1]["error"] == "active must be a boolean"


# ---- failures, re-runs, --update ---------------------------------------------------------------

def test_rows_that_fail_are_reported_and_the_rest_imported_with_exit_status_1(app, runner, tenant, tmp_path):
    long = "x" * 300
    text = ("userName,email,active,groups\n"
            "ann@example.com,a@w,true,Team\n"
            ",nobody@w,true,Team\n"                     # line 3: no userName
            "bob@example.com,b@w,perhaps,Team\n"        # line 4: not a boolean
            "ANN@example.com,a2@w,true,\n"              # line 5: the same userName again
            f"{long}@example.com,c@w,true,\n"           # line 6: too long to keep
            f"dee@example.com,d@w,true,{long}\n"        # line 7: a group name too long
            "eve@example.com,e@w,true,Team,extra\n"     # line 8: more cells than the header
            "fay@example.com,f@w,no,Team\n")
    errors = tmp_path / "errors.jsonl"
    r = run(runner, write(tmp_path, "people.csv", text), "--tenant", "acme", "--errors", errors, "--batch-size", 2)
    assert r.exit_code == 1, r.output
    assert "users        created 2, updated 0, already present 0, failed 5" in r.output
    assert "line 3: User: userName is required" in r.stderr
    assert f"6 rows were not imported (all of them are in {errors})" in r.stderr
    s = state(app, tenant[0])
    assert set(s["users"]) == {"ann@example.com", "fay@example.com"}
    assert s["users"]["fay@example.com"][0]["active"] is False
    assert s["members"] == {"Team": {"ann@example.com", "fay@example.com"}}
    problems = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [(p["location"], p["name"]) for p in problems] == [
        ("line 3", ""), ("line 4", "bob@example.com"), ("line 5", "ANN@example.com"),
        ("line 6", f"{long}@example.com"), ("line 7", "dee@example.com"), ("line 8", "")]
    assert problems[2]["error"] == "userName is also on line 2; one user each"
    assert problems[3]["error"] == "userName is 312 characters long; at most 256 are kept"
    assert problems[4]["error"].startswith(f"group '{long}': displayName is 300 characters long")
    assert problems[5]["error"].startswith("5 cells under a header of 4 columns")


def test_a_second_run_skips_everything_and_changes_nothing(app, runner, tenant, tmp_path):
    path = write(tmp_path, "people.csv", CSV_TEXT)
    assert run(runner, path, "--tenant", "acme").exit_code == 0
    before = state(app, tenant[0])
    for extra in ([], ["--update"]):
        r = run(runner, path, "--tenant", "acme", *extra)
        assert r.exit_code == 0, r.output
        assert "users        created 0, updated 0, already present 3, failed 0" in r.output
        assert "groups       created 0" in r.output and "memberships  added 0, already present 4" in r.output
        assert state(app, tenant[0]) == before  # same documents, versions, revision, change log and history


def test_update_replaces_documents_that_differ_and_adds_new_memberships(app, runner, scim, tenant, tmp_path):
    assert run(runner, write(tmp_path, "v1.csv", CSV_TEXT), "--tenant", "acme").exit_code == 0
    before = state(app, tenant[0])
    v2 = CSV_TEXT.replace("Engineer,R&D", "Staff Engineer,R&D").replace("Sales; everyone", "Sales; everyone;Ops")
    path = write(tmp_path, "v2.csv", v2)
    r = run(runner, path, "--tenant", "acme")  # without --update: documents stay, memberships are added
    assert r.exit_code == 0 and "created 0, updated 0, already present 3" in r.output, r.output
    assert "memberships  added 1, already present 4" in r.output
    s = state(app, tenant[0])
    assert s["users"]["ann@example.com"] == before["users"]["ann@example.com"]
    assert s["members"]["Ops"] == {"bob@example.com"} and s["revision"] == before["revision"] + 1
    r = run(runner, path, "--tenant", "acme", "--update")
    assert r.exit_code == 0 and "created 0, updated 1, already present 2" in r.output, r.output
    after = state(app, tenant[0])
    doc, version = after["users"]["ann@example.com"]
    assert doc["title"] == "Staff Engineer" and version == 2
    assert after["users"]["bob@example.com"] == before["users"]["bob@example.com"]
    assert after["revision"] == s["revision"] + 1
    assert users_doc(scim, "ann@example.com")["meta"]["version"] == 'W/"2"'


def test_groups_that_gain_members_get_a_new_version(app, runner, scim, tenant, tmp_path):
    gid = scim_group(scim, "Team")
    etag = scim.get(f"/Groups/{gid}").get_json()["meta"]["version"]
    r = run(runner, write(tmp_path, "p.csv", "userName,groups\nann@example.com,team\n"), "--tenant", "acme")
    assert r.exit_code == 0 and "groups       created 0, updated 0, already present 0" in r.output, r.output
    group = scim.get(f"/Groups/{gid}?excludedAttributes=externalId").get_json()
    assert group["meta"]["version"] != etag and [m["type"] for m in group["members"]] == ["User"]


def test_batches_are_transactions_of_their_own(app, runner, tenant, tmp_path):
    text = "userName,groups\n" + "".join(f"u{i}@example.com,G{i % 2}\n" for i in range(5))
    start = state(app, tenant[0])
    r = run(runner, write(tmp_path, "p.csv", text), "--tenant", "acme", "--batch-size", 2)
    assert r.exit_code == 0 and "3 transactions" in r.output, r.output
    s = state(app, tenant[0])
    assert s["revision"] == start["revision"] + 3 and s["logged"] == start["logged"] + 3
    with app.app_context():
        targets = [c.target for c in db.session.execute(select(AdminChange).where(
            AdminChange.action == "directory.import").order_by(AdminChange.id)).scalars()]
        db.session.remove()
    assert targets == ["p.csv line 2 to line 3", "p.csv line 4 to line 5", "p.csv line 6"]


# ---- the tenant, the engine ---------------------------------------------------------------------

def test_tenants_are_isolated(app, runner, client, tenant, tmp_path):
    other_id, other_token = make_tenant(app, "globex")
    path = write(tmp_path, "people.csv", CSV_TEXT)
    assert run(runner, path, "--tenant", "acme").exit_code == 0
    assert state(app, other_id)["users"] == {}
    r = run(runner, path, "--tenant", "globex")  # the same userNames and groups: new rows of globex's own
    assert r.exit_code == 0 and "users        created 3" in r.output and "groups       created 3" in r.output
    acme, globex = state(app, tenant[0]), state(app, other_id)
    assert acme["members"] == globex["members"]
    with app.app_context():
        owners = db.session.execute(select(User.tenant_id, func.count()).group_by(User.tenant_id)).all()
        db.session.remove()
    assert dict(owners) == {tenant[0]: 3, other_id: 3}
    listed = SCIMClient(client, other_token).get("/Users").get_json()
    assert listed["totalResults"] == 3
    assert {u["id"] for u in listed["Resources"]}.isdisjoint(
        {u["id"] for u in SCIMClient(client, tenant[1]).get("/Users").get_json()["Resources"]})


def test_a_check_sees_imported_memberships_of_a_mapped_group(app, runner, api, scim, tmp_path):
    scim_group(scim, "Engineering")
    assert api.post("/roles", {"key": "editor", "name": "Editor", "permissions": ["document:edit"]}).status_code == 201
    assert api.post("/group-mappings", {"group": "Engineering", "role": "editor"}).status_code == 201
    assert not allowed(api, "ann@example.com", "edit", "document:1")  # the engine has loaded the tenant
    r = run(runner, write(tmp_path, "people.csv", CSV_TEXT), "--tenant", "acme")
    assert r.exit_code == 0, r.output
    assert allowed(api, "ann@example.com", "edit", "document:1")  # caught up: user, membership
    assert not allowed(api, "bob@example.com", "edit", "document:1")


def test_input_that_cannot_be_used_is_exit_status_2(app, runner, tenant, tmp_path):
    path = write(tmp_path, "people.csv", CSV_TEXT)
    r = run(runner, path, "--tenant", "nobody")
    assert r.exit_code == 2 and "no tenant 'nobody'; create it with `scim-authz tenants create nobody`" in r.output
    r = run(runner, tmp_path / "missing.csv", "--tenant", "acme")
    assert r.exit_code == 2 and "no file" in r.output
    r = run(runner, write(tmp_path, "people.txt", CSV_TEXT), "--tenant", "acme")
    assert r.exit_code == 2 and "give --format csv|json|jsonl" in r.output
    assert run(runner, write(tmp_path, "people.txt", CSV_TEXT), "--tenant", "acme", "--format", "csv").exit_code == 0
    r = run(runner, write(tmp_path, "bad.json", "{"), "--tenant", "acme")
    assert r.exit_code == 2 and "is not JSON" in r.output
    r = run(runner, write(tmp_path, "bad.json", '{"users": 3}'), "--tenant", "acme")
    assert r.exit_code == 2 and "must be a list of SCIM documents" in r.output
    r = run(runner, write(tmp_path, "empty.csv", ""), "--tenant", "acme")
    assert r.exit_code == 2 and "is empty" in r.output
    r = run(runner, path, "--tenant", "acme", "--delimiter", ";;")
    assert r.exit_code == 2 and "the delimiter is one character (or tab), not ';;'" in r.output
    r = run(runner, write(tmp_path, "u.json", "[]"), "--tenant", "acme", "--map", "a=b")
    assert r.exit_code == 2 and "--map applies to CSV files only" in r.output
    r = run(runner, path, "--tenant", "acme", "--errors", tmp_path / "no-dir" / "e.csv")
    assert r.exit_code == 2 and "cannot write" in r.output
    assert runner.invoke(args=["import", path]).exit_code == 2  # --tenant is required
    assert len(state(app, tenant[0])["users"]) == 3  # from the one run that could read its input


def test_a_group_gaining_many_members_in_a_batch_is_one_members_change(app, runner, api, scim, tenant, tmp_path,
                                                                       monkeypatch):
    from scim_authz.scim.bulk_import import writer
    monkeypatch.setattr(writer, "MEMBER_CHANGES_LOGGED", 2)  # (the directory's is 1,000)
    scim_group(scim, "Big")
    assert api.post("/roles", {"key": "editor", "name": "Editor", "permissions": ["document:edit"]}).status_code == 201
    assert api.post("/group-mappings", {"group": "Big", "role": "editor"}).status_code == 201
    assert not allowed(api, "u0@example.com", "edit", "document:1")
    text = "userName,groups\nu0@example.com,Big;Small\nu1@example.com,Big\nu2@example.com,Big\nv@example.com,Small\n"
    assert run(runner, write(tmp_path, "p.csv", text), "--tenant", "acme").exit_code == 0
    with app.app_context():
        rev = db.session.get(Tenant, tenant[0]).revision
        kinds = db.session.execute(select(Change.kind, func.count()).where(
            Change.tenant_id == tenant[0], Change.revision == rev).group_by(Change.kind)).all()
        db.session.remove()
    assert dict(kinds) == {"user": 4, "group": 1, "members": 1, "member": 2}  # Big: 3 > 2; Small: one each
    assert all(allowed(api, f"u{i}@example.com", "edit", "document:1") for i in range(3))
    assert not allowed(api, "v@example.com", "edit", "document:1")


def test_update_replaces_a_group_document_that_differs(app, runner, scim, tenant, tmp_path):
    doc = {"Users": [{"userName": "ann@example.com"}],
           "Groups": [{"displayName": "Team", "externalId": "t-1", "members": [{"value": "ann@example.com"}]}]}
    assert run(runner, write(tmp_path, "a.json", json.dumps(doc)), "--tenant", "acme").exit_code == 0
    doc["Groups"][0]["externalId"] = "t-2"
    path = write(tmp_path, "b.json", json.dumps(doc))
    r = run(runner, path, "--tenant", "acme")
    assert "groups       created 0, updated 0, already present 1" in r.output, r.output
    r = run(runner, path, "--tenant", "acme", "--update")
    assert "groups       created 0, updated 1, already present 0" in r.output, r.output
    assert "memberships  added 0, already present 1" in r.output
    [group] = scim.get('/Groups?filter=displayName eq "team"').get_json()["Resources"]
    assert group["externalId"] == "t-2" and len(group["members"]) == 1
