"""The console's Tenants page: a super-admin lists, creates (seeing the first credentials once),
renames and links, disables and enables tenants, each change in the change log as theirs; a
tenant's admin has no such page (404) and a visitor is sent to sign in."""
from __future__ import annotations

import re

import pytest

from scim_authz.db.models import Credential, Tenant
from tests.admin._tenants import super_console, tenant_changes
from tests.admin.conftest import Console, text, words
from tests.api._api_helpers import rows
from tests.conftest import APIClient, SCIMClient

PAGES = [("GET", "/admin/tenants"), ("POST", "/admin/tenants"), ("GET", "/admin/tenants/acme/edit"),
         ("POST", "/admin/tenants/acme"), ("GET", "/admin/tenants/acme/disable"),
         ("POST", "/admin/tenants/acme/disable"), ("GET", "/admin/tenants/acme/enable"),
         ("POST", "/admin/tenants/acme/enable")]
FORMS = {"/admin/tenants": {"key": "evil"}, "/admin/tenants/acme": {"name": "evil"}}


@pytest.fixture
def root(app, tenant):
    return super_console(app)


def _unchanged(app, tenant) -> None:
    [t] = rows(app, Tenant, id=tenant[0])
    assert (t.name, t.disabled_at) == ("acme", None) and rows(app, Tenant, key="evil") == []
    assert tenant_changes(app) == []


@pytest.mark.parametrize("method, path", PAGES)
def test_a_tenants_admin_gets_no_such_page(app, tenant, console, method, path):
    r = console.get(path) if method == "GET" else console.post(path, FORMS.get(path, {}))
    assert r.status_code == 404 and "no such page" in words(r)
    _unchanged(app, tenant)


@pytest.mark.parametrize("method, path", PAGES)
def test_a_visitor_is_sent_to_sign_in(app, client, tenant, method, path):
    visitor = Console(client)
    visitor.get("/admin/login")  # a session with a CSRF token, and no one signed in
    r = visitor.get(path) if method == "GET" else visitor.post(path, FORMS.get(path, {}))
    assert r.status_code == 302 and r.headers["Location"].startswith("/admin/login")
    if method == "POST":
        assert client.post(path, data=FORMS.get(path, {})).status_code == 400  # no CSRF token: refused first
    _unchanged(app, tenant)


def test_the_nav_offers_tenants_to_super_admins_only(root, console):
    assert 'href="/admin/tenants"' in text(root.get("/admin/"))
    assert 'href="/admin/tenants"' not in text(console.get("/admin/"))


def test_the_list_shows_each_tenant(app, root):
    root.post("/admin/tenants", {"key": "globex-prod", "name": "Globex", "role_mode": "idp", "organization": "globex",
                                 "environment": "production"})
    root.post("/admin/tenants/globex-prod/disable")
    page = words(root.get("/admin/tenants"))
    assert re.search(r"acme acme — Hybrid Active \d{4}-\d\d-\d\d \d\d:\d\d Rename acme Disable acme", page), page
    assert re.search(r"globex-prod Globex globex · production Identity provider Disabled since \d{4}-\d\d-\d\d "
                     r"\d{4}-\d\d-\d\d \d\d:\d\d Rename globex-prod Enable globex-prod", page), page


def test_create_shows_the_first_credentials_once_and_they_work(app, client, root):
    r = root.post("/admin/tenants", {"key": "globex", "name": "Globex Corp", "role_mode": "app",
                                     "credentials": ["scim", "app"]})
    assert r.status_code == 200
    page = text(r)
    scim_token = re.search(r'id="new-secret-scim"[^>]*>(scim_[^<]+)<', page).group(1)
    api_key = re.search(r'id="new-secret-app"[^>]*>(sk_[^<]+)<', page).group(1)
    assert "Tenant globex created" in page and "shown only once" in page
    assert SCIMClient(client, scim_token).get("/Users").status_code == 200
    assert APIClient(client, api_key).get("/roles").status_code == 200
    assert scim_token not in text(root.get("/admin/tenants"))  # never again
    [entry] = tenant_changes(app)
    assert (entry["action"], entry["target"], entry["actor_kind"], entry["actor"], entry["surface"]) == \
        ("tenant.create", "globex", "admin", "root@ops.test", "console")


def test_create_with_no_credentials_ticked_issues_none(app, root):
    r = root.post("/admin/tenants", {"key": "bare", "role_mode": "hybrid"})
    assert r.status_code == 200 and "No credentials were issued" in words(r)
    assert rows(app, Credential, tenant_id=rows(app, Tenant, key="bare")[0].id) == []


@pytest.mark.parametrize("form, status, field, message", [
    ({"key": ""}, 400, "Key", "Enter a key"),
    ({"key": "Has Spaces"}, 400, "Key", "1-63 lowercase letters, digits or dashes"),
    ({"key": "acme"}, 409, "Key", "tenant 'acme' already exists"),
    ({"key": "new", "role_mode": "nope"}, 400, "Role mode", "Choose how roles are decided"),
    ({"key": "new", "environment": "dev"}, 400, "Environment", "needs an organization"),
])
def test_create_refuses_with_the_field_and_changes_nothing(app, tenant, root, form, status, field, message):
    r = root.post("/admin/tenants", {"role_mode": "hybrid", **form})
    assert r.status_code == status
    assert f"{field} : {message}" in words(r), words(r)  # the error summary: a link to the field, then why
    assert rows(app, Tenant, key="new") == [] and tenant_changes(app) == []


def test_rename_and_link(app, tenant, root):
    form = text(root.get("/admin/tenants/acme/edit"))
    assert 'value="acme"' in form and "cannot change" in form
    r = root.post("/admin/tenants/acme", {"name": "Acme Corporation", "organization": "acme", "environment": "prod"})
    assert r.status_code == 302 and r.headers["Location"] == "/admin/tenants"
    assert "Tenant acme is saved." in words(root.get("/admin/tenants"))
    [t] = rows(app, Tenant, id=tenant[0])
    assert (t.key, t.name, t.organization, t.environment) == ("acme", "Acme Corporation", "acme", "prod")
    [entry] = tenant_changes(app)
    assert entry["action"] == "tenant.rename" and entry["actor"] == "root@ops.test"
    assert entry["after"] == {"name": "Acme Corporation", "organization": "acme", "environment": "prod"}
    r = root.post("/admin/tenants/acme", {"name": ""})
    assert r.status_code == 400 and "Name : 1-200 printable characters" in words(r)
    assert root.get("/admin/tenants/nope/edit").status_code == 404


def test_disable_and_enable_after_confirming(app, tenant, root):
    confirm = words(root.get("/admin/tenants/acme/disable"))
    assert "Disable acme (acme)?" in confirm and "its SCIM tokens and API keys are refused" in confirm
    assert root.post("/admin/tenants/acme/disable", csrf=False).status_code == 400  # a forged form
    assert rows(app, Tenant, id=tenant[0])[0].disabled_at is None
    r = root.post("/admin/tenants/acme/disable")
    assert r.status_code == 302 and rows(app, Tenant, id=tenant[0])[0].disabled_at is not None
    assert "Tenant acme is disabled." in words(root.get("/admin/tenants"))
    assert SCIMClient(root.client, tenant[1]).get("/Users").status_code == 401
    assert "Enable acme (acme)?" in words(root.get("/admin/tenants/acme/enable"))
    root.post("/admin/tenants/acme/enable")
    assert rows(app, Tenant, id=tenant[0])[0].disabled_at is None
    assert SCIMClient(root.client, tenant[1]).get("/Users").status_code == 200
    assert [(c["action"], c["surface"]) for c in tenant_changes(app)] == [("tenant.disable", "console"),
                                                                           ("tenant.enable", "console")]


def test_a_super_admin_with_no_tenant_yet_creates_the_first(app):
    root = super_console(app)
    assert "There is no tenant yet" in words(root.get("/admin/"))
    page = root.get("/admin/tenants")
    assert page.status_code == 200 and "No tenants yet" in words(page)
    assert root.post("/admin/tenants", {"key": "first", "role_mode": "hybrid"}).status_code == 200
    assert root.get("/admin/").status_code == 200 and "first" in words(root.get("/admin/"))
