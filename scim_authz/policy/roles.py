"""Roles: named sets of `resource_type:action` permissions, with extends and a condition; every
write logs its change."""
from __future__ import annotations

from sqlalchemy import select

from scim_authz.authz.changes import ROLE
from scim_authz.authz.conditions import validate_condition
from scim_authz.db.extensions import db
from scim_authz.db.models import GroupRoleMapping, Role, RoleAssignment, Tenant, utcnow
from scim_authz.db.txn import insert_unique
from scim_authz.governance import changelog
from scim_authz.pdp.changes import current_revision, record
from scim_authz.policy.errors import Conflict, InvalidInput
from scim_authz.policy.lookup import role_or_404, role_or_none
from scim_authz.policy.vocabulary import permission_problem


def iso(dt) -> str:
    """A time as the API shows it: UTC, to the second, with Z."""
    return dt.isoformat(timespec="seconds") + "Z"


def scope_of(resource: str | None) -> tuple[str, str]:
    """("type", "id") of a "type:id" scope; ("", "") for tenant-wide."""
    if not resource:
        return "", ""
    t, _, i = resource.partition(":")
    return t, i


def grant_once(tenant_id: int, model, holder: dict, role: Role, resource: str | None, extra: dict, kind: str,
               ref: str):
    """Give `holder` (a user's or a group's id column) `role` on `resource` through a row of `model`
    (an assignment or a mapping) unless an identical one exists: (row, revision, created). A
    concurrent identical grant that commits first is returned as if it had been there before."""
    rt, ri = scope_of(resource)
    where = {"tenant_id": tenant_id, **holder, "role_id": role.id, "resource_type": rt, "resource_id": ri}

    def find():
        return db.session.execute(select(model).filter_by(**where)).scalar_one_or_none()

    row = find()
    if row is None:
        row, created = insert_unique(model(**where, **extra), find)
        if created:
            return row, record(tenant_id, kind, [ref]), True
    return row, current_revision(tenant_id), False


def role_dict(r: Role) -> dict:
    return {"key": r.key, "name": r.name, "description": r.description, "permissions": list(r.permissions),
            "extends": list(r.extends), "condition": r.condition, "created": iso(r.created),
            "updated": iso(r.updated)}


def _logged(role: dict) -> dict:
    """A role as the change log keeps it: what decides, not when it was stored."""
    return {k: v for k, v in role.items() if k not in ("created", "updated")}


def list_roles(tenant_id: int) -> list[dict]:
    """Every role of the tenant, by key."""
    return [role_dict(r) for r in db.session.execute(
        select(Role).where(Role.tenant_id == tenant_id).order_by(Role.key)).scalars()]


def _check_role(tenant_id: int, key: str, data: dict) -> None:
    if data.get("condition"):
        problem = validate_condition(data["condition"])
        if problem:
            raise InvalidInput("the condition is not valid", details={"condition": [problem]})
    extends = data.get("extends") or []
    if extends:
        existing = dict(db.session.execute(select(Role.key, Role.extends).where(
            Role.tenant_id == tenant_id)).all())
        missing = [k for k in extends if k not in existing and k != key]
        if missing:
            raise InvalidInput("a role can only extend existing roles", details={"extends": [
                f"no role {k!r}" for k in missing]})
        existing[key] = extends
        # Refuse a cycle: walking up from the new parents must never come back to this role.
        stack, seen = list(extends), set()
        while stack:
            k = stack.pop()
            if k == key:
                raise InvalidInput("roles cannot extend each other in a cycle",
                                     details={"extends": [f"{key} would inherit from itself"]})
            if k not in seen:
                seen.add(k)
                stack.extend(existing.get(k) or [])


def create_role(tenant_id: int, data: dict) -> tuple[dict, int]:
    """Create a role; 409 when the key is taken."""
    if db.session.execute(select(Role.id).where(Role.tenant_id == tenant_id, Role.key == data["key"])).first():
        raise Conflict(f"a role {data['key']!r} already exists")
    _check_role(tenant_id, data["key"], data)
    role = Role(tenant_id=tenant_id, key=data["key"], name=data.get("name") or data["key"],
                description=data.get("description") or "", permissions=sorted(set(data.get("permissions") or [])),
                extends=list(dict.fromkeys(data.get("extends") or [])), condition=data.get("condition") or None)
    _, created = insert_unique(role, lambda: role_or_none(tenant_id, data["key"]))
    if not created:  # a concurrent request made it first: what a second, sequential create gets
        raise Conflict(f"a role {data['key']!r} already exists")
    out = role_dict(role)
    changelog.record(tenant_id, "role.create", role.key, after=_logged(out))
    return out, record(tenant_id, ROLE, [role.key])


def update_role(tenant_id: int, key: str, data: dict, *, partial: bool) -> tuple[dict, int]:
    """Replace (PUT) or change (PATCH) a role; the key cannot change."""
    role = role_or_404(tenant_id, key)
    before = _logged(role_dict(role))
    if data.get("key") not in (None, key):
        raise InvalidInput("a role's key cannot change", details={"key": ["read-only"]})
    merged = {"name": role.name, "description": role.description, "permissions": role.permissions,
              "extends": role.extends, "condition": role.condition} if partial else {}
    merged.update({k: v for k, v in data.items() if k != "key"})
    _check_role(tenant_id, key, merged)
    role.name = merged.get("name") or key
    role.description = merged.get("description") or ""
    role.permissions = sorted(set(merged.get("permissions") or []))
    role.extends = list(dict.fromkeys(merged.get("extends") or []))
    role.condition = merged.get("condition") or None
    role.updated = utcnow()
    out = role_dict(role)
    changelog.record(tenant_id, "role.update", key, before=before, after=_logged(out))
    return out, record(tenant_id, ROLE, [key])


def delete_role(tenant_id: int, key: str) -> int:
    """Delete a role with its assignments and mappings; 409 while another role extends it."""
    role = role_or_404(tenant_id, key)
    heirs = [r.key for r in db.session.execute(select(Role).where(Role.tenant_id == tenant_id)).scalars()
             if key in (r.extends or [])]
    if heirs:
        raise Conflict(f"roles {', '.join(sorted(heirs))} extend {key!r}; change them first")
    tenant = db.session.get(Tenant, tenant_id)
    if (tenant.settings or {}).get("default_role") == key:
        tenant.settings = {**tenant.settings, "default_role": None}  # new users get no role, not an error
    db.session.execute(RoleAssignment.__table__.delete().where(RoleAssignment.role_id == role.id))
    db.session.execute(GroupRoleMapping.__table__.delete().where(GroupRoleMapping.role_id == role.id))
    changelog.record(tenant_id, "role.delete", key, before=_logged(role_dict(role)))
    db.session.delete(role)
    db.session.flush()
    return record(tenant_id, ROLE, [key])


def uncheckable_permissions(tenant_id: int | None = None) -> list[tuple[str, str, str, str]]:
    """(tenant key, role key, permission, why) for every saved permission the engine could never be
    asked about (saved before permissions were held to the check's vocabulary). Nothing is changed:
    an admin decides what each should become."""
    q = select(Tenant.key, Role.key, Role.permissions).join(Tenant, Tenant.id == Role.tenant_id)
    if tenant_id is not None:
        q = q.where(Role.tenant_id == tenant_id)
    return [(t, r, p, problem) for t, r, perms in db.session.execute(q.order_by(Tenant.key, Role.key)).all()
            for p in perms or [] if (problem := permission_problem(p))]
