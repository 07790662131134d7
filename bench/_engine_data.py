"""check_engine's data set: "RBAC with domains" as plain data, seeded, so that every worker process
(and check_instructions, check_misses) builds the same one, with the answers the model implies."""
from __future__ import annotations

import hashlib
import random

TENANTS = 10
ROLES_PER_TENANT = 200
PERMS_PER_ROLE = 50
BASE_ROLES = 20  # roles r{t}_0 .. r{t}_19 are base roles; others extend one with EXTENDS_P
EXTENDS_P = 0.3
GROUPS_PER_TENANT = 100  # each mapped to 1-2 roles
GROUP_P = 0.85  # a membership is an IdP group (else a direct assignment)
ACTIONS = ("read", "write", "create", "delete", "list", "share", "approve", "export", "admin", "audit")


def perm_hash(perms) -> str:
    return hashlib.blake2b("\n".join(sorted(perms)).encode(), digest_size=8).hexdigest()


class RbacData:
    """Tenants, roles, groups and users as plain data, with the answers the model implies."""

    def __init__(self, n_users: int, seed: int, rtypes: int, actions: int):
        universe = [f"rt{i}:{a}" for i in range(rtypes) for a in ACTIONS[:actions]]
        rng = random.Random(f"model-{seed}")  # roles and groups do not depend on the size
        self.doms = [f"tenant{t}" for t in range(TENANTS)]
        self.roles: list[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = []  # key -> (perms, extends)
        self.groups: list[dict[str, list[str]]] = []  # gid -> mapped role keys
        for t in range(TENANTS):
            roles = {}
            for k in range(ROLES_PER_TENANT):
                perms = tuple(rng.sample(universe, PERMS_PER_ROLE))
                ext = (f"r{t}_{rng.randrange(BASE_ROLES)}",) if k >= BASE_ROLES and rng.random() < EXTENDS_P else ()
                roles[f"r{t}_{k}"] = (perms, ext)
            self.roles.append(roles)
            self.groups.append(
                {f"g{t}_{k}": rng.sample(list(roles), rng.randint(1, 2)) for k in range(GROUPS_PER_TENANT)}
            )
        self.role_keys = [list(r) for r in self.roles]
        self.group_keys = [list(g) for g in self.groups]
        urng = random.Random(f"users-{seed}-{n_users}")
        self.users: list[tuple[str, int, tuple[str, ...], tuple[str, ...]]] = []  # (uid, t, groups, roles)
        for i in range(n_users):
            t = i % TENANTS
            gs, rs = [], []
            for _ in range(urng.randint(1, 3)):
                if urng.random() < GROUP_P:
                    g = urng.choice(self.group_keys[t])
                    if g not in gs:
                        gs.append(g)
                else:
                    r = urng.choice(self.role_keys[t])
                    if r not in rs:
                        rs.append(r)
            self.users.append((f"u{i}", t, tuple(gs), tuple(rs)))
        self._eff: dict[int, tuple[frozenset, frozenset]] = {}

    def effective(self, i: int) -> tuple[frozenset, frozenset]:
        """(effective role keys, effective permissions) of user i."""
        hit = self._eff.get(i)
        if hit is None:
            _uid, t, gs, rs = self.users[i]
            roles = self.roles[t]
            todo = list(rs) + [r for g in gs for r in self.groups[t][g]]
            seen: set[str] = set()
            while todo:
                r = todo.pop()
                if r in seen:
                    continue
                seen.add(r)
                todo.extend(roles[r][1])
            perms = frozenset(p for r in seen for p in roles[r][0])
            hit = self._eff[i] = (frozenset(seen), perms)
        return hit

    def requests(self, n: int, seed: int) -> list[tuple[int, str, str, str, bool]]:
        """n requests (tenant index, user id, resource type, action, expected), half allowed, shuffled."""
        rng = random.Random(f"requests-{seed}-{len(self.users)}")
        out = []
        for k in range(n):
            i = rng.randrange(len(self.users))
            uid, t, _gs, _rs = self.users[i]
            eff_roles, eff_perms = self.effective(i)
            if k % 2 == 0:  # allowed: one of its effective roles, one of that role's permissions
                role = rng.choice(sorted(eff_roles))
                perm = rng.choice(self.roles[t][role][0])
                rt, act = perm.split(":", 1)
                out.append((t, uid, rt, act, True))
            elif rng.random() < 0.8:  # denied: a permission of an unrelated role in its own tenant
                while True:
                    role = rng.choice(self.role_keys[t])
                    perm = rng.choice(self.roles[t][role][0])
                    if perm not in eff_perms:
                        break
                rt, act = perm.split(":", 1)
                out.append((t, uid, rt, act, False))
            else:  # denied: a permission of a role of another tenant, asked in that tenant
                t2 = rng.choice([x for x in range(TENANTS) if x != t])
                perm = rng.choice(self.roles[t2][rng.choice(self.role_keys[t2])][0])
                rt, act = perm.split(":", 1)
                out.append((t2, uid, rt, act, False))
        rng.shuffle(out)
        return out

    def permission_users(self, n: int, seed: int) -> list[tuple[int, str, str]]:
        """n users (tenant index, user id, hash of the expected permission set)."""
        rng = random.Random(f"perm-users-{seed}-{len(self.users)}")
        out = []
        for _ in range(n):
            i = rng.randrange(len(self.users))
            uid, t, _gs, _rs = self.users[i]
            out.append((t, uid, perm_hash(self.effective(i)[1])))
        return out

    def counts(self) -> dict:
        return {
            "tenants": TENANTS,
            "users": len(self.users),
            "roles": TENANTS * ROLES_PER_TENANT,
            "permissions_per_role": PERMS_PER_ROLE,
            "role_permission_rules": TENANTS * ROLES_PER_TENANT * PERMS_PER_ROLE,
            "groups": TENANTS * GROUPS_PER_TENANT,
            "group_memberships": sum(len(u[2]) for u in self.users),
            "direct_assignments": sum(len(u[3]) for u in self.users),
            "group_role_mappings": sum(len(v) for g in self.groups for v in g.values()),
            "roles_extending_a_base_role": sum(1 for r in self.roles for v in r.values() if v[1]),
        }


def ours_snapshots(data: RbacData) -> list:
    """The data set as one in-memory snapshot per tenant, what our engine loads."""
    from scim_authz.authz.model import GroupInfo, UserInfo
    from scim_authz.authz.store import AssignmentRow, MappingRow, RoleRow, Snapshot, TenantRow

    snaps = []
    for t in range(TENANTS):
        s = Snapshot(TenantRow(t + 1, data.doms[t], "hybrid", {}, 1))
        s.roles = [RoleRow(n + 1, k, k, perms, ext, None) for n, (k, (perms, ext)) in enumerate(data.roles[t].items())]
        s.groups = [GroupInfo(g, g) for g in data.groups[t]]
        s.mappings = [
            MappingRow(n + 1, g, r, "", "", "bench")
            for n, (g, r) in enumerate((g, r) for g, rs in data.groups[t].items() for r in rs)
        ]
        snaps.append(s)
    aid = 0
    for uid, t, gs, rs in data.users:
        s = snaps[t]
        s.users.append(UserInfo(uid, f"{uid}@example.com", None, True, uid))
        s.memberships.extend((g, uid, "User") for g in gs)
        for r in rs:
            aid += 1
            s.assignments.append(AssignmentRow(aid, uid, r, "", "", "bench", "2024-01-01T00:00:00Z"))
    return snaps

