"""Creating and finding tenants, and bumping their revision."""
from __future__ import annotations

import re

from sqlalchemy import select

from scim_authz.db.extensions import db
from scim_authz.db.models import Tenant

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ROLE_MODES = ("idp", "app", "hybrid")


class TenantError(ValueError):
    """A tenant could not be created or found as asked."""


def create_tenant(key: str, name: str | None = None, role_mode: str = "hybrid") -> Tenant:
    """Create a tenant with a URL-safe key (lowercase letters, digits, dashes)."""
    if not KEY_RE.match(key):
        raise TenantError("tenant key must be 1-63 lowercase letters, digits or dashes, starting with a letter or digit")
    if role_mode not in ROLE_MODES:
        raise TenantError(f"role mode must be one of {', '.join(ROLE_MODES)}")
    if find_tenant(key) is not None:
        raise TenantError(f"tenant {key!r} already exists")
    tenant = Tenant(key=key, name=name or key, role_mode=role_mode, settings={}, revision=0)
    db.session.add(tenant)
    db.session.flush()
    return tenant


def find_tenant(key: str) -> Tenant | None:
    """The tenant with this key, or None."""
    return db.session.execute(select(Tenant).where(Tenant.key == key)).scalar_one_or_none()


def list_tenants() -> list[Tenant]:
    """All tenants, by key."""
    return list(db.session.execute(select(Tenant).order_by(Tenant.key)).scalars())
