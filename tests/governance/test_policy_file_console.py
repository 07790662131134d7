"""The console's policy file page: download the tenant's policy, upload one, read what it would
change (nothing is saved yet), then apply; a tenant changed since the preview is shown again, not
applied; a broken file is refused with its lines."""
from __future__ import annotations

import io
import re

import pytest

from scim_authz.db.models import AdminChange, Role
from tests.admin.conftest import Console, create_admin, words
from tests.api._api_helpers import count, rows, scim_group
from tests.governance._policy import SMALL


@pytest.fixture
def console(app, client, tenant):
    create_admin(app, "ada@acme.test", "acme")
    c = Console(client)
    assert c.login("ada@acme.test").status_code == 302
    return c


def _revision(page_html: str) -> str:
    return re.search(r'name="revision" value="(\d+)"', page_html).group(1)


def test_upload_preview_then_apply(app, console, scim, api, tenant):
    scim_group(scim, "Engineering")
    preview = console.post("/admin/policy-file/preview", {"source": SMALL})
    assert preview.status_code == 200
    text = words(preview)
    assert "+ role editor" in text and "+ role viewer" in text and "+ mapping" in text
    assert count(app, Role, tenant_id=tenant[0]) == 0  # shown, not saved
    html = preview.get_data(as_text=True)
    applied = console.post("/admin/policy-file/apply", {"source": SMALL, "revision": _revision(html)})
    assert applied.status_code == 302
    assert sorted(r.key for r in rows(app, Role, tenant_id=tenant[0])) == ["editor", "viewer"]
    entry = [e for e in rows(app, AdminChange, tenant_id=tenant[0]) if e.action == "policy.apply"]
    assert [(e.actor, e.surface, e.target) for e in entry] == [("ada@acme.test", "console", "console upload")]
    assert "Applied:" in words(console.get("/admin/policy-file"))
    again = console.post("/admin/policy-file/preview", {"source": SMALL})
    assert "Nothing: the tenant already holds this policy." in words(again)
    exported = console.get("/admin/policy-file/export")
    assert exported.content_type.startswith("application/yaml")
    assert "key: editor" in exported.get_data(as_text=True)
    assert 'filename="acme-policy.yaml"' in exported.headers["Content-Disposition"]


def test_a_file_upload_and_a_tenant_changed_since_the_preview(app, console, scim, api, tenant):
    scim_group(scim, "Engineering")
    preview = console.post("/admin/policy-file/preview",
                           {"file": (io.BytesIO(SMALL.encode()), "policy.yaml")}, content_type="multipart/form-data")
    assert preview.status_code == 200 and "+ role editor" in words(preview)
    seen = _revision(preview.get_data(as_text=True))
    api.post("/roles", {"key": "meanwhile", "permissions": ["document:view"]})  # someone else writes
    stale = console.post("/admin/policy-file/apply", {"source": SMALL, "revision": seen})
    assert stale.status_code == 409 and "The tenant changed since you read this difference" in words(stale)
    assert sorted(r.key for r in rows(app, Role, tenant_id=tenant[0])) == ["meanwhile"]


def test_a_broken_file_is_refused_with_its_lines(app, console, tenant):
    bad = "version: 1\nroles:\n  - key: a\n    permissions: [not a permission]\n"
    r = console.post("/admin/policy-file/preview", {"source": bad})
    assert r.status_code == 400
    assert re.search(r"policy\.yaml:4: roles\[0\]\.permissions\[0\]", words(r))
    r = console.post("/admin/policy-file/apply", {"source": bad, "revision": "0"})
    assert r.status_code == 400 and count(app, Role, tenant_id=tenant[0]) == 0
    assert console.post("/admin/policy-file/preview", {"source": ""}).status_code == 400
