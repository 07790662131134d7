"""Which objects or users a lookup must consider: walks over a tenant's schema and relationships
that narrow the candidates before each is decided as a check would decide it (engine.py)."""
from __future__ import annotations

from scim_authz.authz.schema_model import And, Arrow, InstanceRole, Not, Or, Ref, TenantRole
from scim_authz.authz.store import TenantStore


def role_grants(role, perm: str, rtype: str) -> bool:
    """Whether a role's permissions include `perm` (or its type's wildcard, or everything)."""
    p = role.permissions
    return perm in p or f"{rtype}:*" in p or "*" in p


def needs_universe(schema, rtype: str, name: str, seen: set | None = None) -> bool:
    """Whether `name` on rtype may hold for an object the user is connected to by no chain of
    relationships: anything it depends on (through references, arrows and usersets, on any type)
    contains a `not` or a tenant role. Conservative by design: a lookup that must consider every
    object is slower, one that skips one is wrong."""
    seen = set() if seen is None else seen
    key = (rtype, name)
    if key in seen:
        return False
    seen.add(key)
    entity = schema.entities.get(rtype)
    if entity is None:
        return False
    expr = entity.permissions.get(name)
    if expr is None:
        rel = entity.relations.get(name)
        # A userset subject (`@folder#admin`) brings in whatever its relation or permission needs.
        return rel is not None and any(needs_universe(schema, s.type, s.relation, seen)
                                       for s in rel.subjects if s.relation)

    def walk(e) -> bool:
        cls = e.__class__
        if cls is Not or cls is TenantRole:
            return True
        if cls is Ref:
            return needs_universe(schema, rtype, e.name, seen)
        if cls is Or or cls is And:
            return any([walk(a) for a in e.args])  # every branch: the walk marks what it has seen
        if cls is InstanceRole:
            return False
        if cls is Arrow:
            rel = entity.relations.get(e.relation)
            return rel is not None and any([needs_universe(schema, s.type, e.target, seen) for s in rel.subjects])
        return True
    return walk(expr)


def reachable(st: TenantStore, uid: str, ug, rtype: str) -> set[str]:
    """Objects of rtype connected to the user through relationships, walked backwards from the
    user, the user's groups and the objects it holds roles on: a superset of what it can reach."""
    start = [("user", uid)] + [("group", g) for g in ug.groups] + list(ug.instance)
    seen = set(start)
    stack = list(start)
    out: set[str] = set()
    objects = st.rels.objects
    while stack:
        node = stack.pop()
        if node[0] == rtype:
            out.add(node[1])
        for t, i, _rel, _srel in objects(node[0], node[1]):
            nxt = (t, i)
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return out


def role_holders(st: TenantStore, perm: str, rtype: str, rid: str) -> set[str]:
    """Users holding a role that grants perm tenant-wide or on rtype:rid (any condition)."""
    roles = {k for k, r in st.roles.items() if role_grants(r, perm, rtype)}
    users: set[str] = set()
    if not roles:
        return users
    if st.role_mode in ("app", "hybrid"):
        for uid, rows in st.assignments.items():
            if any(a.role_key in roles and (not a.resource_type or (a.resource_type, a.resource_id) == (rtype, rid))
                   for a in rows):
                users.add(uid)
    if st.role_mode in ("idp", "hybrid"):
        for gid, rows in st.mappings.items():
            if any(m.role_key in roles and (not m.resource_type or (m.resource_type, m.resource_id) == (rtype, rid))
                   for m in rows):
                users |= st.transitive_users(gid)
    return users


def forward_users(st: TenantStore, rtype: str, rid: str) -> set[str]:
    """Users reachable from rtype:rid through relationships and group membership (a superset).

    The relations followed are those the schema declares for each object's type."""
    schema = st.schema
    seen = {(rtype, rid)}
    stack = [(rtype, rid)]
    users: set[str] = set()
    subjects = st.rels.subjects
    while stack:
        t, i = stack.pop()
        if t == "user":
            users.add(i)  # and go on: a user's own relations (`user.manager`) can lead further
        if t == "group":
            users |= st.transitive_users(i)
        entity = schema.entities.get(t) if schema is not None else None
        for rel in (entity.relations if entity is not None else ()):
            for stype, sid, _srel in subjects(t, i, rel):
                nxt = (stype, sid)
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
    # Instance roles held on objects that reach this one also grant through `role.X`.
    for uid, rows in st.assignments.items():
        if any((a.resource_type, a.resource_id) in seen for a in rows):
            users.add(uid)
    for gid, rows in st.mappings.items():
        if any((m.resource_type, m.resource_id) in seen for m in rows):
            users |= st.transitive_users(gid)
    return users


def declared_actions(st, rtype: str) -> list[str]:
    """The actions a check on `rtype` can be granted: those its roles' permissions name (not
    wildcards) and the schema's permissions of the type (not its relations), sorted."""
    prefix = rtype + ":"
    found = {p[len(prefix):] for role in st.roles.values() for p in role.permissions
             if p.startswith(prefix) and p != prefix + "*"}
    entity = st.schema.entities.get(rtype) if st.schema is not None else None
    if entity is not None:
        found |= set(entity.permissions)
    return sorted(found)
