"""/v1/policy with an API key: export (YAML by default, JSON when asked), diff and apply of a file
sent as YAML or JSON, `?dry_run=true`; an invalid file is a 400 naming each problem's line."""
from __future__ import annotations

import json

import yaml

from tests.api._api_helpers import error, scim_group, scim_user
from tests.conftest import SCIMClient
from tests.governance._policy import EXAMPLE, SMALL, admin_changes, example_directory, holdings


def post_yaml(api, path: str, text: str):
    return api.post(path, raw=text.encode(), headers={"Content-Type": "application/yaml"})


def test_export_is_yaml_by_default_and_json_when_asked(api, client, tenant):
    example_directory(SCIMClient(client, tenant[1]))
    assert post_yaml(api, "/policy/apply", EXAMPLE.read_text()).status_code == 200
    r = api.get("/policy")
    assert r.status_code == 200 and r.mimetype == "application/yaml"
    text = r.get_data(as_text=True)
    assert text.startswith("# scim-authz policy of tenant acme at revision")
    doc = yaml.safe_load(text)
    assert [role["key"] for role in doc["roles"]] == ["admin", "editor", "finance-reader", "maintainer", "viewer"]
    as_json = api.get("/policy", headers={"Accept": "application/json"})
    assert as_json.mimetype == "application/json" and as_json.get_json() == doc
    only = yaml.safe_load(api.get("/policy?sections=roles,schema").get_data(as_text=True))
    assert set(only) == {"version", "roles", "schema"}
    error(api.get("/policy?sections=roles,secrets"), 400, "invalid_request")


def test_diff_then_apply_as_yaml_then_again(app, api, client, tenant):
    tid = tenant[0]
    example_directory(SCIMClient(client, tenant[1]))
    before = holdings(app, tid)
    r = post_yaml(api, "/policy/diff", EXAMPLE.read_text())
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["counts"]["added"] == {"role": 5, "mapping": 4, "assignment": 1, "schema": 1, "relationship": 2,
                                       "resource": 1}
    assert {"op": "+", "kind": "mapping", "name": "Engineering -> editor", "details": []} in body["changes"]
    assert "+ role admin" in body["text"] and body["revision"] == before["revision"]
    assert holdings(app, tid) == before

    r = post_yaml(api, "/policy/apply", EXAMPLE.read_text())
    assert r.status_code == 200, r.get_json()
    done = r.get_json()
    assert done["applied"] is True and done["dry_run"] is False and done["revision"] == before["revision"] + 1
    assert done["summary"].startswith("5 roles added")
    (entry,) = admin_changes(app, tid, "policy.apply")
    assert entry.target == "api" and entry.after["revision"] == done["revision"]

    again = post_yaml(api, "/policy/apply", EXAMPLE.read_text()).get_json()
    assert again["applied"] is False and again["changes"] == [] and again["revision"] == done["revision"]
    assert len(admin_changes(app, tid, "policy.apply")) == 1
    # a check that asks for the apply's revision sees it
    ann = scim_user(SCIMClient(client, tenant[1]), "root-2@acme.example")
    check = api.post("/check", {"user": "root@acme.example", "action": "delete", "resource": "x:1",
                                "consistency": {"at_least": done["revision"]}}).get_json()
    assert check["allowed"] is True and ann


def test_apply_as_json_and_a_dry_run(app, api, client, tenant):
    tid = tenant[0]
    scim_group(SCIMClient(client, tenant[1]), "Engineering")
    doc = yaml.safe_load(SMALL)
    before = holdings(app, tid)
    dry = api.post("/policy/apply?dry_run=true", doc)
    assert dry.status_code == 200, dry.get_json()
    assert dry.get_json()["applied"] is False and dry.get_json()["dry_run"] is True
    assert dry.get_json()["revision"] == before["revision"] + 1  # what the apply would make
    assert holdings(app, tid) == before
    r = api.post("/policy/apply", json.loads(json.dumps(doc)))
    assert r.status_code == 200 and r.get_json()["applied"] is True
    error(api.post("/policy/apply?dry_run=perhaps", doc), 400, "invalid_request")


def test_an_invalid_file_is_a_400_naming_each_line(app, api, tenant):
    before = holdings(app, tenant[0])
    text = "version: 1\nroles:\n  - key: a\n    extends: [ghost]\n    permissions: [x:sign-off]\n"
    for path in ("/policy/diff", "/policy/apply"):
        err = error(post_yaml(api, path, text), 400, "invalid_policy")
        (finding,) = err["details"]
        assert (finding["line"], finding["path"]) == (5, "roles[0].permissions[0]")
        assert finding["message"].startswith("the action 'sign-off' can never be checked")
    text = text.replace("[x:sign-off]", "[x:sign_off]")
    for path in ("/policy/diff", "/policy/apply"):
        err = error(post_yaml(api, path, text), 400, "invalid_policy")
        assert err["details"] == [{"line": 4, "path": "roles[0].extends[0]", "message": "no role 'ghost' in this file"}]
    err = error(api.post("/policy/apply", {"version": 1, "roles": [{"key": "a", "extends": ["ghost"]}]}), 400,
                "invalid_policy")
    assert err["details"] == [{"line": None, "path": "roles[0].extends[0]", "message": "no role 'ghost' in this file"}]
    err = error(post_yaml(api, "/policy/apply", SMALL), 400, "unresolved_references")
    assert err["details"][0]["line"] == 12 and "no group with displayName 'Engineering'" in err["details"][0]["message"]
    error(post_yaml(api, "/policy/apply", "version: 1\nroles: [\n"), 400, "invalid_policy")
    error(api.post("/policy/apply", raw=b"version: 1", headers={"Content-Type": "text/plain"}), 400)
    error(api.post("/policy/apply", raw=b"version: 1\nroles: [\xff]\n", headers={"Content-Type": "application/yaml"}),
          400)
    assert holdings(app, tenant[0]) == before


def test_hostile_yaml_is_refused_in_the_errors_shape(app, api, tenant):
    before = holdings(app, tenant[0])
    laughs = "version: 1\nroles: []\na: &a [x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"
    bodies = [laughs, "version: 1\nroles: []\nx: " + "[" * 500 + "]" * 500 + "\n",
              "version: 1\nroles: []\nresources: [{type: a, id: b, attributes: {x: \"\\0\"}}]\n",
              "version: 1\nroles: []\nresources: [{type: a, id: b, attributes: {x: 99999999999999999999999}}]\n",
              "version: 1\nroles: []\nx: !!python/object/apply:os.system [echo]\n", "", "- a\n- b\n"]
    for body in bodies:
        r = post_yaml(api, "/policy/apply", body)
        assert r.status_code == 400, (body[:40], r.get_data(as_text=True))
        assert r.get_json()["error"]["code"] == "invalid_policy"
    assert holdings(app, tenant[0]) == before


def test_another_tenants_key_sees_and_changes_only_its_own(app, api, other_api, client, tenant):
    scim_group(SCIMClient(client, tenant[1]), "Engineering")
    assert post_yaml(api, "/policy/apply", SMALL).status_code == 200
    acme = holdings(app, tenant[0])
    theirs = yaml.safe_load(other_api.get("/policy").get_data(as_text=True))
    assert theirs["roles"] == [] and "schema" not in theirs
    assert other_api.post("/policy/apply", {"version": 1, "roles": []}).status_code == 200
    assert holdings(app, tenant[0]) == acme
