"""The end user behind a check: a user key, or a JWT verified and synced on first sight."""
from __future__ import annotations

import logging

from flask import current_app, g

from scim_authz.api.context import NO_DATABASE
from scim_authz.api.errors import APIError, InvalidRequest
from scim_authz.credentials.end_user_jwt import JWTError, verify_end_user_jwt
from scim_authz.db.extensions import db
from scim_authz.db.models import Tenant
from scim_authz.db.txn import transaction

log = logging.getLogger("scim_authz.api")


class InvalidToken(APIError):
    """The end user's JWT did not verify."""
    status = 401
    code = "invalid_user_token"


def resolve(tenant_id: int, user: dict) -> tuple[str, dict | None, int | None]:
    """(user key, verified claims or None, revision the check must see or None).

    A JWT is verified against the tenant's issuer, audience and keys; its user is found by the
    configured claims (externalId, then userName) or created with the tenant's default role, in a
    transaction of its own, before the check."""
    if "jwt" not in user:
        return user["key"], None, None
    if NO_DATABASE in current_app.extensions:
        raise InvalidRequest("a decision point decides for users by id or userName; an end user's JWT is verified, "
                             "and its user synced, at the control plane")
    st = g.get("store")  # the tenant's policy, brought up to date for this request: no query
    tenant_settings = st.settings if st is not None and st.tenant_id == tenant_id else \
        (db.session.get(Tenant, tenant_id).settings or {})
    settings = tenant_settings.get("jwt") or {}
    try:
        claims = verify_end_user_jwt(user["jwt"], settings)
    except JWTError as e:
        if e.public != e.reason:  # the caller is told less than happened; the operator is told all
            log.warning("tenant %s: an end user's JWT was refused: %s", tenant_id, e.reason)
        raise InvalidToken(f"the user's token was refused: {e.public}") from e
    uid_claim = settings.get("user_claim") or "sub"
    name_claim = settings.get("username_claim") or "email"
    external = claims.get(uid_claim)
    user_name = claims.get(name_claim) or external
    if not isinstance(external, str) or not external:
        raise InvalidToken(f"the user's token has no {uid_claim!r} claim")
    from scim_authz.policy.lookup import find_user
    from scim_authz.policy.users import sync_user

    found = find_user(tenant_id, external) or (find_user(tenant_id, user_name) if isinstance(user_name, str) else None)
    if found is not None:
        return found.id, claims, None
    db.session.rollback()
    with transaction(True):
        data = {"userName": user_name if isinstance(user_name, str) else external, "externalId": external,
                "displayName": claims.get("name") if isinstance(claims.get("name"), str) else None,
                "email": None, "active": None, "attributes": None, "roles": None}
        created, _, revision = sync_user(tenant_id, external, data, actor=f"jwt {g.caller.label}")
    return created["id"], claims, revision
