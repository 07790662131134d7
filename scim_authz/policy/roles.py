"""Roles, app-managed assignments and IdP-managed group mappings; every write logs its change."""
from __future__ import annotations

from sqlalchemy import select

from scim_authz.authz.changes import ASSIGNMENT, MAPPING, ROLE
from scim_authz.authz.conditions import validate_condition
from scim_authz.db.extensions import db
from scim_authz.db.models import Group, GroupRoleMapping, Role, RoleAssignment, Tenant, User, utcnow
from scim_authz.pdp.changes import current_revision, record
from scim_authz.policy.errors import Conflict, InvalidInput, NotFound
from scim_authz.policy.lookup import group_or_404, role_or_404, user_or_404
from scim_authz.policy.vocabulary import permission_problem


def _iso(dt) -> str:
    return dt.isoformat(timespec="seconds") + "Z"


def role_dict(r: Role) -> dict:
    return {"key": r.key, "name": r.name, "description": r.description, "permissions": list(r.permissions),
            "extends": list(r.extends), "condition": r.condition, "created": _iso(r.created),
            "updated": _iso(r.updated)}


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
    db.session.add(role)
    db.session.flush()
    return role_dict(role), record(tenant_id, ROLE, [role.key])


def update_role(tenant_id: int, key: str, data: dict, *, partial: bool) -> tuple[dict, int]:
    """Replace (PUT) or change (PATCH) a role; the key cannot change."""
    role = role_or_404(tenant_id, key)
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
    return role_dict(role), record(tenant_id, ROLE, [key])


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
    db.session.delete(role)
    db.session.flush()
    return record(tenant_id, ROLE, [key])


# ---- app-managed assignments ------------------------------------------------------------------

def _scope(resource: str | None) -> tuple[str, str]:
    if not resource:
        return "", ""
    t, _, i = resource.partition(":")
    return t, i


def assignment_dict(a: RoleAssignment, role_key: str, user: User | None = None) -> dict:
    return {"id": a.id, "user": a.user_id, **({"userName": user.user_name} if user else {}), "role": role_key,
            "resource": f"{a.resource_type}:{a.resource_id}" if a.resource_type else None,
            "assigned_by": a.assigned_by, "created": _iso(a.created), "source": "app"}


def assign(tenant_id: int, user_key: str, role_key: str, resource: str | None, actor: str) -> tuple[dict, int, bool]:
    """Assign a role (idempotent: an identical assignment is returned, not duplicated)."""
    user = user_or_404(tenant_id, user_key)
    role = role_or_404(tenant_id, role_key)
    rt, ri = _scope(resource)
    existing = db.session.execute(select(RoleAssignment).where(
        RoleAssignment.tenant_id == tenant_id, RoleAssignment.user_id == user.id, RoleAssignment.role_id == role.id,
        RoleAssignment.resource_type == rt, RoleAssignment.resource_id == ri)).scalar_one_or_none()
    if existing is not None:
        return assignment_dict(existing, role.key, user), current_revision(tenant_id), False
    a = RoleAssignment(tenant_id=tenant_id, user_id=user.id, role_id=role.id, resource_type=rt, resource_id=ri,
                       assigned_by=actor)
    db.session.add(a)
    db.session.flush()
    return assignment_dict(a, role.key, user), record(tenant_id, ASSIGNMENT, [user.id]), True


def unassign(tenant_id: int, assignment_id: int) -> int:
    """Remove an assignment."""
    a = db.session.get(RoleAssignment, assignment_id)
    if a is None or a.tenant_id != tenant_id:
        raise NotFound(f"no role assignment {assignment_id}")
    db.session.delete(a)
    db.session.flush()
    return record(tenant_id, ASSIGNMENT, [a.user_id])


def list_assignments(tenant_id: int, user_key: str | None = None, role_key: str | None = None) -> list[dict]:
    q = select(RoleAssignment, Role.key, User).join(Role, Role.id == RoleAssignment.role_id).join(
        User, User.id == RoleAssignment.user_id).where(RoleAssignment.tenant_id == tenant_id)
    if user_key:
        q = q.where(RoleAssignment.user_id == user_or_404(tenant_id, user_key).id)
    if role_key:
        q = q.where(Role.key == role_key)
    return [assignment_dict(a, k, u) for a, k, u in db.session.execute(q.order_by(RoleAssignment.id)).all()]


def set_tenant_roles(tenant_id: int, user: User, role_keys: list[str], actor: str) -> None:
    """Make the user's tenant-wide app-managed roles exactly these (syncUser); instance roles stay."""
    roles = {r.key: r for r in db.session.execute(select(Role).where(
        Role.tenant_id == tenant_id, Role.key.in_(role_keys))).scalars()} if role_keys else {}
    missing = [k for k in role_keys if k not in roles]
    if missing:
        raise InvalidInput("unknown roles", details={"roles": [f"no role {k!r}" for k in missing]})
    current = {a.role_id: a for a in db.session.execute(select(RoleAssignment).where(
        RoleAssignment.tenant_id == tenant_id, RoleAssignment.user_id == user.id,
        RoleAssignment.resource_type == "")).scalars()}
    want = {r.id for r in roles.values()}
    changed = False
    for rid, a in current.items():
        if rid not in want:
            db.session.delete(a)
            changed = True
    for rid in want - current.keys():
        db.session.add(RoleAssignment(tenant_id=tenant_id, user_id=user.id, role_id=rid, resource_type="",
                                      resource_id="", assigned_by=actor))
        changed = True
    if changed:
        db.session.flush()
        record(tenant_id, ASSIGNMENT, [user.id])


# ---- IdP-managed group mappings ---------------------------------------------------------------

def mapping_dict(m: GroupRoleMapping, role_key: str, group: Group) -> dict:
    return {"id": m.id, "group": {"id": group.id, "displayName": group.display_name}, "role": role_key,
            "resource": f"{m.resource_type}:{m.resource_id}" if m.resource_type else None,
            "created_by": m.created_by, "created": _iso(m.created), "source": "idp"}


def map_group(tenant_id: int, group_key: str, role_key: str, resource: str | None,
              actor: str) -> tuple[dict, int, bool]:
    """Map a pushed group to a role (idempotent)."""
    group = group_or_404(tenant_id, group_key)
    role = role_or_404(tenant_id, role_key)
    rt, ri = _scope(resource)
    existing = db.session.execute(select(GroupRoleMapping).where(
        GroupRoleMapping.tenant_id == tenant_id, GroupRoleMapping.group_id == group.id,
        GroupRoleMapping.role_id == role.id, GroupRoleMapping.resource_type == rt,
        GroupRoleMapping.resource_id == ri)).scalar_one_or_none()
    if existing is not None:
        return mapping_dict(existing, role.key, group), current_revision(tenant_id), False
    m = GroupRoleMapping(tenant_id=tenant_id, group_id=group.id, role_id=role.id, resource_type=rt, resource_id=ri,
                         created_by=actor)
    db.session.add(m)
    db.session.flush()
    return mapping_dict(m, role.key, group), record(tenant_id, MAPPING, [group.id]), True


def unmap(tenant_id: int, mapping_id: int) -> int:
    m = db.session.get(GroupRoleMapping, mapping_id)
    if m is None or m.tenant_id != tenant_id:
        raise NotFound(f"no group mapping {mapping_id}")
    db.session.delete(m)
    db.session.flush()
    return record(tenant_id, MAPPING, [m.group_id])


def list_mappings(tenant_id: int, group_key: str | None = None) -> list[dict]:
    q = select(GroupRoleMapping, Role.key, Group).join(Role, Role.id == GroupRoleMapping.role_id).join(
        Group, Group.id == GroupRoleMapping.group_id).where(GroupRoleMapping.tenant_id == tenant_id)
    if group_key:
        q = q.where(GroupRoleMapping.group_id == group_or_404(tenant_id, group_key).id)
    return [mapping_dict(m, k, g) for m, k, g in db.session.execute(q.order_by(GroupRoleMapping.id)).all()]


def uncheckable_permissions(tenant_id: int | None = None) -> list[tuple[str, str, str, str]]:
    """(tenant key, role key, permission, why) for every saved permission the engine could never be
    asked about (saved before permissions were held to the check's vocabulary). Nothing is changed:
    an admin decides what each should become."""
    q = select(Tenant.key, Role.key, Role.permissions).join(Tenant, Tenant.id == Role.tenant_id)
    if tenant_id is not None:
        q = q.where(Role.tenant_id == tenant_id)
    return [(t, r, p, problem) for t, r, perms in db.session.execute(q.order_by(Tenant.key, Role.key)).all()
            for p in perms or [] if (problem := permission_problem(p))]
