"""The Tenants page in a real browser (Playwright driving Debian's chromium) against a live server: a
super-admin creates a tenant and reads its first SCIM token off the page, renames and links another,
disables one after confirming (its token is refused, its admin sees the closed console) and enables
it again. With SCREENSHOTS=1 the page is saved as docs/screenshots/tenants.png (`make screenshots`).
Skipped, saying how to enable it, without chromium or playwright (tests/admin/test_console_browser.py)."""
from __future__ import annotations

import httpx

from tests.admin.conftest import PASSWORD, create_admin
from tests.admin.test_console_browser import Shots, browser  # noqa: F401 - `browser` is a fixture
from tests.integration.live import serving

ROOT, IVY = "root@ops.test", "ivy@globex.test"


def _tenants(app) -> None:
    """Tenants a provider of several customers would have: one organisation's environments, and others."""
    from scim_authz.db.extensions import db
    from scim_authz.db.txn import intent
    from scim_authz.policy import tenant_lifecycle as lifecycle

    with app.app_context(), intent(True):
        lifecycle.create("acme", "acme", credentials=())
        lifecycle.create("acme-staging", "Acme Corp (staging)", "app", organization="acme", environment="staging",
                         credentials=())
        lifecycle.create("initech", "Initech", "idp", credentials=())
        db.session.commit()
        db.session.remove()


def test_tenants_page_end_to_end(live_app, browser):  # noqa: F811 - the fixture imported above
    _tenants(live_app)
    create_admin(live_app, ROOT, None)
    with serving(live_app) as origin:
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.set_default_timeout(15_000)
        shot = Shots(page)

        page.goto(f"{origin}/admin/login")
        page.get_by_label("Email").fill(ROOT)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("navigation", name="Console").get_by_role("link", name="Tenants", exact=True).click()
        page.get_by_role("heading", name="Tenants", exact=True).wait_for()

        # A new tenant, its first SCIM token read off the page and used at once.
        page.get_by_label("Key", exact=True).fill("globex-prod")
        page.get_by_label("Name").fill("Globex")
        page.get_by_label("Organisation").fill("globex")
        page.get_by_label("Environment").fill("production")
        page.get_by_label("An API key for its application").uncheck()
        page.get_by_role("button", name="Create tenant").click()
        page.get_by_role("heading", name="Tenant globex-prod created").wait_for()
        token = page.locator("#new-secret-scim").inner_text().strip()
        assert token.startswith("scim_") and page.locator("#new-secret-app").count() == 0
        scim = httpx.Client(base_url=f"{origin}/scim/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert scim.get("/Users").status_code == 200

        # Rename and link acme.
        page.get_by_role("link", name="Rename acme", exact=True).click()
        page.get_by_label("Name").fill("Acme Corp")
        page.get_by_label("Organisation").fill("acme")
        page.get_by_label("Environment").fill("production")
        page.get_by_role("button", name="Save tenant").click()
        page.get_by_text("Tenant acme is saved.").wait_for()
        row = page.locator("tbody tr", has_text="acme-staging")
        assert "acme · staging" in row.inner_text()
        assert "acme · production" in page.locator("tbody tr").first.inner_text()

        # Disable globex-prod after confirming: its token is refused, its admin finds the console closed.
        create_admin(live_app, IVY, "globex-prod")
        page.get_by_role("link", name="Disable globex-prod").click()
        page.get_by_text("its SCIM tokens and API keys are refused").wait_for()
        page.get_by_role("button", name="Disable tenant").click()
        page.get_by_text("Tenant globex-prod is disabled.").wait_for()
        assert "Disabled" in page.locator("tbody tr", has_text="globex-prod").inner_text()
        refused = scim.get("/Users")
        assert refused.status_code == 401 and "globex-prod is disabled" in refused.json()["detail"]
        ivy = context.browser.new_context().new_page()
        ivy.goto(f"{origin}/admin/login")
        ivy.get_by_label("Email").fill(IVY)
        ivy.get_by_label("Password").fill(PASSWORD)
        ivy.get_by_role("button", name="Sign in").click()
        ivy.get_by_role("heading", name="Globex (globex-prod) is disabled").wait_for()
        page.locator("main").click(position={"x": 5, "y": 5})  # nothing focused in the screenshot
        shot("tenants")

        # Enable it again.
        page.get_by_role("link", name="Enable globex-prod").click()
        page.get_by_role("button", name="Enable tenant").click()
        page.get_by_text("Tenant globex-prod is enabled.").wait_for()
        assert scim.get("/Users").status_code == 200
        ivy.reload()
        ivy.get_by_role("heading", name="Dashboard").wait_for()
        scim.close()
        context.close()
