"""Tenants: creating and finding them, and their settings as applications and admins change them
(role mode, default role, JWT verification)."""
from __future__ import annotations

import re

from sqlalchemy import select

from scim_authz.authz.changes import CREDENTIAL, TENANT
from scim_authz.credentials import safe_fetch
from scim_authz.db.extensions import db
from scim_authz.db.models import Credential, Tenant
from scim_authz.governance import changelog
from scim_authz.pdp.changes import note, record
from scim_authz.policy.errors import Conflict, InvalidInput, NotFound
from scim_authz.policy.lookup import role_or_404
from scim_authz.policy.vocabulary import ROLE_MODES

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def create_tenant(key: str, name: str | None = None, role_mode: str = "hybrid") -> Tenant:
    """Create a tenant with a URL-safe key (lowercase letters, digits, dashes)."""
    if not KEY_RE.match(key):
        raise InvalidInput("tenant key must be 1-63 lowercase letters, digits or dashes, starting with a letter or "
                           "digit", details={"key": ["1-63 lowercase letters, digits or dashes"]})
    if role_mode not in ROLE_MODES:
        raise InvalidInput(f"role mode must be one of {', '.join(ROLE_MODES)}",
                           details={"role_mode": [f"one of {', '.join(ROLE_MODES)}"]})
    if find_tenant(key) is not None:
        raise Conflict(f"tenant {key!r} already exists")
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


def settings_dict(t: Tenant) -> dict:
    """The tenant's settings as they are shown (a JWT shared secret never is)."""
    s = t.settings or {}
    jwt = dict(s.get("jwt") or {})
    if jwt.get("hs256_secret"):
        jwt["hs256_secret"] = "********"  # never echoed
    return {"key": t.key, "name": t.name, "role_mode": t.role_mode, "role_mode_meaning": ROLE_MODES[t.role_mode],
            "default_role": s.get("default_role"), "jwt": jwt or None,
            "log_directory_writes": bool(s.get("log_directory_writes")), "revision": t.revision}


def update_settings(tenant_id: int, data: dict, *, jwks_require_https: bool = True,
                    jwks_allow_private: bool = False) -> tuple[dict, int]:
    """Change the name, the role mode, the default role, or the JWT configuration."""
    t = db.session.get(Tenant, tenant_id)
    before = _logged(settings_dict(t))
    settings = dict(t.settings or {})
    if "name" in data:
        t.name = data["name"]
    if "role_mode" in data:
        if data["role_mode"] not in ROLE_MODES:
            raise InvalidInput("unknown role mode", details={"role_mode": [f"one of {', '.join(ROLE_MODES)}"]})
        t.role_mode = data["role_mode"]
    if "default_role" in data:
        if data["default_role"]:
            try:
                role_or_404(tenant_id, data["default_role"])
            except NotFound as e:
                raise InvalidInput("the default role must exist", details={"default_role": [e.message]}) from e
        settings["default_role"] = data["default_role"]
    if "jwt" in data:
        jwt = data["jwt"]
        if jwt and not (jwt.get("jwks_url") or jwt.get("jwks") or jwt.get("hs256_secret")):
            raise InvalidInput("JWT verification needs keys", details={"jwt": ["give jwks_url, jwks, or hs256_secret"]})
        if jwt and not (jwt.get("issuer") and jwt.get("audience")):
            raise InvalidInput("JWT verification needs an issuer and an audience",
                               details={"jwt": ["issuer and audience are required"]})
        if jwt and jwt.get("jwks_url"):
            _check_jwks_url(jwt["jwks_url"], jwks_require_https, jwks_allow_private)
        settings["jwt"] = jwt
    log_writes = bool(data.get("log_directory_writes"))
    if "log_directory_writes" in data and log_writes != bool(settings.get("log_directory_writes")):
        settings["log_directory_writes"] = log_writes
        # Every instance's credential cache carries the setting with the tenant's tokens
        # (credentials/keys.Caller.log_writes): a credential change makes them read it again.
        live = db.session.execute(select(Credential.id).where(
            Credential.tenant_id == tenant_id, Credential.revoked_at.is_(None))).scalars()
        note(tenant_id, CREDENTIAL, [str(cid) for cid in live])
    t.settings = settings
    db.session.flush()
    after = _logged(settings_dict(t))
    changelog.record(tenant_id, "tenant.settings", t.key, before=before, after=after)
    return settings_dict(t), record(tenant_id, TENANT, [str(tenant_id)])


def _logged(settings: dict) -> dict:
    """Settings as the change log keeps them (a shared secret masked, as settings_dict shows it)."""
    return {k: v for k, v in settings.items() if k not in ("revision", "role_mode_meaning")}


def _check_jwks_url(url: str, require_https: bool, allow_private: bool) -> None:
    """Refuse a jwks_url the server would not fetch, when it is written rather than at the first check.

    Whether https is required and private addresses allowed are the operator's settings, which the
    edge passes in (AUTHZ_JWKS_REQUIRE_HTTPS, on in production; AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS);
    a caller that passes nothing gets the strict default."""
    problem = safe_fetch.url_problem(url, require_https=require_https, allow_private=allow_private)
    if problem:
        # Shaped like the schema's own errors for this field: {"jwt": {"jwks_url": [...]}}.
        raise InvalidInput(f"jwks_url {problem}", details={"jwt": {"jwks_url": [problem]}})
