"""Build a tenant's policy from a test case, in memory (a Snapshot) or in the SQL database."""
from __future__ import annotations

from scim_authz.authz.model import GroupInfo, UserInfo
from scim_authz.authz.schema_dsl import parse_schema
from scim_authz.authz.store import AssignmentRow, MappingRow, RoleRow, Snapshot, TenantRow


def relationship(text: str) -> tuple[str, str, str, str, str, str]:
    """'document:1#owner@user:alice' / '…@group:eng#member' as a 6-tuple."""
    obj, _, subject = text.partition("@")
    resource, _, relation = obj.partition("#")
    rtype, _, rid = resource.partition(":")
    subj, _, srel = subject.partition("#")
    stype, _, sid = subj.partition(":")
    return rtype, rid, relation, stype, sid, srel


def expanded_relationships(case: dict) -> list[tuple]:
    rels = [relationship(r) for r in case.get("relationships", [])]
    chain = case.get("deep_chain")
    if chain:
        p, n = chain["prefix"], chain["length"]
        rels += [("folder", f"{p}{i}", "parent", "folder", f"{p}{i + 1}", "") for i in range(n - 1)]
        rels.append(("folder", f"{p}{n - 1}", "owner", "user", chain["owner"], ""))
    return rels


def _scope(resource: str | None) -> tuple[str, str]:
    if not resource:
        return "", ""
    t, _, i = resource.partition(":")
    return t, i


def snapshot(case: dict, tenant_id: int = 1, revision: int = 1) -> Snapshot:
    """The case as an in-memory snapshot."""
    snap = Snapshot(TenantRow(tenant_id, "case", case.get("role_mode", "hybrid"), {}, revision))
    snap.users = [UserInfo(u["id"], u["userName"], u.get("externalId"), u.get("active", True), u.get("displayName"))
                  for u in case.get("users", [])]
    snap.user_attributes = {u["id"]: dict(u.get("attributes", {})) for u in case.get("users", [])}
    snap.groups = [GroupInfo(g["id"], g["name"]) for g in case.get("groups", [])]
    snap.memberships = [(g["id"], u, "User") for g in case.get("groups", []) for u in g.get("users", [])] + \
        [(g["id"], s, "Group") for g in case.get("groups", []) for s in g.get("subgroups", [])]
    snap.roles = [RoleRow(n + 1, r["key"], r.get("name", r["key"]), tuple(r.get("permissions", [])),
                          tuple(r.get("extends", [])), r.get("condition")) for n, r in enumerate(case.get("roles", []))]
    snap.assignments = [AssignmentRow(n + 1, a["user"], a["role"], *_scope(a.get("resource")), "tests", "")
                        for n, a in enumerate(case.get("assignments", []))]
    snap.mappings = [MappingRow(n + 1, m["group"], m["role"], *_scope(m.get("resource")), "tests")
                     for n, m in enumerate(case.get("mappings", []))]
    if case.get("schema"):
        snap.schema, snap.schema_version = parse_schema(case["schema"]), 1
    snap.relationships = expanded_relationships(case)
    return snap


def into_database(case: dict, tenant_key: str = "case") -> int:
    """Write the case into the database through the models (inside an app context); returns the tenant id."""
    from scim_authz.db.extensions import db
    from scim_authz.db.models import (
        AuthzSchema,
        Group,
        GroupMember,
        GroupRoleMapping,
        Relationship,
        Role,
        RoleAssignment,
        Tenant,
        User,
    )

    t = Tenant(key=tenant_key, name=tenant_key, role_mode=case.get("role_mode", "hybrid"), settings={}, revision=1)
    db.session.add(t)
    db.session.flush()
    for u in case.get("users", []):
        db.session.add(User(id=u["id"], tenant_id=t.id, user_name=u["userName"], user_name_ci=u["userName"].lower(),
                            external_id=u.get("externalId"), active=u.get("active", True),
                            display_name=u.get("displayName"), doc={"userName": u["userName"]},
                            app_attributes=dict(u.get("attributes", {}))))
    for g in case.get("groups", []):
        db.session.add(Group(id=g["id"], tenant_id=t.id, display_name=g["name"], display_name_ci=g["name"].lower(),
                             doc={"displayName": g["name"]}))
    db.session.flush()
    for g in case.get("groups", []):
        for u in g.get("users", []):
            db.session.add(GroupMember(group_id=g["id"], member_id=u, member_type="User", tenant_id=t.id))
        for s in g.get("subgroups", []):
            db.session.add(GroupMember(group_id=g["id"], member_id=s, member_type="Group", tenant_id=t.id))
    roles = {}
    for r in case.get("roles", []):
        roles[r["key"]] = Role(tenant_id=t.id, key=r["key"], name=r.get("name", r["key"]),
                               permissions=list(r.get("permissions", [])), extends=list(r.get("extends", [])),
                               condition=r.get("condition"))
        db.session.add(roles[r["key"]])
    db.session.flush()
    for a in case.get("assignments", []):
        rt, ri = _scope(a.get("resource"))
        db.session.add(RoleAssignment(tenant_id=t.id, user_id=a["user"], role_id=roles[a["role"]].id,
                                      resource_type=rt, resource_id=ri, assigned_by="tests"))
    for m in case.get("mappings", []):
        rt, ri = _scope(m.get("resource"))
        db.session.add(GroupRoleMapping(tenant_id=t.id, group_id=m["group"], role_id=roles[m["role"]].id,
                                        resource_type=rt, resource_id=ri, created_by="tests"))
    if case.get("schema"):
        db.session.add(AuthzSchema(tenant_id=t.id, version=1, source=case["schema"],
                                   compiled=parse_schema(case["schema"]).to_json()))
    rels = expanded_relationships(case)
    if rels:
        db.session.execute(Relationship.__table__.insert(), [
            dict(tenant_id=t.id, resource_type=r[0], resource_id=r[1], relation=r[2], subject_type=r[3],
                 subject_id=r[4], subject_relation=r[5], revision=1) for r in rels])
    db.session.commit()
    return t.id
