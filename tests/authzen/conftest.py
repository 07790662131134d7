"""Fixtures of the AuthZEN tests: a client with the tenant's API key, and a user with a role."""
from __future__ import annotations

import pytest

from tests.api._api_helpers import scim_user
from tests.authzen._authzen_helpers import AuthZEN


@pytest.fixture
def authzen(client, api):
    return AuthZEN(client, api.key)


@pytest.fixture
def ann(scim, api):
    """A user (externalId 00u1ann) holding editor: document:edit and document:view."""
    uid = scim_user(scim, "ann@example.com", externalId="00u1ann")
    api.post("/roles", {"key": "editor", "permissions": ["document:edit", "document:view"]})
    api.post("/role-assignments", {"user": uid, "role": "editor"})
    return uid
