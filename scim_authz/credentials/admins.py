"""Console admins: create, list, check a password, disable and enable, set a new password, and end
their console sessions (by bumping the session epoch every session carries; see
scim_authz/admin/sessions.py). Raises AdminError, never abort()."""
from __future__ import annotations

import functools
import re

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from scim_authz.db.extensions import db
from scim_authz.db.models import Admin, Tenant, utcnow
from scim_authz.governance import changelog

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


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AdminError(f"the password must have at least {MIN_PASSWORD} characters")


def create_admin(email: str, password: str, tenant_id: int | None) -> Admin:
    """A new admin of one tenant, or (tenant_id None) a super-admin; the password is stored hashed."""
    email = normalise_email(email)
    if not EMAIL.match(email) or len(email) > 254:
        raise AdminError(f"{email!r} is not an email address")
    _check_password(password)
    if db.session.execute(select(Admin.id).where(Admin.email == email)).first():
        raise AdminError(f"an admin {email} already exists")
    admin = Admin(email=email, password_hash=generate_password_hash(password), tenant_id=tenant_id)
    db.session.add(admin)
    db.session.flush()
    changelog.record(tenant_id, "admin.create", email, after={"email": email, "super": tenant_id is None})
    return admin


def find_admin(email: str) -> Admin | None:
    """The admin with this email (any case), or None."""
    return db.session.execute(select(Admin).where(Admin.email == normalise_email(email))).scalar_one_or_none()


def _existing(email: str) -> Admin:
    admin = find_admin(email)
    if admin is None:
        raise AdminError(f"there is no admin {normalise_email(email)}")
    return admin


def authenticate(email: str, password: str) -> Admin | None:
    """The enabled admin with this email and password (last_login updated), or None; the same work
    either way, and a disabled admin is told nothing a wrong password would not tell."""
    admin = find_admin(email)
    ok = check_password_hash(admin.password_hash if admin else _dummy_hash(), password or "")
    if admin is None or not ok or admin.disabled_at is not None:
        return None
    admin.last_login = utcnow()
    return admin


def end_sessions(admin: Admin) -> None:
    """End every console session of `admin`, in every browser: each carries the epoch it began in.
    Incremented in SQL, so two requests ending sessions at once cannot both write the same number."""
    admin.session_epoch = Admin.session_epoch + 1
    db.session.flush()


def set_disabled(email: str, disabled: bool) -> Admin:
    """Disable the admin (no sign-in, and their sessions end at their next request) or enable them
    again; enabling revives no session, and disabling twice keeps the first date."""
    admin = _existing(email)
    was = admin.disabled_at is not None
    if disabled:
        admin.disabled_at = admin.disabled_at or utcnow()
        end_sessions(admin)
    else:
        admin.disabled_at = None
    if was != disabled:
        changelog.record(admin.tenant_id, "admin.disable" if disabled else "admin.enable", admin.email,
                         before={"disabled": was}, after={"disabled": disabled})
    return admin


def set_password(email: str, password: str) -> Admin:
    """Give the admin a new password and end their sessions (whoever knew the old one is signed out).
    A disabled admin stays disabled."""
    admin = _existing(email)
    _check_password(password)
    admin.password_hash = generate_password_hash(password)
    end_sessions(admin)
    changelog.record(admin.tenant_id, "admin.password", admin.email)  # that it changed, never what to
    return admin


def list_admins() -> list[tuple[Admin, Tenant | None]]:
    """Every admin with its tenant (None for super-admins), by email."""
    return list(db.session.execute(select(Admin, Tenant).outerjoin(Tenant, Tenant.id == Admin.tenant_id)
                                   .order_by(Admin.email)).all())
