"""IdP-managed roles: a group the identity provider pushed is mapped to a role, tenant-wide or on
one resource; every write logs its change."""
from __future__ import annotations

from sqlalchemy import select

from scim_authz.authz.changes import MAPPING
from scim_authz.db.extensions import db
from scim_authz.db.models import Group, GroupRoleMapping, Role
from scim_authz.governance import changelog
from scim_authz.pdp.changes import record
from scim_authz.policy.errors import NotFound
from scim_authz.policy.lookup import group_or_404, role_or_404
from scim_authz.policy.roles import grant_once, iso


def mapping_dict(m: GroupRoleMapping, role_key: str, group: Group) -> dict:
    return {"id": m.id, "group": {"id": group.id, "displayName": group.display_name}, "role": role_key,
            "resource": f"{m.resource_type}:{m.resource_id}" if m.resource_type else None,
            "created_by": m.created_by, "created": iso(m.created), "source": "idp"}


def map_group(tenant_id: int, group_key: str, role_key: str, resource: str | None,
              actor: str) -> tuple[dict, int, bool]:
    """Map a pushed group to a role (idempotent)."""
    group = group_or_404(tenant_id, group_key)
    role = role_or_404(tenant_id, role_key)
    m, revision, created = grant_once(tenant_id, GroupRoleMapping, {"group_id": group.id}, role, resource,
                                      {"created_by": actor}, MAPPING, group.id)
    out = mapping_dict(m, role.key, group)
    if created:
        changelog.record(tenant_id, "mapping.create", f"{group.display_name} {role.key}", after=_logged(out))
    return out, revision, created


def unmap(tenant_id: int, mapping_id: int) -> int:
    m = db.session.get(GroupRoleMapping, mapping_id)
    if m is None or m.tenant_id != tenant_id:
        raise NotFound(f"no group mapping {mapping_id}")
    group, role = db.session.get(Group, m.group_id), db.session.get(Role, m.role_id)
    changelog.record(tenant_id, "mapping.delete", f"{group.display_name} {role.key}",
                     before=_logged(mapping_dict(m, role.key, group)))
    db.session.delete(m)
    db.session.flush()
    return record(tenant_id, MAPPING, [m.group_id])


def _logged(m: dict) -> dict:
    return {k: v for k, v in m.items() if k != "created"}


def list_mappings(tenant_id: int, group_key: str | None = None) -> list[dict]:
    q = select(GroupRoleMapping, Role.key, Group).join(Role, Role.id == GroupRoleMapping.role_id).join(
        Group, Group.id == GroupRoleMapping.group_id).where(GroupRoleMapping.tenant_id == tenant_id)
    if group_key:
        q = q.where(GroupRoleMapping.group_id == group_or_404(tenant_id, group_key).id)
    return [mapping_dict(m, k, g) for m, k, g in db.session.execute(q.order_by(GroupRoleMapping.id)).all()]
