"""What a role's condition reads: `user.*` (the user's SCIM attributes, id and group names, with
the JWT claims a check passes), `resource.*` (the attributes the server holds for the resource,
overridden key by key by the properties a request gives) and `context.*`."""
from __future__ import annotations

from collections.abc import Mapping

from scim_authz.authz import grants as grants_mod
from scim_authz.authz.conditions import ConditionEvalError
from scim_authz.authz.store import Reader, TenantStore

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def user_env(reader: Reader, st: TenantStore, user_id: str, claims: Mapping | None) -> dict:
    """`user.*`: the SCIM attributes, id, group names, and the claims (also whole, as `user.claims`)."""
    attrs = st.attr_cache.get(user_id)
    if attrs is None:
        doc = reader.user_attributes(st.tenant_id, user_id)
        attrs = {k: v for k, v in doc.items() if not k.startswith("urn:")}
        if ENTERPRISE in doc:
            attrs["enterprise"] = doc[ENTERPRISE]
        attrs["id"] = user_id
        ug = grants_mod.of(st, user_id)
        attrs["groups"] = sorted(st.groups[g].name for g in ug.groups if g in st.groups)
        st.attr_cache[user_id] = attrs
    if claims:
        attrs = {**{k: v for k, v in claims.items()}, **attrs, "claims": dict(claims)}
    return attrs


def resource_env(st: TenantStore, rtype: str, rid: str, given: Mapping | None) -> dict:
    """`resource.*`: the attributes the server holds for rtype:rid, overridden key by key by the
    properties the request gives (the caller may know a newer state than it has written)."""
    held = st.resource_attributes(rtype, rid)
    if held is None:
        return dict(given or {})
    return {**held, **given} if given else dict(held)


def holds_factory(reader: Reader, st: TenantStore, uid: str, claims, context, resource: Mapping):
    """`holds(role, grant)` for a lookup: does the role's condition hold for this user, resource
    and context? (A condition that cannot be evaluated does not hold.)"""
    env_cache: list[dict] = []

    def holds(role, g) -> bool:
        if role.condition is None:
            return True
        if not env_cache:
            env_cache.append({"user": user_env(reader, st, uid, claims), "resource": dict(resource),
                              "context": dict(context or {})})
        try:
            return role.condition.evaluate(env_cache[0])
        except ConditionEvalError:
            return False
    return holds
