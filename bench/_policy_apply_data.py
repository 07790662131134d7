"""policy_apply's data: a large policy file made from a seed (roles that extend earlier ones, some
conditional; group mappings by displayName, a quarter scoped to one project; a schema and its
relationships; a few fixtures and assertions), the same file with a few changes, the groups the
mappings name (rows as SCIM stores them), and the floor: the same rows written with plain
SQLAlchemy Core bulk inserts."""
from __future__ import annotations

import random

TYPES = ("document", "folder", "project", "invoice", "report")
ACTIONS = ("view", "edit", "delete", "approve", "deploy")
SCHEMA = """\
entity folder {
  relation owner @user
  relation parent @folder
  relation viewer @user @group#member
  permission view = owner or viewer or parent.view
  permission edit = owner or parent.edit
}
entity document {
  relation owner @user
  relation parent @folder
  permission view = owner or parent.view
  permission edit = owner or parent.edit
}
"""


def group_name(i: int) -> str:
    return f"Group {i:05d}"


def make_policy(roles: int, mappings: int, relationships: int, seed: int = 7) -> dict:
    """The policy document: `roles` roles, `mappings` mappings over as many groups, `relationships`."""
    rng = random.Random(seed)
    out_roles = []
    for i in range(roles):
        role = {"key": f"role-{i:04d}", "name": f"Role {i}",
                "permissions": sorted({f"{rng.choice(TYPES)}:{rng.choice(ACTIONS)}" for _ in range(rng.randint(1, 4))})}
        if i and rng.random() < 0.5:
            role["extends"] = sorted({f"role-{rng.randrange(i):04d}" for _ in range(rng.randint(1, 2))})
        if rng.random() < 0.1:
            role["condition"] = f'user.department == "d{rng.randrange(10)}"'
        out_roles.append(role)
    out_mappings = []
    for i in range(mappings):
        m = {"group": group_name(i), "role": f"role-{rng.randrange(roles):04d}"}
        if rng.random() < 0.25:
            m["resource"] = f"project:p{rng.randrange(100)}"
        out_mappings.append(m)
    return {"version": 1, "role_mode": "hybrid", "default_role": "role-0000", "roles": out_roles,
            "group_mappings": out_mappings, "schema": SCHEMA, "relationships": make_relationships(relationships),
            "fixtures": {"users": [{"userName": "ann@example.com", "groups": [group_name(0)]},
                                   {"userName": "bob@example.com", "groups": [group_name(1)]}],
                         "groups": [{"displayName": group_name(0)}, {"displayName": group_name(1)}]},
            "assertions": [{"user": "ann@example.com", "action": "view", "resource": "document:d0",
                            "expect": "allow"},
                           {"user": "bob@example.com", "action": "view", "resource": "document:d0", "expect": "deny"}]}


def make_relationships(n: int) -> list[str]:
    """n distinct relationships: folders in a tree, documents in folders, viewers of folders; the
    fixtures' ann sees document d0 (her folder's viewer), bob nothing."""
    folders = max(10, n // 10)
    out = [f"folder:f{i}#parent@folder:f{(i - 1) // 4}" for i in range(1, folders)]
    out.append("folder:f0#viewer@user:ann@example.com")
    i = 0
    while len(out) < n:
        out.append(f"document:d{i}#parent@folder:f{i % folders}")
        if len(out) < n and i % 2:
            out.append(f"folder:f{i % folders}#viewer@user:u{i}")
        i += 1
    return out[:n]


def few_changes(doc: dict) -> dict:
    """The same policy with a few changes: 4 roles changed and 1 removed (with its mappings), 20
    mappings replaced, 100 relationships replaced."""
    new = {**doc, "roles": [dict(r) for r in doc["roles"]], "group_mappings": list(doc["group_mappings"]),
           "relationships": list(doc["relationships"])}
    keys = {r["key"] for r in new["roles"]}
    heirs = {p for r in new["roles"] for p in r.get("extends", ())}
    last = next(r["key"] for r in reversed(new["roles"]) if r["key"] not in heirs)
    new["roles"] = [r for r in new["roles"] if r["key"] != last]
    for r in new["roles"][10:13]:
        r["permissions"] = sorted({*r["permissions"], "report:export"})
    new["roles"][20]["description"] = "changed by the benchmark"
    new["group_mappings"] = [m for m in new["group_mappings"] if m["role"] != last][20:]
    first = sorted(keys - {last})[0]
    new["group_mappings"] += [{"group": group_name(i), "role": first, "resource": "project:bench"} for i in range(20)]
    new["relationships"] = new["relationships"][:-100] + [f"document:new{i}#parent@folder:f0" for i in range(100)]
    return new


def insert_groups(db, tenant_id: int, n: int) -> None:
    """n groups named as the mappings name them, as SCIM stores them."""
    from scim_authz.db.models import Group, new_id, utcnow

    now = utcnow()
    db.session.execute(Group.__table__.insert(), [
        {"id": new_id(), "tenant_id": tenant_id, "display_name": group_name(i),
         "display_name_ci": group_name(i).lower(), "external_id": None, "doc": {"displayName": group_name(i)},
         "version": 1, "created": now, "last_modified": now} for i in range(n)])


def floor_load(db, tenant_id: int, doc: dict) -> int:
    """The floor: the policy's roles, mappings, schema and relationships inserted with Core bulk
    inserts (no validation, no diff, no change log), in the caller's transaction; rows written."""
    from sqlalchemy import select

    from scim_authz.authz.schema_dsl import parse_schema
    from scim_authz.db.models import AuthzSchema, Group, GroupRoleMapping, Relationship, Role, utcnow
    from scim_authz.policy.as_code.document import parse_relationship

    now = utcnow()
    db.session.execute(Role.__table__.insert(), [
        {"tenant_id": tenant_id, "key": r["key"], "name": r["name"], "description": "", "permissions": r["permissions"],
         "extends": r.get("extends", []), "condition": r.get("condition"), "created": now, "updated": now}
        for r in doc["roles"]])
    role_ids = dict(db.session.execute(select(Role.key, Role.id).where(Role.tenant_id == tenant_id)).all())
    group_ids = dict(db.session.execute(select(Group.display_name, Group.id).where(Group.tenant_id == tenant_id)).all())
    mappings = []
    for m in doc["group_mappings"]:
        rtype, _, rid = (m.get("resource") or "").partition(":")
        mappings.append({"tenant_id": tenant_id, "group_id": group_ids[m["group"]], "role_id": role_ids[m["role"]],
                         "resource_type": rtype, "resource_id": rid, "created_by": "floor", "created": now})
    db.session.execute(GroupRoleMapping.__table__.insert(), mappings)
    db.session.execute(AuthzSchema.__table__.insert(), [{
        "tenant_id": tenant_id, "version": 1, "source": doc["schema"],
        "compiled": parse_schema(doc["schema"]).to_json(), "created_by": "floor", "created": now}])
    rels = [parse_relationship(t) for t in doc["relationships"]]
    table = Relationship.__table__
    for n in range(0, len(rels), 10_000):
        db.session.execute(table.insert(), [
            {"tenant_id": tenant_id, "resource_type": t[0], "resource_id": t[1], "relation": t[2],
             "subject_type": t[3], "subject_id": t[4], "subject_relation": t[5], "revision": 1}
            for t in rels[n:n + 10_000]])
    return len(doc["roles"]) + len(mappings) + 1 + len(rels)
