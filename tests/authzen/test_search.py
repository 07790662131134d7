"""AuthZEN 1.0 search: subjects, resources and actions a decision would permit, through groups
(transitively), by token pages; an unknown type or subject finds nothing; an input entity without
its id is a 400."""
from __future__ import annotations

import pytest

from tests.api._api_helpers import scim_group, scim_user

SCHEMA = "entity document {\n  relation owner @user\n  permission view = owner\n}\n"


@pytest.fixture
def world(scim, api):
    """ann (externalId 00u1ann) edits every document through nested groups (Platform in Engineering);
    bob owns document:2 (schema: owners view); cy has nothing. Documents 1-3 exist."""
    ann = scim_user(scim, "ann@example.com", externalId="00u1ann")
    bob = scim_user(scim, "bob@example.com")
    scim_user(scim, "cy@example.com")
    platform = scim_group(scim, "Platform", [ann])
    scim_group(scim, "Engineering", [platform])
    api.post("/roles", {"key": "editor", "permissions": ["document:edit", "document:view", "document:*"]})
    api.post("/group-mappings", {"group": "Engineering", "role": "editor"})
    api.post("/schema", {"source": SCHEMA})
    rels = [{"resource": f"document:{n}", "relation": "owner", "subject": f"user:{bob if n == 2 else ann}"}
            for n in (1, 2, 3)]
    assert api.post("/relationships", {"relationships": rels}).status_code in (200, 201)
    return {"ann": ann, "bob": bob}


def test_subject_search_names_users_by_external_id_else_user_name(authzen, world):
    r = authzen.post("/search/subject", {"subject": {"type": "user"}, "action": {"name": "view"},
                                         "resource": {"type": "document", "id": "2"}})
    assert r.status_code == 200
    assert r.get_json() == {"results": [{"type": "user", "id": "00u1ann"}, {"type": "user", "id": "bob@example.com"}]}
    r = authzen.post("/search/subject", {"subject": {"type": "user", "id": "ignored"}, "action": {"name": "edit"},
                                         "resource": {"type": "document", "id": "2"}})
    assert r.get_json()["results"] == [{"type": "user", "id": "00u1ann"}]


def test_resource_search(authzen, world):
    body = {"subject": {"type": "user", "id": "bob@example.com"}, "action": {"name": "view"},
            "resource": {"type": "document"}}
    assert authzen.post("/search/resource", body).get_json() == {"results": [{"type": "document", "id": "2"}]}
    body["subject"]["id"] = "00u1ann"
    assert [x["id"] for x in authzen.post("/search/resource", body).get_json()["results"]] == ["1", "2", "3"]


def test_action_search_names_declared_actions_only(authzen, world):
    body = {"subject": {"type": "user", "id": "bob@example.com"}, "resource": {"type": "document", "id": "2"}}
    assert authzen.post("/search/action", body).get_json() == {"results": [{"name": "view"}]}  # not `owner`
    body["subject"]["id"] = "ann@example.com"
    assert authzen.post("/search/action", body).get_json() == {"results": [{"name": "edit"}, {"name": "view"}]}


def test_pages_by_token(authzen, world):
    body = {"subject": {"type": "user", "id": "00u1ann"}, "action": {"name": "edit"},
            "resource": {"type": "document"}, "page": {"limit": 2}}
    first = authzen.post("/search/resource", body).get_json()
    assert first["page"]["count"] == 2 and first["page"]["total"] == 3 and first["page"]["next_token"]
    body["page"] = {"limit": 2, "token": first["page"]["next_token"]}
    last = authzen.post("/search/resource", body).get_json()
    assert last["page"] == {"next_token": "", "count": 1, "total": 3}
    assert [x["id"] for x in first["results"] + last["results"]] == ["1", "2", "3"]
    body["page"] = {"token": "%%%"}
    assert authzen.post("/search/resource", body).status_code == 400


def test_unknown_types_and_subjects_find_nothing(authzen, world):
    assert authzen.post("/search/subject", {"subject": {"type": "spaceship"}, "action": {"name": "view"},
                                            "resource": {"type": "document", "id": "2"}}).get_json() == {"results": []}
    assert authzen.post("/search/action", {"subject": {"type": "user", "id": "nobody"},
                                           "resource": {"type": "document", "id": "2"}}).get_json() == {"results": []}
    assert authzen.post("/search/resource", {"subject": {"type": "user", "id": "ann@example.com"},
                                             "action": {"name": "edit"}, "resource": {"type": "my-doc"}}
                        ).get_json() == {"results": []}


@pytest.mark.parametrize("path, body", [
    ("/search/subject", {"subject": {"type": "user"}, "action": {"name": "view"}, "resource": {"type": "document"}}),
    ("/search/resource", {"subject": {"type": "user"}, "action": {"name": "view"}, "resource": {"type": "document"}}),
    ("/search/action", {"subject": {"type": "user"}, "resource": {"type": "document", "id": "1"}}),
    ("/search/subject", {"subject": {"type": "user"}, "resource": {"type": "document", "id": "1"}}),
    ("/search/action", {"subject": {"type": "user", "id": "a"}}),
    ("/search/resource", {"subject": {"type": "user", "id": "a"}, "action": {"name": "view"},
                          "resource": {"type": "document"}, "page": {"limit": -1}}),
])
def test_a_missing_input_is_400(authzen, path, body):
    assert authzen.post(path, body).status_code == 400
