"""scale_memory's data set: many tenants, each with users in several groups, roles mapped from some
of the groups and a few roles assigned directly, made the same from the same seed every time.

Rows look like what SCIM provisioning and the /v1 policy API write (uuid ids, the canonical user
document POST /Users stores, lower-cased lookup columns, JSON permission lists). The filler writes
them straight into the product's tables with PostgreSQL COPY, or executemany on SQLite. The check
workload is drawn from the same generator, with the answer each check must get.
"""
from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import asdict, dataclass, field

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
RESOURCE_TYPES = ("document", "folder", "project", "invoice", "report", "ticket", "repo", "dashboard")
ACTIONS = ("read", "edit", "delete", "share", "approve")
PERMISSIONS = tuple(f"{t}:{a}" for t in RESOURCE_TYPES for a in ACTIONS)
GIVEN = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
FAMILY = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Lee")
STAMP = "2025-01-06 09:00:00"  # created / last_modified of every row


@dataclass(frozen=True)
class Shape:
    """How big the data set is, and its seed: a kept database is reused only for the same shape."""

    tenants: int
    users: int                 # per tenant
    groups: int                # per tenant
    groups_per_user: int       # direct groups of each user, drawn at random
    roles: int                 # per tenant, each with `perms_per_role` of PERMISSIONS
    perms_per_role: int
    mapped_groups: int         # the first k groups of a tenant are each mapped to one role
    assigned_share: float      # users holding one role assigned by the application
    inactive_share: float      # users with active = false
    seed: int

    def memberships(self) -> int:
        return self.tenants * self.users * self.groups_per_user

    def describe(self) -> dict:
        return {**asdict(self), "total_users": self.tenants * self.users, "total_memberships": self.memberships()}


@dataclass
class TenantData:
    index: int                 # 1-based; also the tenant's id in the database
    key: str
    token: str                 # its application key (sk_…), stored hashed
    group_ids: list[str]
    roles: list[tuple[str, tuple[str, ...]]]          # (key, permissions)
    mappings: list[tuple[int, int]]                   # (group index, role index)
    users: list[tuple[str, str, str, bool, str, str, str]]  # id, userName, externalId, active, given, family, dept
    user_groups: list[list[int]]                      # group indexes of each user
    assigned: dict[int, int] = field(default_factory=dict)  # user index -> role index

    def permissions_of(self, j: int) -> frozenset[str]:
        """What user j may do tenant-wide: its mapped and assigned roles' permissions (none when inactive)."""
        if not self.users[j][3]:
            return frozenset()
        role_of_group = dict(self.mappings)
        roles = {role_of_group[g] for g in self.user_groups[j] if g in role_of_group}
        if j in self.assigned:
            roles.add(self.assigned[j])
        return frozenset(p for r in roles for p in self.roles[r][1])


def tenant_key(t: int) -> str:
    return f"scale-{t:05d}"


def app_token(shape: Shape, t: int) -> str:
    """The tenant's application key: derived from the seed, so a kept database can be reused (it is
    a scratch database on loopback; its tokens guard nothing)."""
    return "sk_" + hashlib.sha256(f"scale-memory:{shape.seed}:{t}".encode()).hexdigest()[:43]


def tenant_data(shape: Shape, t: int) -> TenantData:
    rng = random.Random(shape.seed * 1_000_003 + t)

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    key = tenant_key(t)
    group_ids = [new_id() for _ in range(shape.groups)]
    roles = [(f"role-{r:02d}", tuple(sorted(rng.sample(PERMISSIONS, shape.perms_per_role))))
             for r in range(shape.roles)]
    mappings = [(k, k % shape.roles) for k in range(min(shape.mapped_groups, shape.groups))]
    users, user_groups, assigned = [], [], {}
    for j in range(shape.users):
        active = rng.random() >= shape.inactive_share
        users.append((new_id(), f"user{j:06d}@{key}.example.com", f"00u{t:05d}{j:08d}", active,
                      GIVEN[j % len(GIVEN)], FAMILY[(j // len(GIVEN)) % len(FAMILY)], f"Dept {j % 17}"))
        user_groups.append(sorted(rng.sample(range(shape.groups), shape.groups_per_user)))
        if rng.random() < shape.assigned_share:
            assigned[j] = rng.randrange(shape.roles)
    return TenantData(t, key, app_token(shape, t), group_ids, roles, mappings, users, user_groups, assigned)


def user_doc(u: tuple) -> dict:
    """The canonical document POST /Users stores for an Okta-like body (checked against the
    product's `normalise` by `check_documents`)."""
    uid, name, ext, active, given, family, dept = u
    return {"userName": name, "externalId": ext, "name": {"givenName": given, "familyName": family},
            "displayName": f"{given} {family}", "active": active,
            "emails": [{"value": name, "type": "work", "primary": True}],
            ENTERPRISE: {"department": dept}}


def user_body(u: tuple) -> dict:
    """The SCIM request body an IdP would send for user `u`."""
    doc = user_doc(u)
    return {"schemas": [USER_SCHEMA, ENTERPRISE], **doc}


def group_doc(name: str, ext: str) -> dict:
    return {"displayName": name, "externalId": ext}


def check_documents(shape: Shape) -> None:
    """The documents written directly must be those the SCIM API would store for the same bodies."""
    from scim_authz.scim.resource import normalise
    from scim_authz.scim.schema_defs import SCHEMA_FOR

    td = tenant_data(Shape(**{**asdict(shape), "tenants": 1, "users": 2}), 1)
    for u in td.users:
        expected = normalise(SCHEMA_FOR["User"], user_body(u))
        if user_doc(u) != expected:
            raise RuntimeError(f"filler document {user_doc(u)} != API document {expected}")
    g = normalise(SCHEMA_FOR["Group"], {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                        "displayName": "Group 000", "externalId": "g"}, members=[])
    if g != group_doc("Group 000", "g"):
        raise RuntimeError(f"filler group document != API document {g}")


# ---- rows, table by table -------------------------------------------------------------------

COLUMNS = {
    "tenants": ("id", "key", "name", "role_mode", "settings", "revision", "created"),
    "credentials": ("id", "tenant_id", "kind", "name", "secret_hash", "prefix", "created"),
    "groups": ("id", "tenant_id", "display_name", "display_name_ci", "external_id", "doc", "version", "created",
               "last_modified"),
    "users": ("id", "tenant_id", "user_name", "user_name_ci", "external_id", "active", "display_name", "doc",
              "app_attributes", "version", "created", "last_modified"),
    "group_members": ("group_id", "member_id", "member_type", "tenant_id", "added"),
    "roles": ("id", "tenant_id", "key", "name", "description", "permissions", "extends", "condition", "created",
              "updated"),
    "group_role_mappings": ("id", "tenant_id", "group_id", "role_id", "resource_type", "resource_id", "created_by",
                            "created"),
    "role_assignments": ("id", "tenant_id", "user_id", "role_id", "resource_type", "resource_id", "assigned_by",
                         "created"),
}
# Tables whose integer ids the filler sets, so their sequences must be moved past them (PostgreSQL).
SERIAL_TABLES = ("tenants", "credentials", "roles", "group_role_mappings", "role_assignments")


def tenant_rows(shape: Shape, td: TenantData) -> dict[str, list[tuple]]:
    """Every row of one tenant, per table, in COLUMNS' order (JSON columns as JSON text)."""
    t, js = td.index, json.dumps
    role_base = (t - 1) * shape.roles
    rows: dict[str, list[tuple]] = {name: [] for name in COLUMNS}
    rows["tenants"].append((t, td.key, f"Scale tenant {t}", "hybrid", "{}", 1, STAMP))
    secret = td.token
    rows["credentials"].append((t, t, "app", "scale", hashlib.sha256(secret.encode()).hexdigest(),
                                secret[:9], STAMP))
    for k, gid in enumerate(td.group_ids):
        name, ext = f"Group {k:03d}", f"grp-{t}-{k}"
        rows["groups"].append((gid, t, name, name.lower(), ext, js(group_doc(name, ext)), 1, STAMP, STAMP))
    for r, (key, perms) in enumerate(td.roles):
        rows["roles"].append((role_base + r + 1, t, key, f"Role {r}", "", js(list(perms)), "[]", None, STAMP, STAMP))
    for m, (k, r) in enumerate(td.mappings):
        rows["group_role_mappings"].append(((t - 1) * shape.groups + m + 1, t, td.group_ids[k], role_base + r + 1,
                                            "", "", "scale", STAMP))
    members = rows["group_members"]
    for j, u in enumerate(td.users):
        doc = user_doc(u)
        rows["users"].append((u[0], t, u[1], u[1].lower(), u[2], u[3], doc["displayName"], js(doc), "{}", 1,
                              STAMP, STAMP))
        for k in td.user_groups[j]:
            members.append((td.group_ids[k], u[0], "User", t, STAMP))
    for n, (j, r) in enumerate(sorted(td.assigned.items())):
        rows["role_assignments"].append(((t - 1) * shape.users + n + 1, t, td.users[j][0], role_base + r + 1, "", "",
                                         "scale", STAMP))
    members.sort()  # the primary key's order: appending to the index is cheaper than inserting at random
    return rows


def copy_text(rows: list[tuple]) -> str:
    """Rows in COPY's text format (tab-separated, \\N for NULL, backslashes doubled)."""
    out = []
    for row in rows:
        cells = []
        for v in row:
            if v is None:
                cells.append("\\N")
            elif v is True or v is False:
                cells.append("t" if v else "f")
            else:
                cells.append(str(v).replace("\\", "\\\\"))
        out.append("\t".join(cells))
    out.append("")
    return "\n".join(out)


def expected_checks(td: TenantData, per_tenant: int, rng: random.Random) -> list[tuple[dict, bool]]:
    """`per_tenant` checks of different users of the tenant (all of them when it has that many), each
    with the answer it must get: about half ask a permission the user holds, the rest any permission;
    a fifth name the user by userName, the others by id."""
    picks = rng.sample(range(len(td.users)), min(per_tenant, len(td.users)))
    out = []
    for n, j in enumerate(picks):
        perms = td.permissions_of(j)
        perm = rng.choice(sorted(perms)) if perms and n % 2 == 0 else rng.choice(PERMISSIONS)
        rtype, _, action = perm.partition(":")
        user = td.users[j][1] if n % 5 == 1 else td.users[j][0]  # a fifth by userName, the rest by id
        out.append(({"user": user, "action": action, "resource": f"{rtype}:r{j}"}, perm in perms))
    return out
