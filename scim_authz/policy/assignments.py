"""App-managed role assignments: a user holds a role, tenant-wide or on one resource, because the
application said so; every write logs its change."""
from __future__ import annotations

from sqlalchemy import select

from scim_authz.authz.changes import ASSIGNMENT
from scim_authz.db.extensions import db
from scim_authz.db.models import Role, RoleAssignment, User
from scim_authz.governance import changelog
from scim_authz.pdp.changes import note, record
from scim_authz.policy.errors import InvalidInput, NotFound
from scim_authz.policy.lookup import role_or_404, user_or_404
from scim_authz.policy.roles import grant_once, iso


def assignment_dict(a: RoleAssignment, role_key: str, user: User | None = None) -> dict:
    return {"id": a.id, "user": a.user_id, **({"userName": user.user_name} if user else {}), "role": role_key,
            "resource": f"{a.resource_type}:{a.resource_id}" if a.resource_type else None,
            "assigned_by": a.assigned_by, "created": iso(a.created), "source": "app"}


def assign(tenant_id: int, user_key: str, role_key: str, resource: str | None, actor: str) -> tuple[dict, int, bool]:
    """Assign a role (idempotent: an identical assignment is returned, not duplicated)."""
    user = user_or_404(tenant_id, user_key)
    role = role_or_404(tenant_id, role_key)
    a, revision, created = grant_once(tenant_id, RoleAssignment, {"user_id": user.id}, role, resource,
                                      {"assigned_by": actor}, ASSIGNMENT, user.id)
    out = assignment_dict(a, role.key, user)
    if created:
        changelog.record(tenant_id, "assignment.create", f"{user.user_name} {role.key}", after=_logged(out))
    return out, revision, created


def unassign(tenant_id: int, assignment_id: int) -> int:
    """Remove an assignment."""
    a = db.session.get(RoleAssignment, assignment_id)
    if a is None or a.tenant_id != tenant_id:
        raise NotFound(f"no role assignment {assignment_id}")
    user, role = db.session.get(User, a.user_id), db.session.get(Role, a.role_id)
    before = assignment_dict(a, role.key, user)
    changelog.record(tenant_id, "assignment.delete", f"{user.user_name} {role.key}", before=_logged(before))
    db.session.delete(a)
    db.session.flush()
    return record(tenant_id, ASSIGNMENT, [a.user_id])


def _logged(a: dict) -> dict:
    return {k: v for k, v in a.items() if k != "created"}


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
        by_id = {r.id: r.key for r in roles.values()}
        old = sorted(db.session.get(Role, rid).key for rid in current)
        changelog.record(tenant_id, "assignment.set", user.user_name, before={"roles": old},
                         after={"roles": sorted(by_id[rid] for rid in want)})
        note(tenant_id, ASSIGNMENT, [user.id])  # the caller answers with current_revision(), which writes it
