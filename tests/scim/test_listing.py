"""Listing: RFC 7644 §3.4.2 filtering, sorting, pagination, projection, and §3.4.3 POST .search."""
from __future__ import annotations

import pytest


@pytest.fixture
def people(scim):
    names = ["carol", "alice", "dave", "bob", "erin"]
    ids = {}
    for i, n in enumerate(names):
        r = scim.post("/Users", {"userName": n, "title": "Engineer" if i % 2 else None, "displayName": n.upper(),
                                 "emails": [{"value": f"{n}@example.com", "type": "work"}]})
        ids[n] = r.get_json(force=True)["id"]
    return names, ids


def names_of(body):
    return [r["userName"] for r in body["Resources"]]


def test_list_response_shape_and_integers(scim, people):
    body = scim.get("/Users").get_json(force=True)
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert body["totalResults"] == 5 and body["startIndex"] == 1 and body["itemsPerPage"] == 5
    assert names_of(body) == people[0]  # creation order


def test_pagination_is_stable_and_complete(scim, people):
    """RFC 7644 §3.4.2.4."""
    seen = []
    for start in (1, 3, 5):
        body = scim.get(f"/Users?startIndex={start}&count=2").get_json(force=True)
        assert body["totalResults"] == 5 and body["startIndex"] == start
        seen += names_of(body)
    assert seen == people[0]


@pytest.mark.parametrize("query,expected", [
    ("startIndex=0&count=2", ["carol", "alice"]),
    ("startIndex=9", []),
    ("count=0", []),
    ("count=-3", []),
])
def test_pagination_edges(scim, people, query, expected):
    body = scim.get(f"/Users?{query}").get_json(force=True)
    assert names_of(body) == expected and body["totalResults"] == 5


def test_bad_count_is_invalid_value(scim):
    r = scim.get("/Users?count=lots")
    assert r.status_code == 400 and r.get_json(force=True)["scimType"] == "invalidValue"


@pytest.mark.parametrize("sort,expected", [
    ("sortBy=userName", ["alice", "bob", "carol", "dave", "erin"]),
    ("sortBy=userName&sortOrder=descending", ["erin", "dave", "carol", "bob", "alice"]),
    ("sortBy=displayName&sortOrder=ascending", ["alice", "bob", "carol", "dave", "erin"]),
])
def test_sort(scim, people, sort, expected):
    """RFC 7644 §3.4.2.3."""
    assert names_of(scim.get(f"/Users?{sort}").get_json(force=True)) == expected


def test_filter_and_page_together(scim, people):
    body = scim.get('/Users?filter=title pr&sortBy=userName').get_json(force=True)
    assert names_of(body) == ["alice", "bob"] and body["totalResults"] == 2


@pytest.mark.parametrize("flt", ['nosuch eq "x"', 'userName eq "a" or nosuch eq "b"', 'userName eq',
                                 'name.givenNam eq "x"'])
def test_invalid_filter_is_400(scim, people, flt):
    r = scim.get(f"/Users?filter={flt}")
    assert r.status_code == 400 and r.get_json(force=True)["scimType"] == "invalidFilter"


def test_attributes_and_excluded_attributes(scim, people):
    """RFC 7644 §3.4.2.5: id and schemas are always returned."""
    body = scim.get("/Users?attributes=userName,emails.value&count=1").get_json(force=True)
    r = body["Resources"][0]
    assert set(r) == {"id", "schemas", "userName", "emails"}
    assert r["emails"] == [{"value": "carol@example.com"}]
    body = scim.get("/Users?excludedAttributes=emails,meta&count=1").get_json(force=True)
    r = body["Resources"][0]
    assert "emails" not in r and "meta" not in r and r["userName"] == "carol"
    one = scim.get(f"/Users/{people[1]['alice']}?attributes=displayName").get_json(force=True)
    assert set(one) == {"id", "schemas", "displayName"}


def test_post_search(scim, people):
    """RFC 7644 §3.4.3."""
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'emails.value ew "@example.com" and not (userName eq "bob")',
            "attributes": ["userName"], "sortBy": "userName", "startIndex": 1, "count": 2}
    r = scim.post("/Users/.search", body)
    assert r.status_code == 200
    got = r.get_json(force=True)
    assert got["totalResults"] == 4 and names_of(got) == ["alice", "carol"]


def test_root_search_spans_users_and_groups(scim, people):
    scim.post("/Groups", {"displayName": "Admins"})
    got = scim.post("/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                  "count": 10}).get_json(force=True)
    assert got["totalResults"] == 6
    assert [r["meta"]["resourceType"] for r in got["Resources"]].count("Group") == 1
    got = scim.post("/.search", {"filter": 'displayName sw "a"'}).get_json(force=True)
    assert {r.get("displayName") for r in got["Resources"]} == {"Admins", "ALICE"}
