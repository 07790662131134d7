"""The console's change log and access review pages: what an admin reads, the downloads, and that
another tenant's admin sees none of it."""
from __future__ import annotations

import csv
import io

import pytest

from tests.admin.conftest import Console, create_admin, words
from tests.api._api_helpers import scim_group, scim_user


@pytest.fixture
def console(app, client, tenant):
    """ada@acme.test, signed in to the console."""
    create_admin(app, "ada@acme.test", "acme")
    c = Console(client)
    assert c.login("ada@acme.test").status_code == 302
    return c


def test_the_change_log_page_lists_who_did_what(console, api):
    api.post("/roles", {"key": "editor", "permissions": ["document:edit"]})
    assert console.post("/admin/roles", {"key": "auditor", "permissions": "document:view"}).status_code == 302
    page = words(console.get("/admin/changes"))
    assert "role.create auditor" in page and "ada@acme.test admin · console" in page
    assert "role.create editor" in page and "api_key · api" in page
    only = words(console.get("/admin/changes?surface=console"))
    assert "auditor" in only and "editor" not in only.replace("auditor", "")
    assert console.get("/admin/changes?since=not-a-date").status_code == 400


def test_the_access_review_page_and_its_downloads(console, api, scim):
    bob = scim_user(scim, "bob@acme.test")
    eng = scim_group(scim, "Engineering", [bob])
    api.post("/roles", {"key": "editor", "permissions": ["document:edit"]})
    api.post("/group-mappings", {"group": eng, "role": "editor"})
    page = words(console.get("/admin/access-review"))
    assert "bob@acme.test editor role editor via group Engineering (IdP)" in page
    r = console.get("/admin/access-review?format=csv")
    assert r.content_type.startswith("text/csv") and "attachment" in r.headers["Content-Disposition"]
    assert [(x["userName"], x["role"]) for x in csv.DictReader(io.StringIO(r.get_data(as_text=True)))] == [
        ("bob@acme.test", "editor")]
    assert console.get("/admin/access-review?format=json").get_json()["access_review"][0]["role"] == "editor"


def test_another_tenants_admin_sees_none_of_it(app, client, api, other_api):
    api.post("/roles", {"key": "acme-only-role", "permissions": ["document:edit"]})
    create_admin(app, "ivy@initech.test", "initech")
    other = Console(app.test_client())
    assert other.login("ivy@initech.test").status_code == 302
    assert "acme-only-role" not in words(other.get("/admin/changes"))
    assert "acme-only-role" not in other.get("/admin/access-review?format=csv").get_data(as_text=True)
