"""syncUser at the handoff point, bulk sync, and users first seen in a verified JWT."""
from __future__ import annotations

from scim_authz.authz.changes import USER
from scim_authz.db.extensions import db
from scim_authz.db.models import Tenant, User
from scim_authz.directory import service as directory
from scim_authz.directory.errors import Conflict as DirectoryConflict
from scim_authz.directory.errors import ValueTooLong
from scim_authz.pdp.changes import current_revision, note, savepoint
from scim_authz.policy import assignments
from scim_authz.policy.errors import Conflict, InvalidInput, PolicyError
from scim_authz.policy.lookup import find_user, role_exists


def user_dict(u: User) -> dict:
    return {"id": u.id, "userName": u.user_name, "externalId": u.external_id, "displayName": u.display_name,
            "active": u.active, "attributes": dict(u.app_attributes or {}),
            "created": u.created.isoformat(timespec="seconds") + "Z",
            "lastModified": u.last_modified.isoformat(timespec="seconds") + "Z"}


def _doc(existing: dict | None, key: str, data: dict) -> dict:
    doc = dict(existing or {})
    doc["userName"] = data.get("userName") or doc.get("userName") or key
    for field in ("externalId", "displayName", "active"):
        if data.get(field) is not None:
            doc[field] = data[field]
    if data.get("email"):
        emails = [e for e in doc.get("emails", []) if e.get("type") != "work"]
        doc["emails"] = [{"value": data["email"], "type": "work", "primary": True}, *emails]
    return doc


def sync_user(tenant_id: int, key: str, data: dict, actor: str) -> tuple[dict, bool, int]:
    """Create or update the user the app knows as `key` (an id, externalId or userName); returns the
    user, whether it was created, and the tenant's revision with the sync in it.

    On first sight the tenant's default role is assigned unless `roles` says otherwise; when
    `roles` is given, the user's tenant-wide app-managed roles become exactly those."""
    user, created = _sync(tenant_id, key, data, actor)
    return user, created, current_revision(tenant_id)


def _sync(tenant_id: int, key: str, data: dict, actor: str) -> tuple[dict, bool]:
    """sync_user's work; what it changed advances the revision when the caller asks for it (or at commit)."""
    user = find_user(tenant_id, key)
    # The app's key may not be what the IdP provisioned; the same person by userName or
    # externalId is the same user, not a duplicate.
    for other in (data.get("externalId"), data.get("userName")):
        if user is None and other:
            user = find_user(tenant_id, other)
    created = user is None
    try:
        if created:
            doc = _doc(None, key, data)
            if data.get("externalId") is None and data.get("userName") and key != data["userName"]:
                doc["externalId"] = key
            try:
                with savepoint():
                    user = directory.create_user(tenant_id, doc)
            except DirectoryConflict:
                # On PostgreSQL a concurrent sync of the same user may have committed it first;
                # then this is the update a sequential second sync would have been.
                user = find_user(tenant_id, doc["userName"])
                if user is None:
                    raise
                created = False
        if not created:
            directory.replace_user(user, _doc(user.doc, key, data))
    except DirectoryConflict as e:
        raise Conflict(str(e)) from e
    except ValueTooLong as e:
        raise InvalidInput(str(e)) from e
    if data.get("attributes") is not None and dict(data["attributes"]) != (user.app_attributes or {}):
        user.app_attributes = dict(data["attributes"])
        note(tenant_id, USER, [user.id])
    roles = data.get("roles")
    if roles is None and created:
        default = (db.session.get(Tenant, tenant_id).settings or {}).get("default_role")
        if default and role_exists(tenant_id, default):
            roles = [default]
    if roles is not None:
        assignments.set_tenant_roles(tenant_id, user, roles, actor)
    return user_dict(user), created


def bulk_sync(tenant_id: int, items: list, actor: str, load_item) -> tuple[list[dict], int]:
    """Sync many users; each item succeeds or fails alone (a savepoint each), reported per item:
    {"index", "key", "created", "user"} or {"index", "key", "error": PolicyError}. `load_item` turns a
    raw item into sync_user's input, raising a PolicyError for one that is not valid."""
    results = []
    for n, raw in enumerate(items):
        try:
            item = load_item(raw)
            with savepoint():  # (every user's changes advance the revision once, together, at the end)
                user, created = _sync(tenant_id, item["key"], item, actor)
            results.append({"index": n, "key": item["key"], "created": created, "user": user})
        except PolicyError as e:
            results.append({"index": n, "key": raw.get("key") if isinstance(raw, dict) else None, "error": e})
    return results, current_revision(tenant_id)
