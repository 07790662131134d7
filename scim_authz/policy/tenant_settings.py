"""A tenant's settings as applications see them: role mode, default role, JWT verification."""
from __future__ import annotations

from scim_authz.api.errors import InvalidRequest
from scim_authz.policy.lookup import role_or_404
from scim_authz.api.errors import NotFound
from scim_authz.pdp.changes import record
from scim_authz.db.extensions import db
from scim_authz.db.models import Tenant

MODES = {
    "idp": "Only roles mapped from the identity provider's groups count.",
    "app": "Only roles the application assigns count.",
    "hybrid": "Roles from both count, each keeping where it came from.",
}


def settings_dict(t: Tenant) -> dict:
    s = t.settings or {}
    jwt = dict(s.get("jwt") or {})
    if jwt.get("hs256_secret"):
        jwt["hs256_secret"] = "********"  # never echoed
    return {"key": t.key, "name": t.name, "role_mode": t.role_mode, "role_mode_meaning": MODES[t.role_mode],
            "default_role": s.get("default_role"), "jwt": jwt or None, "revision": t.revision}


def update_settings(tenant_id: int, data: dict) -> tuple[dict, int]:
    """Change the role mode, the default role, or the JWT configuration."""
    t = db.session.get(Tenant, tenant_id)
    settings = dict(t.settings or {})
    if "name" in data:
        t.name = data["name"]
    if "role_mode" in data:
        t.role_mode = data["role_mode"]
    if "default_role" in data:
        if data["default_role"]:
            try:
                role_or_404(tenant_id, data["default_role"])
            except NotFound as e:
                raise InvalidRequest("the default role must exist", details={"default_role": [e.message]}) from e
        settings["default_role"] = data["default_role"]
    if "jwt" in data:
        jwt = data["jwt"]
        if jwt and not (jwt.get("jwks_url") or jwt.get("jwks") or jwt.get("hs256_secret")):
            raise InvalidRequest("JWT verification needs keys", details={"jwt": [
                "give jwks_url, jwks, or hs256_secret"]})
        if jwt and not (jwt.get("issuer") and jwt.get("audience")):
            raise InvalidRequest("JWT verification needs an issuer and an audience",
                                 details={"jwt": ["issuer and audience are required"]})
        settings["jwt"] = jwt
    t.settings = settings
    db.session.flush()
    return settings_dict(t), record(tenant_id, "tenant", [str(tenant_id)])
