"""Console admins: create, list, and check a password. Raises AdminError, never abort()."""
from __future__ import annotations

import functools
import re

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from scim_authz.db.extensions import db
from scim_authz.db.models import Admin, Tenant, utcnow

MIN_PASSWORD = 12
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@functools.cache
def _dummy_hash() -> str:
    """Checked when no admin has the email, so a sign-in takes as long whether or not the email exists."""
    return generate_password_hash("not a password of anyone")


class AdminError(ValueError):
    """An admin cannot be created as asked; the message says why."""


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def create_admin(email: str, password: str, tenant_id: int | None) -> Admin:
    """A new admin of one tenant, or (tenant_id None) a super-admin; the password is stored hashed."""
    email = normalise_email(email)
    if not EMAIL.match(email) or len(email) > 254:
        raise AdminError(f"{email!r} is not an email address")
    if len(password or "") < MIN_PASSWORD:
        raise AdminError(f"the password must have at least {MIN_PASSWORD} characters")
    if db.session.execute(select(Admin.id).where(Admin.email == email)).first():
        raise AdminError(f"an admin {email} already exists")
    admin = Admin(email=email, password_hash=generate_password_hash(password), tenant_id=tenant_id)
    db.session.add(admin)
    db.session.flush()
    return admin


def authenticate(email: str, password: str) -> Admin | None:
    """The admin with this email and password (last_login updated), or None; same work either way."""
    admin = db.session.execute(select(Admin).where(Admin.email == normalise_email(email))).scalar_one_or_none()
    ok = check_password_hash(admin.password_hash if admin else _dummy_hash(), password or "")
    if admin is None or not ok:
        return None
    admin.last_login = utcnow()
    return admin


def list_admins() -> list[tuple[Admin, Tenant | None]]:
    """Every admin with its tenant (None for super-admins), by email."""
    return list(db.session.execute(select(Admin, Tenant).outerjoin(Tenant, Tenant.id == Admin.tenant_id)
                                   .order_by(Admin.email)).all())
