"""The console in a real browser (Playwright driving Debian's chromium) against a live server: sign in,
issue a SCIM token and provision with it, create a role, map the pushed group after seeing the
preview, ask the playground, read the audit log.

Needs `apt-get install -y chromium` and `pip install playwright` (no `playwright install`: the
system's chromium is used). With SCREENSHOTS=1 each main page is saved to docs/screenshots/.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.admin.conftest import PASSWORD, create_admin
from tests.conftest import issue_app_key
from tests.integration.live import serving

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
HOW_TO_ENABLE = "enable with `apt-get install -y chromium` and `pip install playwright` (or `pip install -e '.[test]'`)"
ADMIN = "it@acme.test"


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: {HOW_TO_ENABLE}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(f"the playwright package is missing: {HOW_TO_ENABLE}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()




def _tenant(app) -> int:
    from scim_authz.db.extensions import db
    from scim_authz.policy.tenants import create_tenant

    with app.app_context():
        t = create_tenant("acme", "Acme Corp")
        db.session.commit()
        return t.id


def _provision(origin: str, token: str) -> None:
    """What an IdP would push: people, a nested group (Platform inside Engineering) and others."""
    import httpx

    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    with httpx.Client(base_url=f"{origin}/scim/v2", headers=h, timeout=30) as http:
        def user(name, display, **extra):
            r = http.post("/Users", json={"userName": name, "displayName": display, **extra})
            assert r.status_code == 201, r.text
            return r.json()["id"]

        def group(name, members):
            r = http.post("/Groups", json={"displayName": name, "members": [{"value": m} for m in members]})
            assert r.status_code == 201, r.text
            return r.json()["id"]

        alice = user("alice@acme.test", "Alice Liddell", emails=[{"value": "alice@acme.test", "primary": True}],
                     title="Staff Engineer")
        bob = user("bob@acme.test", "Bob Okafor")
        others = [user(f"{n}@acme.test", d) for n, d in (("carmen", "Carmen Ruiz"), ("dev", "Dev Patel"),
                                                         ("erin", "Erin Walsh"), ("farah", "Farah Khan"))]
        user("gus@acme.test", "Gus Lindqvist", active=False)
        platform = group("Platform", [bob])
        group("Engineering", [alice, platform])
        group("Sales", others[:2])
        group("Finance", others[2:])


class Shots:
    """Full-page screenshots, 1280 wide, when SCREENSHOTS=1."""

    def __init__(self, page):
        self.page, self.on = page, os.environ.get("SCREENSHOTS") == "1"
        if self.on:
            SHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str) -> None:
        if self.on:
            self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_console_end_to_end(live_app, browser):
    tid = _tenant(live_app)
    create_admin(live_app, ADMIN, "acme")
    with serving(live_app) as origin:
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.set_default_timeout(15_000)
        shot = Shots(page)

        def nav(name):
            return page.get_by_role("navigation", name="Console").get_by_role("link", name=name, exact=True)

        # Sign in (a wrong password first: one generic message).
        page.goto(f"{origin}/admin/")
        assert "/admin/login" in page.url
        shot("login")
        page.get_by_label("Email").fill(ADMIN)
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        assert page.get_by_role("alert").inner_text().strip() == "The email or password is not correct."
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Dashboard").wait_for()

        # Keyboard: the first Tab reaches the skip link.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"

        # Connect an IdP: issue a SCIM token, read it from the page, provision with it.
        nav("Connect an IdP").click()
        assert page.locator("#base-url").inner_text() == f"{origin}/scim/v2"
        page.get_by_label("Name").fill("Okta production")
        page.get_by_role("button", name="Issue token").click()
        token = page.locator("#new-secret").inner_text().strip()
        assert token.startswith("scim_")
        page.locator(".secret-card").get_by_role("button", name="Copy").click()
        page.locator(".secret-card .copy-status").filter(has_text=re.compile(r"Copied|Selected|Could not")).wait_for()
        _provision(origin, token)
        page.goto(f"{origin}/admin/connect")
        assert "Okta production" in page.locator("table").inner_text() and token not in page.content()
        shot("connect")

        # Directory, as pushed.
        nav("Users").click()
        page.get_by_role("link", name="bob@acme.test").wait_for()
        shot("users")
        page.get_by_role("link", name="bob@acme.test").click()
        assert "Platform" in page.inner_text("main") and "Engineering" in page.inner_text("main")
        shot("user")
        nav("Groups").click()
        page.get_by_role("link", name="Engineering").click()
        assert "alice@acme.test" in page.inner_text("main")
        shot("groups")

        # A role.
        nav("Roles").click()
        page.get_by_role("link", name="New role").first.click()
        page.get_by_label("Key").fill("editor")
        page.get_by_label("Name").fill("Document editor")
        page.get_by_label("Permissions").fill("document:view\ndocument:edit")
        page.get_by_role("button", name="Create role").click()
        page.get_by_text("Role editor is saved.").wait_for()
        page.get_by_role("link", name="New role").first.click()
        page.get_by_label("Key").fill("viewer")
        page.get_by_label("Permissions").fill("document:view\nfolder:view")
        page.get_by_role("button", name="Create role").click()
        shot("roles")

        # Map Engineering to editor: the preview lists alice, and bob through the nested group.
        nav("Group mappings").click()
        page.get_by_role("link", name="New mapping").first.click()
        page.get_by_label("Find a group").fill("eng")
        page.get_by_label("Group", exact=True).select_option(label="Engineering")
        page.get_by_label("Role", exact=True).select_option("editor")
        page.get_by_role("button", name="Preview who is affected").click()
        preview = page.inner_text("main")
        assert "alice@acme.test" in preview and "bob@acme.test" in preview
        assert "through nested group Platform" in preview
        shot("mapping-preview")
        page.get_by_role("button", name="Save mapping").click()
        page.get_by_text("Members of Engineering now hold editor.").wait_for()
        shot("mappings")

        # Role mode and schema (an invalid schema shows the line and column).
        nav("Role mode").click()
        shot("settings")
        nav("Relationship schema").click()
        page.get_by_role("button", name="Save as new version").click()
        page.get_by_text("Saved as version 1").wait_for()
        page.locator("#f-source").fill("entity doc {\n  relation owner @usr\n}\n")
        page.get_by_role("button", name="Validate").click()
        page.get_by_text("Line 2, column 19").wait_for()
        page.locator(".band").wait_for()  # drawn by the editor's script over the offending line
        assert page.locator(".gutter .err").inner_text() == "2" and page.locator(".band").count() == 1
        shot("schema")

        # The playground: allowed, and the explanation names the group.
        nav("Playground").click()
        page.get_by_label("User").fill("bob@acme.test")
        page.get_by_label("Action").fill("edit")
        page.get_by_label("Resource").fill("document:roadmap")
        page.get_by_role("button", name="Check").click()
        verdict = page.locator(".verdict-word").inner_text()
        explanation = page.locator(".explanation").inner_text()
        assert verdict == "Allowed" and "via group Platform, member of Engineering" in explanation
        shot("playground")

        # Some checks from an application, then the audit log shows the console's decision.
        import httpx
        key = issue_app_key(live_app, tid)
        for user, action in (("alice@acme.test", "view"), ("carmen@acme.test", "edit"), ("dev@acme.test", "view")):
            httpx.post(f"{origin}/v1/check", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                       json={"user": user, "action": action, "resource": "document:roadmap"}).raise_for_status()
        nav("Audit log").click()
        row = page.locator("tbody tr", has_text=f"console {ADMIN}").first
        assert "bob@acme.test" in row.inner_text() and "Allowed" in row.inner_text()
        assert page.locator("svg.chart rect").count() == 12
        shot("audit")

        # Governance: the change log names the admin who made the mapping; the access review lists
        # bob's role through the nested group, and downloads as CSV.
        nav("Change log").click()
        entry = page.locator("tbody tr", has_text="mapping.create").first
        assert ADMIN in entry.inner_text() and "console" in entry.inner_text()
        entry.get_by_text("Show").click()
        assert '"role": "editor"' in entry.locator("pre").last.inner_text()
        shot("change-log")
        nav("Access review").click()
        bob = page.locator("tbody tr", has_text="bob@acme.test").first
        assert "role editor via group Platform, member of Engineering (IdP)" in bob.inner_text()
        with page.expect_download() as download:
            page.get_by_role("link", name="Download CSV").click()
        assert download.value.suggested_filename == "access-review.csv"
        assert "bob@acme.test" in open(download.value.path(), encoding="utf-8").read()
        shot("access-review")

        # Policy file: the tenant's policy downloaded, a role added to it, the difference read, applied.
        nav("Policy file").click()
        exported = page.request.get(f"{origin}/admin/policy-file/export").text()
        assert "key: editor" in exported
        page.get_by_label("Or paste it").fill(
            exported.replace("roles:\n", "roles:\n- key: auditor\n  permissions: [report:view]\n", 1))
        page.get_by_role("button", name="Show what it would change").click()
        assert "+ role auditor" in page.locator("pre.diff").inner_text()
        shot("policy-file")
        page.get_by_role("button", name="Apply these changes").click()
        page.get_by_text(re.compile(r"Applied: .*revision \d+")).wait_for()

        nav("Dashboard").click()
        shot("dashboard")
        page.get_by_role("button", name="Sign out").click()
        page.get_by_text("You are signed out.").wait_for()
        context.close()
