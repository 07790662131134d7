"""A deliberately naive reference for the decision engine, for the property test (test_property.py).

Nothing here imports the engine: a World is plain data (users, groups, roles, assignments, mappings, a
schema as a small expression tree of our own, relationship tuples), `World.source()` renders the schema
as text for `parse_schema`, and `Reference` answers check / lookup_resources / lookup_subjects by plain
recursion over the definitions: no memo, no indexes. A cycle in the data is cut by a visited set on the
current path (the cut branch is false: the least fixpoint for `or`/`and` rules).

Two things the semantics leave open are *flagged* rather than decided, so the test can skip them:
  * `unstable`: a cut reached an ancestor from inside a `not` (negation through a cycle in the data,
    e.g. `permission p = not parent.p` over folders that are each other's parent). There is no least
    fixpoint there and the answer depends on where evaluation starts.
  * `deep`: the path got long enough that the engine's depth bound (32) might be involved.
  * `budget`: the naive walk got too expensive (never seen with the generator's sizes; a safety valve).
"""
from __future__ import annotations

from dataclasses import dataclass, field

Expr = tuple  # ("ref", name) ("arrow", rel, target) ("tenant", role) ("role", role) ("not", e) ("and"|"or", [e...])

DEEP_PATH = 20  # far below the engine's 32
STEP_BUDGET = 200_000


@dataclass
class EntitySpec:
    name: str
    relations: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)  # name -> [(type, rel)]
    permissions: list[tuple[str, Expr]] = field(default_factory=list)  # in declaration order

    def names(self) -> list[str]:
        return list(self.relations) + [p for p, _ in self.permissions]

    def permission(self, name: str) -> Expr | None:
        for p, e in self.permissions:
            if p == name:
                return e
        return None


@dataclass
class World:
    role_mode: str
    users: dict[str, tuple[str, bool]]  # id -> (userName, active)
    groups: list[str]
    group_users: list[tuple[str, str]]  # (group, user): direct SCIM membership
    group_subgroups: list[tuple[str, str]]  # (parent, child): child is a member of parent
    roles: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]  # key -> (permissions, extends)
    assignments: list[tuple[str, str, tuple[str, str] | None]]  # (user, role, scope)
    mappings: list[tuple[str, str, tuple[str, str] | None]]  # (group, role, scope)
    entities: dict[str, EntitySpec]  # declared entities, in order (may include "group" with extras)
    tuples: list[tuple[str, str, str, str, str, str]]

    # ---- the schema as text --------------------------------------------------------------------

    def source(self) -> str:
        out = []
        for ent in self.entities.values():
            out.append(f"entity {ent.name} {{")
            for rel, subjects in ent.relations.items():
                if ent.name == "group" and rel == "member":
                    continue
                subj = " ".join("@" + t + (f"#{r}" if r else "") for t, r in subjects)
                out.append(f"  relation {rel} {subj}")
            for p, e in ent.permissions:
                out.append(f"  permission {p} = {render(e, top=True)}")
            out.append("}")
        return "\n".join(out) + "\n"

    # ---- what the world names ------------------------------------------------------------------

    def types(self) -> list[str]:
        """Every type queried: declared entities, the built-in group and user, and `widget`, a type the
        schema does not know (only roles scoped to it name its objects)."""
        out = [t for t in self.entities if t not in ("group", "user")]
        return out + ["group", "user", "widget"]

    def names_of(self, rtype: str) -> list[str]:
        """The relation and permission names of a type (the built-in `member` of group included)."""
        if rtype == "group":
            extra = self.entities["group"].names() if "group" in self.entities else []
            return ["member"] + [n for n in extra if n != "member"]
        ent = self.entities.get(rtype)
        return ent.names() if ent else []

    def mentioned(self, rtype: str) -> list[str]:
        """Objects of a type: SCIM users and groups, and those named anywhere: a tuple's resource or
        subject, or a role's scope."""
        out = set()
        if rtype == "group":
            out |= set(self.groups)
        elif rtype == "user":
            out |= set(self.users)
        for t, i, _r, st, si, _sr in self.tuples:
            if t == rtype:
                out.add(i)
            if st == rtype:
                out.add(si)
        for _who, _role, scope in self.assignments + self.mappings:
            if scope is not None and scope[0] == rtype:
                out.add(scope[1])
        return sorted(out)

    def describe(self) -> str:
        lines = ["role_mode = " + repr(self.role_mode),
                 "users = " + repr(self.users),
                 "groups = " + repr(self.groups),
                 "group_users (group, user) = " + repr(self.group_users),
                 "group_subgroups (parent, child) = " + repr(self.group_subgroups),
                 "roles (key -> (permissions, extends)) = " + repr(self.roles),
                 "assignments (user, role, scope) = " + repr(self.assignments),
                 "mappings (group, role, scope) = " + repr(self.mappings),
                 "tuples = [", *[f"    {t!r}," for t in self.tuples], "]",
                 "schema source:", self.source()]
        return "\n".join(lines)


def render(e: Expr, top: bool = False) -> str:
    op = e[0]
    if op == "ref":
        return e[1]
    if op == "arrow":
        return f"{e[1]}.{e[2]}"
    if op == "tenant":
        return f"tenant.{e[1]}"
    if op == "role":
        return f"role.{e[1]}"
    if op == "not":
        return f"not {render(e[1])}"
    if op == "andnot":  # a binary `x not y`, which means `x and not y`
        s = f"{render(e[1])} not {render(e[2])}"
    else:
        s = f" {op} ".join(render(a) for a in e[1])
    return s if top else f"({s})"


class Budget(Exception):
    pass


class Reference:
    """Answers for one World; every answer is computed from scratch."""

    def __init__(self, world: World):
        self.w = world
        self.role_perms = {k: self._perms(k, ()) for k in world.roles}

    # ---- roles ---------------------------------------------------------------------------------

    def _perms(self, key: str, seen: tuple) -> set[str]:
        if key not in self.w.roles or key in seen:
            return set()
        perms, extends = self.w.roles[key]
        out = set(perms)
        for parent in extends:
            out |= self._perms(parent, seen + (key,))
        return out

    def in_group(self, user: str, group: str, seen: tuple = ()) -> bool:
        """SCIM membership, directly or through nested groups."""
        if group not in self.w.groups or group in seen:
            return False
        if (group, user) in self.w.group_users:
            return True
        return any(parent == group and self.in_group(user, child, seen + (group,))
                   for parent, child in self.w.group_subgroups)

    def effective_roles(self, user: str) -> list[tuple[str, tuple[str, str] | None]]:
        """(role, scope) of every effective role of an existing role, by the tenant's mode."""
        out = []
        if self.w.role_mode in ("app", "hybrid"):
            out += [(r, s) for u, r, s in self.w.assignments if u == user]
        if self.w.role_mode in ("idp", "hybrid"):
            out += [(r, s) for g, r, s in self.w.mappings if self.in_group(user, g)]
        return [(r, s) for r, s in out if r in self.w.roles]

    def role_grants(self, role: str, rtype: str, action: str) -> bool:
        p = self.role_perms[role]
        return f"{rtype}:{action}" in p or f"{rtype}:*" in p or "*" in p

    # ---- check ---------------------------------------------------------------------------------

    def check(self, user: str, action: str, rtype: str, rid: str) -> tuple[bool, set[str]]:
        """(allowed, flags) where flags is a subset of {"unstable", "deep", "budget"}."""
        if user not in self.w.users or not self.w.users[user][1]:
            return False, set()
        for role, scope in self.effective_roles(user):
            if (scope is None or scope == (rtype, rid)) and self.role_grants(role, rtype, action):
                return True, set()
        if action not in self.w.names_of(rtype):
            return False, set()
        ev = _Eval(self, user)
        try:
            value = ev.has(rtype, rid, action, ())
        except Budget:
            return False, {"budget"}
        flags = set()
        if ev.unstable:
            flags.add("unstable")
        if ev.max_path >= DEEP_PATH:
            flags.add("deep")
        return value, flags


class _Eval:
    def __init__(self, ref: Reference, user: str):
        self.ref, self.w, self.user = ref, ref.w, user
        self.roles = ref.effective_roles(user)
        self.cuts: list[int] = []  # path positions at which a cycle was cut, in order
        self.unstable = False
        self.max_path = 0
        self.steps = 0

    def has(self, t: str, i: str, name: str, path: tuple) -> bool:
        self.steps += 1
        if self.steps > STEP_BUDGET:
            raise Budget
        key = (t, i, name)
        if key in path:
            self.cuts.append(path.index(key))
            return False
        path = path + (key,)
        self.max_path = max(self.max_path, len(path))
        ent = self.w.entities.get(t)
        expr = ent.permission(name) if ent is not None else None
        if expr is not None:
            return self.expr(t, i, expr, path)
        if t == "group" and name == "member" and self.ref.in_group(self.user, i):
            return True
        for rt, ri, rr, st, si, sr in self.w.tuples:
            if (rt, ri, rr) != (t, i, name):
                continue
            if sr:
                if self.has(st, si, sr, path):
                    return True
            elif st == "user" and si == self.user:
                return True
        return False

    def expr(self, t: str, i: str, e: Expr, path: tuple) -> bool:
        op = e[0]
        if op == "ref":
            return self.has(t, i, e[1], path)
        if op == "or":
            return any(self.expr(t, i, a, path) for a in e[1])
        if op == "and":
            values = [self.expr(t, i, a, path) for a in e[1]]  # every operand, as the engine does
            return all(values)
        if op == "andnot":
            a = self.expr(t, i, e[1], path)
            return self.negate(t, i, e[2], path) and a
        if op == "not":
            return self.negate(t, i, e[1], path)
        if op == "arrow":
            return any(self.has(st, si, e[2], path)
                       for rt, ri, rr, st, si, _sr in self.w.tuples if (rt, ri, rr) == (t, i, e[1]))
        if op == "tenant":
            return any(r == e[1] and s is None for r, s in self.roles)
        if op == "role":
            return any(r == e[1] and s == (t, i) for r, s in self.roles)
        raise AssertionError(e)

    def negate(self, t: str, i: str, e: Expr, path: tuple) -> bool:
        mark = len(self.cuts)
        value = self.expr(t, i, e, path)
        if any(c < len(path) for c in self.cuts[mark:]):
            self.unstable = True  # negation through a cycle that reaches outside the `not`
        return not value
