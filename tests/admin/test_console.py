"""The console through the Flask test client: signing in and out, CSRF, tenant isolation, connecting
an IdP, and the directory. (Policy pages: test_console_policy.py.)"""
from __future__ import annotations

import re

import pytest

from scim_authz.db.models import Admin, Credential, Role
from tests.admin.conftest import PASSWORD, Console, create_admin, text
from tests.api._api_helpers import count, rows, scim_group, scim_user
from tests.conftest import SCIMClient, make_tenant

GENERIC = "The email or password is not correct."


# ---- signing in and out ----------------------------------------------------------------------

def test_sign_in_page_then_dashboard(client, acme_admin, app):
    c = Console(client)
    r = c.get("/admin/login")
    assert r.status_code == 200
    page = text(r)
    assert '<label for="f-email">Email' in page and 'name="csrf_token"' in page
    r = c.post("/admin/login", {"email": "ADA@acme.test ", "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/")
    page = text(c.get("/admin/"))
    assert "Dashboard" in page and "ada@acme.test" in page and "Decisions today" in page
    assert rows(app, Admin, email="ada@acme.test")[0].last_login is not None


@pytest.mark.parametrize("email, password", [("ada@acme.test", "wrong password!!"), ("nobody@acme.test", PASSWORD)])
def test_failed_sign_in_gives_one_generic_message(client, acme_admin, email, password):
    c = Console(client)
    r = c.login(email, password)
    assert r.status_code == 401
    assert GENERIC in text(r)
    assert c.get("/admin/").status_code == 302  # still signed out


def test_empty_fields_are_named(client, acme_admin):
    c = Console(client)
    c.get("/admin/login")
    page = text(c.post("/admin/login", {"email": "", "password": ""}))
    assert "Enter your email address." in page and "Enter your password." in page


def test_sign_in_is_rate_limited_per_email(client, acme_admin):
    c = Console(client)
    for _ in range(5):
        assert c.login("ada@acme.test", "not the password").status_code == 401
    r = c.login("ada@acme.test", PASSWORD)  # the right password, too late
    assert r.status_code == 429 and "Too many failed sign-ins" in text(r)
    assert c.get("/admin/").status_code == 302


def test_visitor_is_sent_to_sign_in_and_back(client, acme_admin):
    c = Console(client)
    r = c.get("/admin/users?q=x")
    assert r.status_code == 302 and "/admin/login?next=" in r.headers["Location"]
    c.get("/admin/login")
    r = c.post("/admin/login", {"email": "ada@acme.test", "password": PASSWORD, "next": "/admin/users?q=x"})
    assert r.headers["Location"] == "/admin/users?q=x"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/v1/roles"])
def test_sign_in_never_redirects_elsewhere(client, acme_admin, target):
    c = Console(client)
    c.get("/admin/login")
    r = c.post("/admin/login", {"email": "ada@acme.test", "password": PASSWORD, "next": target})
    assert r.headers["Location"] == "/admin/"


def test_sign_out(console):
    assert console.post("/admin/logout").status_code == 302
    assert console.get("/admin/").status_code == 302


def test_pages_carry_security_headers(console):
    r = console.get("/admin/connect")
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store" and r.headers["X-Frame-Options"] == "DENY"
    css = console.get("/admin/static/console.css")
    assert css.status_code == 200 and "Cache-Control" not in css.headers or css.headers["Cache-Control"] != "no-store"


# ---- CSRF ------------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_a_form_without_the_session_token_is_refused_and_changes_nothing(app, console, tenant, token):
    data = {"key": "editor", "permissions": "document:edit"}
    if token is not None:
        data["csrf_token"] = token
    r = console.post("/admin/roles", data, csrf=False)
    assert r.status_code == 400
    assert "did not come from this console" in text(r) and "Nothing was changed" in text(r)
    assert count(app, Role, tenant_id=tenant[0]) == 0


def test_sign_out_needs_the_token_too(console):
    assert console.post("/admin/logout", csrf=False).status_code == 400
    assert console.get("/admin/").status_code == 200


# ---- tenants ---------------------------------------------------------------------------------

@pytest.fixture
def globex(app, client):
    """A second tenant with a user, a group, a token and a mapping."""
    tid, token = make_tenant(app, "globex")
    scim = SCIMClient(client, token)
    uid = scim_user(scim, "gina@globex.test")
    gid = scim_group(scim, "Globex Staff", [uid])
    with app.app_context():
        from scim_authz.db.extensions import db
        from scim_authz.policy import mappings, roles
        roles.create_role(tid, {"key": "viewer", "permissions": ["document:view"]})
        m, _, _ = mappings.map_group(tid, gid, "viewer", None, "tests")
        db.session.commit()
    cred = rows(app, Credential, tenant_id=tid)[0]
    return {"id": tid, "user": uid, "group": gid, "credential": cred.id, "mapping": m["id"]}


def test_a_tenant_admin_sees_nothing_of_another_tenant(console, globex):
    for path in (f"/admin/users/{globex['user']}", f"/admin/groups/{globex['group']}",
                 f"/admin/connect/tokens/{globex['credential']}/revoke", f"/admin/mappings/{globex['mapping']}/edit",
                 f"/admin/mappings/{globex['mapping']}/delete"):
        r = console.get(path)
        assert r.status_code == 404, path
        assert "Not found" in text(r)
    assert console.post(f"/admin/connect/tokens/{globex['credential']}/revoke").status_code == 404
    assert console.post(f"/admin/mappings/{globex['mapping']}/delete").status_code == 404
    assert console.post("/admin/tenant", {"tenant": globex["id"]}).status_code == 404
    assert "gina@globex.test" not in text(console.get("/admin/users"))
    assert "Globex Staff" not in text(console.get("/admin/groups"))
    assert "gina" not in text(console.get("/admin/users/search.json?q=gina"))


def test_a_super_admin_switches_tenant(app, client, tenant, globex):
    create_admin(app, "root@ops.test", None)
    c = Console(client)
    assert c.login("root@ops.test").status_code == 302
    page = text(c.get("/admin/"))
    assert 'id="tenant-switch"' in page and "Super-admin" in page and "acme" in page
    r = c.post("/admin/tenant", {"tenant": globex["id"]})
    assert r.status_code == 302
    assert "gina@globex.test" in text(c.get("/admin/users"))
    assert c.get(f"/admin/users/{globex['user']}").status_code == 200
    assert c.post("/admin/tenant", {"tenant": 9999}).status_code == 404


def test_a_super_admin_without_tenants_is_told_how_to_make_one(app, client):
    create_admin(app, "root@ops.test", None)
    c = Console(client)
    c.login("root@ops.test")
    assert "tenants create" in text(c.get("/admin/"))


# ---- connecting an IdP -----------------------------------------------------------------------

def test_connect_shows_the_base_url_and_instructions(console):
    page = text(console.get("/admin/connect"))
    assert "http://localhost/scim/v2" in page
    assert "Okta" in page and "Entra" in page and "aadOptscim062020" in page


def test_connect_prefers_the_public_base_url(app, console):
    app.config["PUBLIC_BASE_URL"] = "https://authz.example.com"
    assert "https://authz.example.com/scim/v2" in text(console.get("/admin/connect"))


def test_issue_a_token_shown_once_then_revoke_it(app, client, console, tenant):
    r = console.post("/admin/connect/tokens", {"name": "Okta production", "kind": "scim"})
    assert r.status_code == 200
    page = text(r)
    secret = re.search(r'data-secret>(scim_[^<]+)<', page).group(1)
    assert "shown only once" in page and "Copy" in page
    scim = SCIMClient(client, secret)
    assert scim.get("/Users").status_code == 200
    listing = text(console.get("/admin/connect"))
    assert "Okta production" in listing and secret[:11] in listing and secret not in listing
    cred = next(c for c in rows(app, Credential, tenant_id=tenant[0]) if c.name == "Okta production")
    confirm = text(console.get(f"/admin/connect/tokens/{cred.id}/revoke"))
    assert "stops working at once" in confirm
    r = console.post(f"/admin/connect/tokens/{cred.id}/revoke")
    assert r.status_code == 302
    assert scim.get("/Users").status_code == 401
    assert "is revoked" in text(console.get("/admin/connect"))


def test_a_pdp_key_issued_in_the_console_syncs_its_tenant_only(app, client, console, tenant):
    r = console.post("/admin/connect/tokens", {"name": "eu-west sidecar", "kind": "pdp"})
    assert r.status_code == 200 and "PDP key" in text(r)
    secret = re.search(r'data-secret>(pdp_[^<]+)<', text(r)).group(1)
    h = {"Authorization": f"Bearer {secret}"}
    assert [t["key"] for t in client.get("/v1/pdp/tenants", headers=h).get_json()["tenants"]] == ["acme"]
    assert client.get("/scim/v2/Users", headers=h).status_code == 401
    assert "PDP key" in text(console.get("/admin/connect"))


def test_a_token_needs_a_name_and_a_kind(app, console, tenant):
    before = count(app, Credential, tenant_id=tenant[0])
    r = console.post("/admin/connect/tokens", {"name": "  ", "kind": "scim"})
    assert r.status_code == 400 and "Name the connection" in text(r)
    r = console.post("/admin/connect/tokens", {"name": "x", "kind": "root"})
    assert r.status_code == 400 and "Choose a SCIM token, an API key or a PDP key." in text(r)
    assert count(app, Credential, tenant_id=tenant[0]) == before


# ---- directory -------------------------------------------------------------------------------

def test_users_search_filter_and_detail(console, people):
    page = text(console.get("/admin/users"))
    assert "alice@acme.test" in page and "carol@acme.test" in page
    page = text(console.get("/admin/users?q=LIDDELL"))  # userName only, not displayName
    assert "alice@acme.test" not in page and "No users match" in page
    page = text(console.get("/admin/users?q=bob"))
    assert "bob@acme.test" in page and "alice@acme.test" not in page
    page = text(console.get("/admin/users?status=inactive"))
    assert "carol@acme.test" in page and "alice@acme.test" not in page
    page = text(console.get(f"/admin/users/{people['bob']}"))
    assert "Platform" in page and "Engineering" in page and "nested" in page and "direct" in page
    assert console.get("/admin/users/no-such-user").status_code == 404


def test_search_treats_wildcards_as_text(console, people):
    assert "No users match" in text(console.get("/admin/users?q=%25"))
    assert "No users match" in text(console.get("/admin/users?q=_"))


def test_users_are_paged(console, scim):
    for n in range(30):
        scim_user(scim, f"user{n:02d}@acme.test")
    page = text(console.get("/admin/users"))
    assert "1–25 of 30" in page and "user00@acme.test" in page and "user29@acme.test" not in page
    page = text(console.get("/admin/users?page=2"))
    assert "26–30 of 30" in page and "user29@acme.test" in page and "user00@acme.test" not in page


def test_groups_and_their_members(console, people, scim):
    page = text(console.get("/admin/groups?q=plat"))
    assert "Platform" in page and "Engineering" not in page
    page = text(console.get(f"/admin/groups/{people['eng']}"))
    assert "alice@acme.test" in page and "Platform" in page and "Group (nested)" in page
    assert "3 direct member(s)" in page
    page = text(console.get(f"/admin/groups/{people['platform']}"))
    assert "Member of" in page and "Engineering" in page
    big = scim_group(scim, "Everyone", [scim_user(scim, f"e{n:02d}@acme.test") for n in range(27)])
    page = text(console.get(f"/admin/groups/{big}?page=2"))
    assert "26–27 of 27" in page and "e25@acme.test" in page and "e00@acme.test" not in page


def test_user_search_json_for_the_picker(console, people):
    found = console.get("/admin/users/search.json?q=ali").get_json()
    assert found == [{"id": people["alice"], "userName": "alice@acme.test", "displayName": "Alice Liddell",
                      "active": True}]
