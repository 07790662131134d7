"""A tenant's policy as it stands in the database, section by section, and the same as a policy
document (`policy export`): what diff compares a file with, and what a round trip reproduces.

Groups are named by displayName, or by externalId where two groups of the tenant share the
displayName and this one has an externalId; users by userName. Lists are sorted, so two exports
of the same policy are the same text."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select

from scim_authz.db.extensions import db
from scim_authz.db.models import (
    AuthzSchema,
    Group,
    GroupRoleMapping,
    Relationship,
    ResourceAttributes,
    Role,
    RoleAssignment,
    Tenant,
    User,
)
from scim_authz.policy.as_code.document import SECTIONS, VERSION, relationship_text


@dataclass(frozen=True)
class Held:
    """A mapping or an assignment as the tenant holds it: its row id, whom it names (id, name,
    externalId), the role and the scope ("type:id" or None)."""

    id: int
    holder_id: str
    holder_name: str
    external_id: str | None
    role: str
    resource: str | None


@dataclass
class Current:
    """The tenant's policy, for the sections asked (the others are None)."""

    tenant_id: int
    key: str
    revision: int
    role_mode: str
    default_role: str | None
    sections: tuple[str, ...] = SECTIONS
    roles: dict[str, dict] = field(default_factory=dict)
    mappings: list[Held] | None = None
    assignments: list[Held] | None = None
    ambiguous_groups: set[str] = field(default_factory=set)  # lowercased displayNames two groups share
    schema: str | None = None
    schema_version: int = 0
    relationships: set[tuple] | None = None
    resources: dict[tuple[str, str], dict] | None = None

    def summary(self) -> dict:
        """How much the tenant holds: for the administrative change log's `before`."""
        out = {"revision": self.revision, "role_mode": self.role_mode, "default_role": self.default_role,
               "roles": len(self.roles), "schema_version": self.schema_version}
        for name, value in (("group_mappings", self.mappings), ("assignments", self.assignments),
                            ("relationships", self.relationships), ("resources", self.resources)):
            if value is not None:
                out[name] = len(value)
        return out


def _scope(rtype: str, rid: str) -> str | None:
    return f"{rtype}:{rid}" if rtype else None


def read_current(tenant_id: int, sections=SECTIONS) -> Current:
    """What the tenant holds of `sections` (roles, settings and the schema are always read)."""
    t = db.session.get(Tenant, tenant_id)
    cur = Current(tenant_id, t.key, t.revision, t.role_mode, (t.settings or {}).get("default_role"), tuple(sections))
    for r in db.session.execute(select(Role).where(Role.tenant_id == tenant_id).order_by(Role.key)).scalars():
        cur.roles[r.key] = {"key": r.key, "name": r.name, "description": r.description or "",
                            "permissions": sorted(set(r.permissions or [])), "extends": list(r.extends or []),
                            "condition": r.condition or None}
    schema = db.session.execute(select(AuthzSchema.source, AuthzSchema.version).where(
        AuthzSchema.tenant_id == tenant_id).order_by(AuthzSchema.version.desc()).limit(1)).first()
    if schema is not None:
        cur.schema, cur.schema_version = schema
    if "group_mappings" in sections:
        rows = db.session.execute(
            select(GroupRoleMapping.id, Group.id, Group.display_name, Group.external_id, Role.key,
                   GroupRoleMapping.resource_type, GroupRoleMapping.resource_id)
            .join(Group, Group.id == GroupRoleMapping.group_id).join(Role, Role.id == GroupRoleMapping.role_id)
            .where(GroupRoleMapping.tenant_id == tenant_id)).all()
        cur.mappings = [Held(i, g, name, ext, role, _scope(rt, ri)) for i, g, name, ext, role, rt, ri in rows]
        names = {h.holder_name.lower() for h in cur.mappings}
        if names:
            shared = db.session.execute(select(Group.display_name_ci).where(
                Group.tenant_id == tenant_id).group_by(Group.display_name_ci).having(func.count() > 1)).scalars()
            cur.ambiguous_groups = {n for n in shared if n in names}
    if "assignments" in sections:
        rows = db.session.execute(
            select(RoleAssignment.id, User.id, User.user_name, User.external_id, Role.key,
                   RoleAssignment.resource_type, RoleAssignment.resource_id)
            .join(User, User.id == RoleAssignment.user_id).join(Role, Role.id == RoleAssignment.role_id)
            .where(RoleAssignment.tenant_id == tenant_id)).all()
        cur.assignments = [Held(i, u, name, ext, role, _scope(rt, ri)) for i, u, name, ext, role, rt, ri in rows]
    if "relationships" in sections:
        cols = (Relationship.resource_type, Relationship.resource_id, Relationship.relation,
                Relationship.subject_type, Relationship.subject_id, Relationship.subject_relation)
        cur.relationships = {tuple(r) for r in db.session.execute(
            select(*cols).where(Relationship.tenant_id == tenant_id)).all()}
    if "resources" in sections:
        cur.resources = {(t, i): a for t, i, a in db.session.execute(
            select(ResourceAttributes.resource_type, ResourceAttributes.resource_id, ResourceAttributes.attributes)
            .where(ResourceAttributes.tenant_id == tenant_id)).all()}
    return cur


def group_ref(cur: Current, h: Held):
    """How a file names a mapping's group: its displayName, or {externalId} when the name is shared."""
    if h.holder_name.lower() in cur.ambiguous_groups and h.external_id:
        return {"externalId": h.external_id}
    return h.holder_name


def _grant(ref, key: str, h: Held) -> dict:
    return {key: ref, "role": h.role, **({"resource": h.resource} if h.resource else {})}


def _role(r: dict) -> dict:
    out = {"key": r["key"]}
    if r["name"] != r["key"]:
        out["name"] = r["name"]
    if r["description"]:
        out["description"] = r["description"]
    out["permissions"] = r["permissions"]
    if r["extends"]:
        out["extends"] = r["extends"]
    if r["condition"]:
        out["condition"] = r["condition"]
    return out


def _sort_key(grant: dict, key: str) -> tuple:
    ref = grant[key]
    return (str(ref).lower() if isinstance(ref, str) else "\uffff" + ref["externalId"], grant["role"],
            grant.get("resource") or "")


def export_document(cur: Current) -> dict:
    """The tenant's policy as a policy document (the sections `cur` was read for)."""
    doc: dict = {"version": VERSION}
    wanted = cur.sections
    if "role_mode" in wanted:
        doc["role_mode"] = cur.role_mode
    if "default_role" in wanted:
        doc["default_role"] = cur.default_role
    doc["roles"] = [_role(r) for r in cur.roles.values()]
    if cur.mappings is not None:
        doc["group_mappings"] = sorted((_grant(group_ref(cur, h), "group", h) for h in cur.mappings),
                                       key=lambda g: _sort_key(g, "group"))
    if cur.assignments is not None:
        doc["assignments"] = sorted((_grant(h.holder_name, "user", h) for h in cur.assignments),
                                    key=lambda a: _sort_key(a, "user"))
    if "schema" in wanted and cur.schema is not None:
        doc["schema"] = cur.schema
    if cur.relationships is not None:
        doc["relationships"] = [relationship_text(t) for t in sorted(cur.relationships)]
    if cur.resources is not None:
        doc["resources"] = [{"type": t, "id": i, "attributes": a} for (t, i), a in sorted(cur.resources.items())]
    return doc


def duplicate_names(cur: Current) -> list[str]:
    """Groups a mapping names by a displayName another group shares, with no externalId to tell
    them apart: an export naming them cannot be applied until one is renamed."""
    counts = Counter(h.holder_name for h in cur.mappings or [] if h.holder_name.lower() in cur.ambiguous_groups
                     and not h.external_id)
    return sorted(counts)
