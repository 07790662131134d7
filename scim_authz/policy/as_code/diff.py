"""What applying a policy file to a tenant would change: a Plan holding the writes to make and a
readable Change per role, mapping, assignment, setting, schema, relationship and resource:

    + role auditor
        permissions: report:view
    ~ role editor
        permissions: +document:delete -document:archive
    - mapping Sales -> viewer
    ~ setting role_mode: hybrid -> idp

Pure: the tenant's side comes in as a state.Current, the file's groups and users as the ids
resolve.py found."""
from __future__ import annotations

import difflib
import json
from collections import Counter
from dataclasses import dataclass, field

from scim_authz.policy.as_code.document import Policy, relationship_text
from scim_authz.policy.as_code.state import Current

KINDS = ("setting", "role", "mapping", "assignment", "schema", "relationship", "resource")
OPS = {"+": "added", "-": "removed", "~": "changed"}


@dataclass(frozen=True)
class Change:
    op: str  # + - ~
    kind: str  # one of KINDS
    name: str
    details: tuple[str, ...] = ()

    def text(self) -> str:
        return "\n".join([f"{self.op} {self.kind} {self.name}", *(f"    {d}" for d in self.details)])

    def to_dict(self) -> dict:
        return {"op": self.op, "kind": self.kind, "name": self.name, "details": list(self.details)}


@dataclass
class Plan:
    """The writes that make the tenant hold what the file says, and the changes they are."""

    settings: dict = field(default_factory=dict)
    schema: str | None = None
    create_roles: list[dict] = field(default_factory=list)
    update_roles: list[dict] = field(default_factory=list)
    delete_roles: list[str] = field(default_factory=list)
    add_mappings: list[tuple] = field(default_factory=list)  # (group id, role, resource)
    remove_mappings: list[int] = field(default_factory=list)
    add_assignments: list[tuple] = field(default_factory=list)  # (user id, role, resource)
    remove_assignments: list[int] = field(default_factory=list)
    add_relationships: list[tuple] = field(default_factory=list)
    remove_relationships: list[tuple] = field(default_factory=list)
    put_resources: list[dict] = field(default_factory=list)
    delete_resources: list[tuple[str, str]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes

    def counts(self) -> dict:
        """{"added": {"role": 2, …}, "removed": {…}, "changed": {…}}."""
        out: dict = {word: {} for word in OPS.values()}
        for (op, kind), n in Counter((c.op, c.kind) for c in self.changes).items():
            out[OPS[op]][kind] = n
        return out

    def summary(self, revision: int | None, sample: int = 100) -> dict:
        """For the administrative change log's `after`: counts, the revision, the first changes."""
        return {"revision": revision, **self.counts(), "changes": [c.text() for c in self.changes[:sample]],
                "more": max(0, len(self.changes) - sample)}


def _words(values) -> str:
    return ", ".join(values) if values else "none"


def _show(value) -> str:
    return "none" if value in (None, "") else json.dumps(value, ensure_ascii=False)


def _role_details(old: dict | None, new: dict) -> tuple[str, ...]:
    if old is None:
        out = [f"{k}: {_show(new[k])}" for k in ("name", "description") if new[k] and new[k] != new["key"]]
        out.append(f"permissions: {_words(new['permissions'])}")
        out += [f"extends: {_words(new['extends'])}"] if new["extends"] else []
        return (*out, *([f"condition: {_show(new['condition'])}"] if new["condition"] else []))
    out = []
    for k in ("name", "description", "condition"):
        if (old[k] or None) != (new[k] or None):
            out.append(f"{k}: {_show(old[k])} -> {_show(new[k])}")
    for k in ("permissions", "extends"):
        gone, come = set(old[k]) - set(new[k]), set(new[k]) - set(old[k])
        if gone or come:
            out.append(f"{k}: " + " ".join([*(f"+{p}" for p in sorted(come)), *(f"-{p}" for p in sorted(gone))]))
    return tuple(out)


def _grant_name(who: str, role: str, resource: str | None) -> str:
    return f"{who} -> {role}" + (f" on {resource}" if resource else "")


def _ref_name(ref: tuple[str, str]) -> str:
    kind, value = ref
    return f"externalId {value}" if kind == "externalId" else value


def plan(policy: Policy, cur: Current, groups: dict, users: dict) -> Plan:
    """The plan that makes `cur` what the file says (each section the file names, and only those)."""
    s, p = policy.sections, Plan()
    settings = [(k, cur.role_mode if k == "role_mode" else cur.default_role) for k in ("role_mode", "default_role")]
    for key, old in settings:
        if key in s and s[key] != old:
            p.settings[key] = s[key]
            p.changes.append(Change("~", "setting", f"{key}: {old or 'none'} -> {s[key] or 'none'}"))
    wanted = {r["key"]: r for r in s["roles"]}
    for key, r in wanted.items():
        old = cur.roles.get(key)
        details = _role_details(old, r)
        if old is None:
            p.create_roles.append(r)
            p.changes.append(Change("+", "role", key, details))
        elif details:
            p.update_roles.append(r)
            p.changes.append(Change("~", "role", key, details))
    for key in cur.roles:
        if key not in wanted:
            p.delete_roles.append(key)
            p.changes.append(Change("-", "role", key))
    _grants(p, "mapping", s.get("group_mappings"), cur.mappings, "group", groups)
    _grants(p, "assignment", s.get("assignments"), cur.assignments, "user", users)
    if "schema" in s and _lines(s["schema"]) != _lines(cur.schema or ""):
        p.schema = s["schema"]
        if cur.schema is None:
            p.changes.append(Change("+", "schema", f"({len(_lines(s['schema']))} lines)"))
        else:
            diff = difflib.unified_diff(_lines(cur.schema), _lines(s["schema"]), lineterm="", n=1)
            body = tuple(line for line in diff if not line.startswith(("---", "+++")))
            p.changes.append(Change("~", "schema", f"(a new version after {cur.schema_version})", body))
    if "relationships" in s:
        want = set(s["relationships"])
        p.remove_relationships = sorted(cur.relationships - want)
        p.add_relationships = [t for t in s["relationships"] if t not in cur.relationships]
        p.changes += [Change("-", "relationship", relationship_text(t)) for t in p.remove_relationships]
        p.changes += [Change("+", "relationship", relationship_text(t)) for t in p.add_relationships]
    if "resources" in s:
        want = {(r["type"], r["id"]): r["attributes"] for r in s["resources"]}
        for (t, i), attrs in want.items():
            old = cur.resources.get((t, i))
            if old != attrs:
                p.put_resources.append({"type": t, "id": i, "attributes": attrs})
                keys = sorted(set(attrs) | set(old or {}))
                details = (f"attributes: {_show(attrs)}",) if old is None else tuple(
                    f"{k}: {_show(old.get(k))} -> {_show(attrs.get(k))}" for k in keys if old.get(k) != attrs.get(k))
                p.changes.append(Change("+" if old is None else "~", "resource", f"{t}:{i}", details))
        p.delete_resources = sorted(k for k in cur.resources if k not in want)
        p.changes += [Change("-", "resource", f"{t}:{i}") for t, i in p.delete_resources]
    return p


def _grants(p: Plan, kind: str, wanted: list[dict] | None, held, key: str, ids: dict) -> None:
    """Mappings or assignments: remove what the tenant holds and the file lacks, add the rest."""
    if wanted is None:
        return
    want = {(ids[w[key]], w["role"], w["resource"]): w for w in wanted}
    have = {(h.holder_id, h.role, h.resource): h for h in held}
    removals = [h for k, h in have.items() if k not in want]
    additions = [(k, w) for k, w in want.items() if k not in have]
    for h in sorted(removals, key=lambda h: (h.holder_name.lower(), h.role, h.resource or "")):
        (p.remove_mappings if kind == "mapping" else p.remove_assignments).append(h.id)
        p.changes.append(Change("-", kind, _grant_name(h.holder_name, h.role, h.resource)))
    for k, w in additions:
        (p.add_mappings if kind == "mapping" else p.add_assignments).append(k)
        p.changes.append(Change("+", kind, _grant_name(_ref_name(w[key]), w["role"], w["resource"])))


def _lines(source: str) -> list[str]:
    """A schema's lines, as compared: trailing spaces and blank lines at either end do not count."""
    return [line.rstrip() for line in source.strip("\n").splitlines()] if source.strip() else []


def render(changes: list[Change], limit: int | None = 100) -> list[str]:
    """The changes as text lines, at most `limit` of each kind (None: all) and a line for the rest."""
    out, shown, hidden = [], Counter(), Counter()
    for c in changes:
        if limit is not None and shown[c.kind] >= limit:
            hidden[c.kind] += 1
            continue
        shown[c.kind] += 1
        out.append(c.text())
    out += [f"… and {n:,} more {kind} change{'s' if n != 1 else ''}" for kind, n in hidden.items()]
    return out


def headline(p: Plan) -> str:
    """One line: how many of each kind are added, removed, changed."""
    if p.empty:
        return "no changes"
    parts = [f"{n:,} {kind}{'s' if n != 1 else ''} {word}" for word, kinds in p.counts().items()
             for kind, n in sorted(kinds.items(), key=lambda kv: KINDS.index(kv[0]))]
    return "; ".join(parts)
