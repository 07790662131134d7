"""The OpenID AuthZEN interop scenarios that search (Search: 60 subject, 18 resource and 120 action
searches; IdP: 6 resource searches for what a user may delete), run against a live server whose
policy is written the way a tenant would write it: the six users provisioned over SCIM (userName
the id the scenario names them by, which is how search results name them too), a SCIM group per
department, an IdP group "manager" mapped to a role of that name, and a relationship schema over
/v1 whose records have an owner and a department, loaded as relationships:

    view   = owner or dept.member or tenant.manager
    edit   = owner or (dept.member and tenant.manager)
    delete = owner

Judged as the official runner judges: each result set exactly, order aside. Answers are read to
their last page (the official runner reads only the first; none of these has a second).
Read in place from the interop folder (see _authzen_helpers.INTEROP); skipped without it.
"""
from __future__ import annotations

import json

import httpx
import pytest

from tests.api._api_helpers import scim_group, scim_user
from tests.authzen._authzen_helpers import INTEROP
from tests.integration.live import serving

KINDS = {"subject": 60, "resource": 18, "action": 120}
SEARCHES = {kind: INTEROP / "search" / kind / "results.json" for kind in KINDS}
USERS = INTEROP / "search" / "data" / "users.json"
RECORDS = INTEROP / "search" / "data" / "records.json"
IDP = INTEROP / "idp" / "results.json"
IDP_RECORDS = INTEROP / "idp" / "data" / "records.json"
pytestmark = pytest.mark.skipif(
    not all(f.is_file() for f in [*SEARCHES.values(), USERS, RECORDS, IDP, IDP_RECORDS]),
    reason=f"AuthZEN interop data not found at {INTEROP}")

SCHEMA = """entity record {
  relation owner @user
  relation dept @group
  permission view = owner or dept.member or tenant.manager
  permission edit = owner or (dept.member and tenant.manager)
  permission delete = owner
}
"""


def _fixture(scim, api, records: list[dict]) -> None:
    """The users and their departments as an IdP would push them; the manager role mapped to the
    IdP's group; the schema; each record's owner and department as relationships."""
    users = json.loads(USERS.read_text())
    ids = {u["id"]: scim_user(scim, u["id"]) for u in users}
    departments = {d: scim_group(scim, d, [ids[u["id"]] for u in users if u["department"] == d])
                   for d in sorted({u["department"] for u in users} | {r["department"] for r in records})}
    scim_group(scim, "manager", [ids[u["id"]] for u in users if u["role"] == "manager"])
    assert api.post("/roles", {"key": "manager"}).status_code == 201
    assert api.post("/group-mappings", {"group": "manager", "role": "manager"}).status_code == 201
    r = api.post("/schema", {"source": SCHEMA})
    assert r.status_code == 201, r.get_data(as_text=True)
    rels = [rel for rec in records for rel in (
        {"resource": f"record:{rec['id']}", "relation": "owner", "subject": f"user:{ids[rec['owner']]}"},
        {"resource": f"record:{rec['id']}", "relation": "dept", "subject": f"group:{departments[rec['department']]}"})]
    r = api.post("/relationships", {"relationships": rels})
    assert r.status_code in (200, 201), r.get_data(as_text=True)


def _canonical(results) -> list[str]:
    """A result set as the official runner compares it: nulls dropped, order aside, every key kept."""
    return sorted(json.dumps({k: v for k, v in r.items() if v is not None}, sort_keys=True)
                  for r in results if r is not None)


def _search(http: httpx.Client, kind: str, request: dict) -> tuple[list | None, int, str]:
    """Every result, to the last page; how many pages; what went wrong (or "")."""
    results, token = [], None
    for pages in range(1, 101):
        page = {"page": {**request.get("page", {}), "token": token}} if token else {}
        r = http.post(f"/access/v1/search/{kind}", json={**request, **page})
        body = r.json() if r.status_code == 200 else {}
        if not isinstance(body.get("results"), list):
            return None, pages, f"{r.status_code} {r.text[:200]}"
        results += body["results"]
        token = (body.get("page") or {}).get("next_token")
        if not token:
            return results, pages, ""
    return None, pages, "still a next page after 100"


def _run(app, api, runs: list[tuple[str, dict]]) -> tuple[dict[str, int], list[str], int]:
    """Result sets right per kind, what went wrong, and how many answers came in more than one page."""
    right, failures, paged = dict.fromkeys(KINDS, 0), [], 0
    with serving(app) as origin, httpx.Client(base_url=origin, timeout=10,
                                              headers={"Authorization": f"Bearer {api.key}"}) as http:
        for kind, case in runs:
            got, pages, problem = _search(http, kind, case["request"])
            paged += pages > 1
            if not problem and _canonical(got) == _canonical(case["expected"]["results"]):
                right[kind] += 1
            else:
                failures.append(f"{kind} {json.dumps(case['request'])}: {problem or got!r}, "
                                f"expected {case['expected']['results']!r}")
    return right, failures, paged


def test_the_search_scenario(app, scim, api, capsys):
    _fixture(scim, api, json.loads(RECORDS.read_text()))
    runs = [(kind, case) for kind, path in SEARCHES.items() for case in json.loads(path.read_text())["evaluation"]]
    right, failures, paged = _run(app, api, runs)
    with capsys.disabled():
        print(f"\nAuthZEN interop, Search: {sum(right.values())} of 198 result sets right "
              f"({paged} answers paginated)")
        for kind, n in KINDS.items():
            print(f"  {kind:8s} {right[kind]} of {n}")
        for f in failures:
            print(f"  {f[:400]}")
    assert failures == [] and right == KINDS


def test_the_idp_scenario(app, scim, api, capsys):
    """Only ownership matters here: the IdP's own records name the owners, the search data's the
    departments (the two agree on every owner)."""
    departments = {str(r["id"]): r["department"] for r in json.loads(RECORDS.read_text())}
    records = [{**r, "department": departments[str(r["id"])]} for r in json.loads(IDP_RECORDS.read_text())]
    _fixture(scim, api, records)
    right, failures, paged = _run(app, api, [("resource", c) for c in json.loads(IDP.read_text())["search"]])
    with capsys.disabled():
        print(f"\nAuthZEN interop, IdP: {right['resource']} of 6 result sets right ({paged} answers paginated)")
        for f in failures:
            print(f"  {f[:400]}")
    assert failures == [] and right["resource"] == 6
