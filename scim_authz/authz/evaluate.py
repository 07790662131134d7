"""Relationship rules: does a user have relation or permission `name` on an object?

Short-circuits `or`, evaluates `and`/`not` fully, bounds depth, cuts cycles in the data (a cut
branch counts as false: the least fixpoint for rules built from `or`/`and`), and memoises only
results no cut touched, so one evaluator serves many objects (lookups).

A true result is a *witness* (why it holds) and a false one is None, so an explanation costs
nothing extra: ("text", words) ends a chain, ("via", words, child_key) continues it.
"""
from __future__ import annotations

from scim_authz.authz.model import DepthExceeded
from scim_authz.authz.schema_model import And, Arrow, InstanceRole, Not, Or, Ref, TenantRole

INF = 1 << 30


class Evaluator:
    """Evaluates one user's relations and permissions over one tenant's store and schema."""

    def __init__(self, store, schema, user_id: str, user_grants, role_holds, describe, max_depth: int = 32):
        self.store = store
        self.subjects = store.rels.subjects
        self.entities = schema.entities if schema is not None else {}
        self.user_id = user_id
        self.ug = user_grants
        self.role_holds = role_holds  # (role, grant) -> bool: the role's condition holds
        self.describe = describe  # grant -> words
        self.max_depth = max_depth
        self.memo: dict[tuple[str, str, str], tuple] = {}  # key -> (witness or None, height)
        self.seen_true: dict[tuple[str, str, str], tuple] = {}
        self.on_stack: dict[tuple[str, str, str], int] = {}
        self.low = INF
        self.height = 0

    def has(self, rtype: str, rid: str, name: str):
        """A witness that the user has `name` (relation or permission) on rtype:rid, or None."""
        key = (rtype, rid, name)
        depth = len(self.on_stack)
        hit = self.memo.get(key)
        if hit is not None:
            value, height = hit
            # A remembered answer stands only where a fresh evaluation would not have gone
            # past the bound, so answers never depend on the order objects were asked about.
            if depth + height > self.max_depth:
                raise DepthExceeded(f"evaluation went deeper than {self.max_depth} levels at {rtype}:{rid}#{name}")
            self.height = max(self.height, height)
            return value
        idx = self.on_stack.get(key)
        if idx is not None:
            self.low = min(self.low, idx)
            return None
        if depth >= self.max_depth:
            raise DepthExceeded(f"evaluation went deeper than {self.max_depth} levels at {rtype}:{rid}#{name}")
        self.on_stack[key] = depth
        saved_low, saved_height = self.low, self.height
        self.low, self.height = INF, 0
        try:
            value = self._compute(rtype, rid, name)
        finally:
            del self.on_stack[key]
        height = self.height + 1
        if self.low >= depth:
            self.memo[key] = (value, height)
        if value is not None:
            self.seen_true[key] = value
        self.low = min(saved_low, self.low)
        self.height = max(saved_height, height)
        return value

    def reset(self) -> None:
        """Forget the half-finished walk an exception left (the memo stays valid)."""
        self.on_stack.clear()
        self.low, self.height = INF, 0

    def _compute(self, rtype: str, rid: str, name: str):
        entity = self.entities.get(rtype)
        if entity is not None:
            expr = entity.permissions.get(name)
            if expr is not None:
                return self.expr(rtype, rid, expr)
        if rtype == "group" and name == "member" and rid in self.ug.groups:
            g = self.store.groups.get(rid)
            return ("text", f"member of group {g.name if g else rid} (SCIM)")
        uid = self.user_id
        for stype, sid, srel in self.subjects(rtype, rid, name):
            if srel:
                if self.has(stype, sid, srel) is not None:
                    return ("via", f"{rtype}:{rid}#{name} includes {stype}:{sid}#{srel}", (stype, sid, srel))
            elif stype == "user" and sid == uid:
                return ("text", f"{name} of {rtype}:{rid}")
        return None

    def expr(self, rtype: str, rid: str, e):
        """Evaluate a compiled permission expression on rtype:rid; a witness or None."""
        cls = e.__class__
        if cls is Ref:
            w = self.has(rtype, rid, e.name)
            if w is not None and e.kind == "permission":
                return ("via", f"{e.name} of {rtype}:{rid}", (rtype, rid, e.name))
            return w
        if cls is Or:
            for a in e.args:
                w = self.expr(rtype, rid, a)
                if w is not None:
                    return w
            return None
        if cls is And:
            # Every operand is evaluated, so a denial reads the same whatever the order.
            ws = [self.expr(rtype, rid, a) for a in e.args]
            return ws[0] if all(w is not None for w in ws) else None
        if cls is Not:
            return None if self.expr(rtype, rid, e.arg) is not None else ("text", f"not excluded on {rtype}:{rid}")
        if cls is Arrow:
            for stype, sid, _srel in self.subjects(rtype, rid, e.relation):
                if self.has(stype, sid, e.target) is not None:
                    return ("via", f"{rtype}:{rid} has {e.relation} {stype}:{sid}", (stype, sid, e.target))
            return None
        if cls is TenantRole:
            role = self.store.roles.get(e.role)
            for grant in self.ug.tenant_roles.get(e.role, ()):
                if role is not None and self.role_holds(role, grant):
                    return ("text", self.describe(grant))
            return None
        if cls is InstanceRole:
            for role, grant in self.ug.instance.get((rtype, rid), ()):
                if role.key == e.role and self.role_holds(role, grant):
                    return ("text", self.describe(grant))
            return None
        raise TypeError(f"unknown expression {e!r}")

    def path(self, witness) -> list[str]:
        """The chain of facts behind a witness, outermost first."""
        out, seen = [], set()
        while witness is not None:
            out.append(witness[1])
            if witness[0] != "via" or witness[2] in seen:
                break
            seen.add(witness[2])
            witness = self.seen_true.get(witness[2])
        return out
