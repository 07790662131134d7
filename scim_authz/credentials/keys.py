"""Credentials: issuing, revoking and verifying bearer secrets. Raises typed errors, never abort()."""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from scim_authz.authz.changes import CREDENTIAL
from scim_authz.db.extensions import db
from scim_authz.db.models import Credential, Tenant, utcnow
from scim_authz.governance import changelog
from scim_authz.pdp.changes import record

log = logging.getLogger("scim_authz.credentials.keys")
PREFIXES = {"scim": "scim_", "app": "sk_", "admin": "adm_", "pdp": "pdp_"}
# last_used is a hint for the console, not an audit trail: write it at most this often.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class InvalidCredential(Exception):
    """No credential, or not a valid one; each protocol answers 401 in its own words."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class TenantDisabled(InvalidCredential):
    """A valid credential of a disabled tenant: refused like any other (401), with a message that says
    why. Not a failed authentication: the caller proved it holds the secret."""


@dataclass(frozen=True)
class Caller:
    """Who is calling: a tenant's credential, as the request layers see it."""

    tenant_id: int
    credential_id: int
    label: str  # "key <prefix>… (<name>)", for the audit log
    tenant_key: str = ""  # for log lines
    # The tenant's `log_directory_writes` setting, read with the credential: turning it on or off
    # is a credential change too (policy/tenants.update_settings), so a cached caller never has it stale.
    log_writes: bool = False


@dataclass(frozen=True)
class IssuedSecret:
    credential_id: int
    secret: str
    prefix: str


def hash_secret(secret: str) -> str:
    """sha256 hex of a secret; only this is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_credential(tenant: Tenant, kind: str, name: str = "") -> IssuedSecret:
    """Create a credential of `kind` for `tenant`; the secret is returned once and stored only as a hash."""
    if kind not in PREFIXES:
        raise ValueError(f"kind must be one of {sorted(PREFIXES)}")
    secret = PREFIXES[kind] + secrets.token_urlsafe(32)
    cred = Credential(tenant_id=tenant.id, kind=kind, name=name, secret_hash=hash_secret(secret),
                      prefix=secret[: len(PREFIXES[kind]) + 6])
    db.session.add(cred)
    db.session.flush()
    changelog.record(tenant.id, "credential.issue", f"{kind} {cred.prefix}…",
                     after={"id": cred.id, "kind": kind, "name": name, "prefix": cred.prefix})
    record(tenant.id, CREDENTIAL, [str(cred.id)])
    return IssuedSecret(cred.id, secret, cred.prefix)


def revoke_credential(tenant: Tenant, credential_id: int) -> bool:
    """Revoke one of the tenant's credentials; False when it has no such credential."""
    cred = db.session.get(Credential, credential_id)
    if cred is None or cred.tenant_id != tenant.id:
        return False
    if cred.revoked_at is None:
        cred.revoked_at = utcnow()
        changelog.record(tenant.id, "credential.revoke", f"{cred.kind} {cred.prefix}…",
                         before={"id": cred.id, "kind": cred.kind, "name": cred.name, "prefix": cred.prefix})
        # Instances cache validated keys; the change tells each of them to check again.
        record(tenant.id, CREDENTIAL, [str(cred.id)])
    return True


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer …` header, or InvalidCredential."""
    if not authorization:
        raise InvalidCredential("Authentication required: send Authorization: Bearer <token>.")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidCredential("Authorization must use the Bearer scheme.")
    return token.strip()


def authenticate(authorization: str | None, kind: str) -> tuple[Tenant, Credential]:
    """The tenant and credential behind a bearer secret of `kind`, or InvalidCredential."""
    token = bearer_token(authorization)
    digest = hash_secret(token)
    row = db.session.execute(
        select(Credential, Tenant).join(Tenant, Tenant.id == Credential.tenant_id)
        .where(Credential.secret_hash == digest)
    ).first()
    if row is None:
        raise InvalidCredential("The bearer token is not valid.")
    cred, tenant = row
    # The look-up is by digest; compare again in constant time so timing says nothing either way.
    if not hmac.compare_digest(cred.secret_hash, digest) or cred.kind != kind or cred.revoked_at is not None:
        raise InvalidCredential("The bearer token is not valid.")
    if tenant.disabled_at is not None:
        raise TenantDisabled(f"Tenant {tenant.key} is disabled: its credentials are refused until an operator "
                             "enables it again.")
    return tenant, cred


def last_used_is_stale(cred: Credential) -> bool:
    """Whether the credential's last_used is old enough to be written again."""
    return cred.last_used is None or utcnow() - cred.last_used > LAST_USED_RESOLUTION


def touch_last_used(credential_id: int) -> None:
    """Record use of a credential in the current transaction."""
    db.session.execute(update(Credential).where(Credential.id == credential_id).values(last_used=utcnow()))


def touch_last_used_now(credential_id: int) -> None:
    """Record use in a transaction of its own; a hint for the console, so a failure is only logged."""
    from scim_authz.db.txn import transaction

    try:
        with transaction(True):  # (on SQLite, in the writers' turn)
            touch_last_used(credential_id)
    except Exception:  # noqa: BLE001 - last_used must never fail a request that succeeded
        log.warning("could not record last use of credential %s", credential_id, exc_info=True)
