"""The sync format between the control plane and a decision point (docs/dataplane.md): a tenant's
snapshot at a revision, and the changes after a revision with what each one now reads. JSON, as
lists rather than objects where there are many rows. No Flask and no SQL: both sides use it.

What a decision point holds is what the engine decides with, nothing more: users' SCIM documents
are not sent, only the attributes some role's condition reads (`user_attributes_read`), and of the
tenant's credentials only the digests of its application keys, so a decision point can check the
key an application presents without the control plane.
"""
from __future__ import annotations

from scim_authz.authz.model import GroupInfo, UserInfo
from scim_authz.authz.schema_model import CompiledSchema
from scim_authz.authz.store_rows import AssignmentRow, MappingRow, RoleRow, Snapshot, TenantRow

FORMAT = 1
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_COMPUTED = frozenset({"id", "groups", "claims"})  # user.* a condition gets from elsewhere


def attributes_read(conditions) -> list[str]:
    """The top-level SCIM attributes the conditions read as `user.<name>` (enterprise as its URN),
    sorted: what a decision point is sent of each user's document."""
    names: set[str] = set()
    for cond in conditions:
        for path in cond.attributes():
            head, _, rest = path.partition(".")
            if head != "user" or not rest:
                continue
            name = rest.split(".", 1)[0]
            if name not in _COMPUTED:
                names.add(ENTERPRISE if name == "enterprise" else name)
    return sorted(names)


def only(doc: dict, names) -> dict:
    """The attributes of a user's document (and app attributes) named in `names`."""
    return {k: doc[k] for k in names if k in doc}


# ---- rows ------------------------------------------------------------------------------------

def tenant_json(t: TenantRow) -> list:
    return [t.id, t.key, t.role_mode, t.settings, t.revision, t.disabled]


def tenant_row(v: list) -> TenantRow:
    return TenantRow(int(v[0]), str(v[1]), str(v[2]), dict(v[3] or {}), int(v[4]), bool(v[5]))


def user_json(u: UserInfo) -> list:
    return [u.id, u.user_name, u.external_id, u.active, u.display_name]


def user_row(v: list) -> UserInfo:
    return UserInfo(v[0], v[1], v[2], bool(v[3]), v[4], frozenset())


def group_json(g: GroupInfo) -> list:
    return [g.id, g.name, g.external_id]


def group_row(v: list) -> GroupInfo:
    return GroupInfo(v[0], v[1], v[2])


def role_json(r: RoleRow) -> list:
    return [r.id, r.key, r.name, list(r.permissions), list(r.extends), r.condition]


def role_row(v: list) -> RoleRow:
    return RoleRow(int(v[0]), v[1], v[2], tuple(v[3]), tuple(v[4]), v[5])


def assignment_json(a: AssignmentRow) -> list:
    return [a.id, a.user_id, a.role_key, a.resource_type, a.resource_id, a.assigned_by, a.created]


def assignment_row(v: list) -> AssignmentRow:
    return AssignmentRow(int(v[0]), *v[1:7])


def mapping_json(m: MappingRow) -> list:
    return [m.id, m.group_id, m.role_key, m.resource_type, m.resource_id, m.created_by]


def mapping_row(v: list) -> MappingRow:
    return MappingRow(int(v[0]), *v[1:6])


def schema_json(found: tuple[int, CompiledSchema] | None) -> dict | None:
    return None if found is None else {"version": found[0], "compiled": found[1].to_json()}


def schema_of(v: dict | None) -> tuple[int, CompiledSchema] | None:
    return None if v is None else (int(v["version"]), CompiledSchema.from_json(v["compiled"]))


# ---- a snapshot ------------------------------------------------------------------------------

SECTIONS = ("users", "groups", "user_members", "memberships", "roles", "assignments", "mappings",
            "relationships", "resources")


def snapshot_head(snap: Snapshot, names: list[str], credentials: dict) -> dict:
    """A snapshot's small parts; its long lists (SECTIONS, user_attributes) are sent after it."""
    return {"format": FORMAT, "tenant": tenant_json(snap.tenant),
            "schema": schema_json((snap.schema_version, snap.schema) if snap.schema is not None else None),
            "user_attributes_read": names, "credentials": credentials}


def section_rows(snap: Snapshot, name: str):
    """The rows of one of a snapshot's SECTIONS, as JSON values."""
    if name == "users":
        return (user_json(u) for u in snap.users)
    if name == "groups":
        return (group_json(g) for g in snap.groups)
    if name == "user_members":
        return ([gid, list(uids)] for gid, uids in snap.user_members)
    if name == "memberships":
        return (list(m) for m in snap.memberships)
    if name == "roles":
        return (role_json(r) for r in snap.roles)
    if name == "assignments":
        return (assignment_json(a) for a in snap.assignments)
    if name == "mappings":
        return (mapping_json(m) for m in snap.mappings)
    if name == "relationships":
        return _relationship_groups(snap.relationships)
    if name == "resources":
        return ([t, i, attrs] for t, i, attrs in snap.resources)
    raise KeyError(name)


GROUP_PAIRS = 5_000  # (resource id, subject id) pairs per relationships row at most


def _relationship_groups(relationships):
    """Relationships as [resource type, relation, subject type, subject relation, [[resource id,
    subject id], ...]]: each repeated word is sent (and held) once per group, not once per row."""
    groups: dict[tuple, list] = {}
    for rt, rid, rel, st, sid, sr in relationships:
        groups.setdefault((rt, rel, st, sr), []).append((rid, sid))
    for (rt, rel, st, sr), pairs in groups.items():
        for i in range(0, len(pairs), GROUP_PAIRS):
            yield [rt, rel, st, sr, pairs[i:i + GROUP_PAIRS]]


def snapshot_from(d: dict) -> tuple[Snapshot, dict[str, dict], list[str], dict]:
    """(the Snapshot, users' attributes by id, the attributes read, application key digests) from
    a snapshot document; ValueError when it is not one this version reads."""
    if d.get("format") != FORMAT:
        raise ValueError(f"snapshot format {d.get('format')!r} is not {FORMAT}")
    snap = Snapshot(tenant_row(d["tenant"]))
    snap.users = [user_row(v) for v in d["users"]]
    snap.groups = [group_row(v) for v in d["groups"]]
    snap.user_members = [(gid, list(uids)) for gid, uids in d["user_members"]]
    snap.memberships = [tuple(v) for v in d["memberships"]]
    snap.roles = [role_row(v) for v in d["roles"]]
    snap.assignments = [assignment_row(v) for v in d["assignments"]]
    snap.mappings = [mapping_row(v) for v in d["mappings"]]
    found = schema_of(d.get("schema"))
    if found is not None:
        snap.schema_version, snap.schema = found
    snap.relationships = [(rt, rid, rel, st, sid, sr) for rt, rel, st, sr, pairs in d["relationships"]
                          for rid, sid in pairs]
    snap.resources = [(t, i, attrs) for t, i, attrs in d["resources"]]
    return snap, dict(d.get("user_attributes") or {}), list(d.get("user_attributes_read") or []), \
        dict(d.get("credentials") or {})
