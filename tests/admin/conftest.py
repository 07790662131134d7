"""Fixtures for the console: admins, a signed-in browser-less client that sends the CSRF token."""
from __future__ import annotations

import html
import re

import pytest

from scim_authz.db.extensions import db
from tests.api._api_helpers import scim_group, scim_user

PASSWORD = "correct horse battery staple"


def create_admin(app, email: str, tenant_key: str | None) -> None:
    """An admin of tenant `tenant_key`, or a super-admin when None."""
    from scim_authz.credentials.admins import create_admin as create
    from scim_authz.db.txn import intent
    from scim_authz.policy.tenants import find_tenant

    with app.app_context(), intent(True):  # a write from the start (see tests/conftest.make_tenant)
        tenant = find_tenant(tenant_key) if tenant_key else None
        create(email, PASSWORD, tenant.id if tenant else None)
        db.session.commit()
        db.session.remove()


def text(resp) -> str:
    """A response's HTML with entities decoded and whitespace squeezed, for assertions on what a person reads."""
    return re.sub(r"\s+", " ", html.unescape(resp.get_data(as_text=True)))


def words(resp) -> str:
    """What a person reads: the text without tags, whitespace squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text(resp))).strip()


class Console:
    """The test client as a person at the console: forms carry the session's CSRF token."""

    def __init__(self, client):
        self.client = client

    def csrf(self) -> str:
        with self.client.session_transaction() as s:
            if "csrf" not in s:
                s["csrf"] = "test-token-" + "x" * 20
            return s["csrf"]

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf())
        return self.client.post(path, data=data, **kw)

    def login(self, email: str, password: str = PASSWORD):
        self.get("/admin/login")
        return self.post("/admin/login", {"email": email, "password": password})


@pytest.fixture
def acme_admin(app, tenant):
    create_admin(app, "ada@acme.test", "acme")
    return "ada@acme.test"


@pytest.fixture
def console(client, acme_admin):
    c = Console(client)
    r = c.login(acme_admin)
    assert r.status_code == 302, text(r)
    return c


@pytest.fixture
def people(scim):
    """Users in nested groups: Engineering ⊃ Platform ⊃ {bob}; Engineering ⊃ {alice}; carol inactive."""
    alice = scim_user(scim, "alice@acme.test", displayName="Alice Liddell")
    bob = scim_user(scim, "bob@acme.test", displayName="Bob Builder")
    carol = scim_user(scim, "carol@acme.test", active=False)
    platform = scim_group(scim, "Platform", [bob])
    eng = scim_group(scim, "Engineering", [alice, platform, carol])
    return {"alice": alice, "bob": bob, "carol": carol, "platform": platform, "eng": eng}
