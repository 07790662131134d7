"""What must resolve within a policy file, checked offline: role keys unique, every role named (in
extends, mappings, assignments, the default role) defined in the file, no cycle of extends, every
condition compiling, the schema compiling, relationships fitting the schema, resources and the
fixtures well formed. The same rules the services apply (policy/roles.py, relationships.py,
resources.py), so what validates here is what apply can write."""
from __future__ import annotations

from collections import Counter

from scim_authz.authz.conditions import validate_condition
from scim_authz.authz.schema_dsl import parse_schema, validate_schema
from scim_authz.policy.as_code.document import Policy, relationship_text
from scim_authz.policy.as_code.source import Finding, block_line
from scim_authz.policy.relationships import _check_against  # the rule write_relationships applies
from scim_authz.policy.resources import _problem as resource_problem  # the rule put_resources applies


def reference_findings(policy: Policy) -> list[Finding]:
    """Every reference in the file that does not resolve, with its line."""
    out: list[Finding] = []
    s = policy.sections
    roles = s["roles"]
    keys = Counter(r["key"] for r in roles)
    for i, r in enumerate(roles):
        if keys[r["key"]] > 1:
            out.append(policy.finding(("roles", i, "key"), f"the role {r['key']!r} is defined {keys[r['key']]} times"))
        for j, parent in enumerate(r["extends"]):
            if parent == r["key"]:
                out.append(policy.finding(("roles", i, "extends", j), "a role cannot extend itself"))
            elif parent not in keys:
                out.append(policy.finding(("roles", i, "extends", j), f"no role {parent!r} in this file"))
        if r["condition"]:
            problem = validate_condition(r["condition"])
            if problem:
                out.append(policy.finding(("roles", i, "condition"), f"the condition is not valid: {problem}"))
    out += _cycles(policy)
    if s.get("default_role") and s["default_role"] not in keys:
        out.append(policy.finding(("default_role",), f"no role {s['default_role']!r} in this file"))
    for section, who in (("group_mappings", "group"), ("assignments", "user")):
        seen: set = set()
        for i, m in enumerate(s.get(section) or []):
            if m["role"] not in keys:
                out.append(policy.finding((section, i, "role"), f"no role {m['role']!r} in this file"))
            ident = (m[who][0], m[who][1].lower() if m[who][0] != "externalId" else m[who][1], m["role"],
                     m["resource"])
            if ident in seen:
                out.append(policy.finding((section, i), "the same grant appears twice"))
            seen.add(ident)
    out += _schema_findings(policy)
    out += _resource_findings(policy, ("resources",), s.get("resources") or [])
    out += _fixture_findings(policy)
    return out


def _cycles(policy: Policy) -> list[Finding]:
    """A finding per role that inherits from itself through others."""
    parents = {r["key"]: r["extends"] for r in policy.sections["roles"]}
    out = []
    for i, r in enumerate(policy.sections["roles"]):
        stack, seen = [p for p in r["extends"] if p != r["key"]], set()
        while stack:
            k = stack.pop()
            if k == r["key"]:
                out.append(policy.finding(("roles", i, "extends"),
                                          f"roles cannot extend each other in a cycle: {k} would inherit from itself"))
                break
            if k not in seen:
                seen.add(k)
                stack.extend(parents.get(k) or [])
    return out


def _schema_findings(policy: Policy) -> list[Finding]:
    source = policy.sections.get("schema")
    rels = [("relationships", i, t) for i, t in enumerate(policy.sections.get("relationships") or [])]
    rels += [("fixtures", "relationships", i, t) for i, t in enumerate(policy.fixtures.get("relationships") or [])]
    if source is None:
        return []
    issues = validate_schema(source)
    if issues:
        start = block_line(policy.raw, "schema")
        offset = (start - 1) if start and policy.raw.blocks.get("schema") else None
        return [Finding("schema", f"{i.message} (schema line {i.line}, column {i.column})",
                        (offset + i.line) if offset is not None and i.line else start) for i in issues]
    compiled = parse_schema(source)
    out = []
    for *path, t in rels:
        problem = _check_against(compiled, t)
        if problem:
            out.append(policy.finding(tuple(path), f"{relationship_text(t)}: {problem}"))
    return out


def _resource_findings(policy: Policy, path: tuple, items: list[dict]) -> list[Finding]:
    out, seen = [], set()
    for i, r in enumerate(items):
        problems = resource_problem(r["type"], r["id"], r["attributes"])
        for name, messages in (problems or {}).items():
            out += [policy.finding((*path, i, name), m) for m in messages]
        if (r["type"], r["id"]) in seen:
            out.append(policy.finding((*path, i), f"{r['type']}:{r['id']} is given twice"))
        seen.add((r["type"], r["id"]))
    return out


def _fixture_findings(policy: Policy) -> list[Finding]:
    fx = policy.fixtures
    out = []
    groups = Counter(g["displayName"].lower() for g in fx.get("groups") or [])
    users = Counter(u["userName"].lower() for u in fx.get("users") or [])
    for i, u in enumerate(fx.get("users") or []):
        if users[u["userName"].lower()] > 1:
            out.append(policy.finding(("fixtures", "users", i, "userName"), f"{u['userName']!r} appears twice"))
        out += [policy.finding(("fixtures", "users", i, "groups", j), f"no fixture group {g!r}")
                for j, g in enumerate(u["groups"]) if g.lower() not in groups]
    for i, g in enumerate(fx.get("groups") or []):
        if groups[g["displayName"].lower()] > 1:
            out.append(policy.finding(("fixtures", "groups", i, "displayName"),
                                      f"{g['displayName']!r} appears twice"))
        out += [policy.finding(("fixtures", "groups", i, "groups", j), f"no fixture group {p!r}")
                for j, p in enumerate(g["groups"]) if p.lower() not in groups]
    out += _resource_findings(policy, ("fixtures", "resources"), fx.get("resources") or [])
    return out
