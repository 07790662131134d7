"""/v1/schema: validation without writing, versions written only when valid, reading versions, and
checks pinned to a version."""
from __future__ import annotations

from scim_authz.db.models import AuthzSchema, Change
from tests.api._api_helpers import check, count, error, revision, rows, scim_user

V1 = "entity document {\n  relation owner @user\n  relation viewer @user\n  permission view = owner\n}\n"
V2 = "entity document {\n  relation owner @user\n  relation viewer @user\n  permission view = owner or viewer\n}\n"
BAD = "entity doc {\n  relation owner @usr\n}"


def test_validate_reports_line_and_column_and_writes_nothing(app, api, tenant):
    rev = revision(app, tenant[0])
    r = api.post("/schema/validate", {"source": BAD})
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"valid": False, "errors": [
        {"line": 2, "column": 19, "message": "unknown entity type 'usr' in '@usr' (did you mean 'user'?)"}]}
    r = api.post("/schema/validate", {"source": V1})
    assert r.get_json() == {"valid": True, "errors": []}
    assert count(app, AuthzSchema, tenant_id=tenant[0]) == 0
    assert revision(app, tenant[0]) == rev
    error(api.get("/schema"), 404, "not_found")


def test_validate_reports_every_problem(api):
    src = "entity a {\n  relation x @nope\n  permission p = y\n}"
    errs = api.post("/schema/validate", {"source": src}).get_json()["errors"]
    assert len(errs) == 2
    assert [e["line"] for e in errs] == [2, 3]
    assert all(isinstance(e["column"], int) and e["column"] >= 1 for e in errs)


def test_validate_needs_a_source(api):
    err = error(api.post("/schema/validate", {}), 400, "invalid_request")
    assert err["details"] == {"source": ["Missing data for required field."]}


def test_invalid_schema_is_400_invalid_schema_and_no_version(app, api, tenant):
    rev = revision(app, tenant[0])
    err = error(api.post("/schema", {"source": BAD}), 400, "invalid_schema")
    assert err["details"] == [
        {"line": 2, "column": 19, "message": "unknown entity type 'usr' in '@usr' (did you mean 'user'?)"}]
    assert "nothing was written" in err["message"]
    assert count(app, AuthzSchema, tenant_id=tenant[0]) == 0
    assert count(app, Change, tenant_id=tenant[0], kind="schema") == 0
    assert revision(app, tenant[0]) == rev


def test_versions_count_up_and_can_be_read(app, api, tenant):
    r = api.post("/schema", {"source": V1})
    assert r.status_code == 201, r.get_json()
    s1 = r.get_json()
    assert s1["schema"]["version"] == 1 and s1["schema"]["source"] == V1
    assert s1["schema"]["entities"] == ["document", "group", "user"]
    assert s1["schema"]["created_by"].startswith("key sk_")
    assert s1["revision"] == revision(app, tenant[0])
    error(api.post("/schema", {"source": BAD}), 400, "invalid_schema")
    r = api.post("/schema", {"source": V2})
    assert r.status_code == 201
    assert r.get_json()["schema"]["version"] == 2
    assert [x.version for x in rows(app, AuthzSchema, tenant_id=tenant[0])] == [1, 2]

    assert api.get("/schema").get_json()["schema"]["version"] == 2
    assert api.get("/schema").get_json()["schema"]["source"] == V2
    got = api.get("/schema?version=1").get_json()["schema"]
    assert got["version"] == 1 and got["source"] == V1
    error(api.get("/schema?version=3"), 404, "not_found")
    versions = api.get("/schema/versions").get_json()["versions"]
    assert [v["version"] for v in versions] == [2, 1]
    assert all("source" not in v for v in versions)


def test_a_check_with_schema_version_uses_that_version(api, scim):
    uid = scim_user(scim, "ann")
    api.post("/schema", {"source": V1})
    api.post("/schema", {"source": V2})
    r = api.post("/relationships", {"relationships": [
        {"resource": "document:1", "relation": "viewer", "subject": f"user:{uid}"}]})
    assert r.status_code == 200, r.get_json()
    assert check(api, uid, "view", "document:1")["allowed"] is True
    assert check(api, uid, "view", "document:1", schema_version=2)["allowed"] is True
    d = check(api, uid, "view", "document:1", schema_version=1, explain=True)
    assert d["allowed"] is False
    assert "document.view does not hold" in d["explanation"]
    d = check(api, uid, "view", "document:1", schema_version=9, explain=True)
    assert d["allowed"] is False and "schema version 9 does not exist" in d["explanation"]
    error(api.post("/check", {"user": uid, "action": "view", "resource": "document:1", "schema_version": 0}), 400)


def test_the_newest_schema_is_in_force_for_checks(api, scim):
    uid = scim_user(scim, "ann")
    api.post("/schema", {"source": V2})
    api.post("/relationships", {"relationships": [
        {"resource": "document:1", "relation": "viewer", "subject": f"user:{uid}"}]})
    assert check(api, uid, "view", "document:1")["allowed"] is True
    assert api.post("/schema", {"source": V1}).get_json()["schema"]["version"] == 2
    assert check(api, uid, "view", "document:1")["allowed"] is False
