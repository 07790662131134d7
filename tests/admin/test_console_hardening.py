"""The console's share of the hardening review's findings: its forms refuse what cannot be stored or
counted, with a page, and write nothing."""
from __future__ import annotations

from scim_authz.db.models import GroupRoleMapping, Role
from tests.admin.conftest import text
from tests.api._api_helpers import count


def test_finding_7_superscript_digits_in_a_form_are_not_an_id(app, console, tenant, people):
    """str.isdigit says "²" is a digit and int() refuses it: the form's mapping id was a 500."""
    assert console.post("/admin/roles", {"key": "editor", "permissions": "document:edit"}).status_code == 302
    r = console.post("/admin/mappings", {"group": people["eng"], "role": "editor", "replace": "²"})
    assert r.status_code == 404 and "Traceback" not in text(r)
    assert count(app, GroupRoleMapping, tenant_id=tenant[0]) == 0


def test_finding_7_a_nul_in_a_form_field_is_a_400_page(app, console, tenant):
    r = console.post("/admin/roles", {"key": "editor", "description": "a\x00b", "permissions": "document:edit"})
    assert r.status_code == 400 and "text/html" in r.content_type and "NUL" in text(r)
    assert count(app, Role, tenant_id=tenant[0]) == 0
