"""Validating a parsed schema: names, subject types, arrows, and cycles in definitions, each
problem with its line and column (the parse tree: schema_parse.py)."""
from __future__ import annotations

import difflib
from collections import deque

from scim_authz.authz.schema_parse import (
    BUILTIN_MEMBER,
    KEYWORDS,
    MAX_ENTITIES,
    NAME_RE,
    SchemaIssue,
    _Entity,
    _Permission,
    _Relation,
    _subject_key,
    _Tok,
)


def _fake(text: str) -> _Tok:
    return _Tok("word", text, 0, 0)


_BUILTIN_MEMBER = _Relation(_fake("member"),
                            [(_fake(s.type), s.relation and _fake(s.relation)) for s in BUILTIN_MEMBER])


def _is_name(text: str) -> bool:
    return text not in KEYWORDS and NAME_RE.fullmatch(text) is not None


def _refs(expr: tuple):
    """The ("ref", tok) names an expression uses on its own object (arrows leave the object, so not theirs)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if node[0] == "ref":
            yield node[1]
        elif node[0] in ("or", "and"):
            stack.extend(reversed(node[1]))
        elif node[0] == "not":
            stack.append(node[1])


class Checker:
    def __init__(self, entities: list[_Entity], issues: list[SchemaIssue]):
        self.entities, self.issues = entities, issues
        # Entity type -> its names; the first declaration wins, built-ins are there from the start.
        self.types: dict[str, dict] = {"user": {}, "group": {"member": _BUILTIN_MEMBER}}
        self.suggestions_left = 100  # difflib is quadratic-ish: enough hints for a human, bounded for garbage

    def issue(self, tok: _Tok, message: str) -> None:
        self.issues.append(SchemaIssue(tok.line, tok.col, message))

    def suggest(self, name: str, candidates) -> str:
        if self.suggestions_left <= 0:
            return ""
        self.suggestions_left -= 1
        close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
        return f" (did you mean '{close[0]}'?)" if close else ""

    def check(self) -> None:
        declared: dict[str, _Entity] = {}
        for ent in self.entities:
            first = declared.get(ent.name.text)
            if first is not None:
                self.issue(ent.name, f"entity '{ent.name.text}' is already declared at line {first.name.line}")
            self.build_scope(ent)
            if first is None:
                declared[ent.name.text] = ent
                self.types[ent.name.text] = ent.scope
        if len(self.entities) > MAX_ENTITIES:
            self.issue(self.entities[MAX_ENTITIES].keyword,
                       f"too many entities: at most {MAX_ENTITIES} may be declared")
        for ent in self.entities:
            for member in ent.members:
                if isinstance(member, _Relation) and member.subjects is not None:
                    self.check_subjects(member)
                elif isinstance(member, _Permission) and member.expr is not None:
                    self.check_expr(ent, member.expr)
            self.check_cycles(ent)

    def build_scope(self, ent: _Entity) -> None:
        scope = ent.scope
        if ent.name.text == "group":
            scope["member"] = _BUILTIN_MEMBER
        for member in ent.members:
            name = member.name.text
            prev = scope.get(name)
            if prev is None:
                scope[name] = member
            elif prev is _BUILTIN_MEMBER:
                if isinstance(member, _Relation) and (member.subjects is None or {
                        _subject_key(*s) for s in member.subjects} == {_subject_key(*s) for s in prev.subjects}):
                    scope[name] = member  # restating the built-in as it is: fine, once
                else:
                    self.issue(member.name, "'member' is built into entity 'group' (SCIM group membership) and "
                                            "can only be declared as 'relation member @user @group#member'")
            else:
                self.issue(member.name, f"'{name}' is already declared in entity '{ent.name.text}' at line "
                                        f"{prev.name.line} (relations and permissions share one namespace)")

    def check_subjects(self, rel: _Relation) -> None:
        seen = set()
        for type_tok, rel_tok in rel.subjects:
            key = _subject_key(type_tok, rel_tok)
            shown = "@" + "#".join(k for k in key if k)
            if key in seen:
                self.issue(type_tok, f"'{shown}' is listed twice in relation '{rel.name.text}'")
                continue
            seen.add(key)
            target = self.types.get(type_tok.text)
            if target is None:
                if _is_name(type_tok.text):  # a bad name was reported already
                    self.issue(type_tok, f"unknown entity type '{type_tok.text}' in '{shown}'"
                                         f"{self.suggest(type_tok.text, self.types)}")
            elif rel_tok is not None and rel_tok.text not in target and _is_name(rel_tok.text):
                self.issue(rel_tok, f"entity '{type_tok.text}' has no relation or permission '{rel_tok.text}' "
                                    f"for '{shown}'{self.suggest(rel_tok.text, target)}")

    def check_expr(self, ent: _Entity, node: tuple) -> None:
        match node:
            case ("or" | "and", args):
                for arg in args:
                    self.check_expr(ent, arg)
            case ("not", arg):
                self.check_expr(ent, arg)
            case ("ref", tok) if tok.text not in ent.scope:
                self.issue(tok, f"unknown relation or permission '{tok.text}' in entity '{ent.name.text}'"
                                f"{self.suggest(tok.text, ent.scope)}")
            case ("arrow", rel, target):
                self.check_arrow(ent, rel, target)

    def check_arrow(self, ent: _Entity, rel: _Tok, target: _Tok) -> None:
        member = ent.scope.get(rel.text)
        arrow = f"'{rel.text}.{target.text}'"
        if member is None:
            relations = [n for n, m in ent.scope.items() if isinstance(m, _Relation)]
            self.issue(rel, f"unknown relation '{rel.text}' in entity '{ent.name.text}' (in {arrow})"
                            f"{self.suggest(rel.text, relations)}")
        elif isinstance(member, _Permission):
            self.issue(rel, f"{arrow} starts from '{rel.text}', a permission of entity '{ent.name.text}': "
                            "arrows can only follow relations")
        elif member.subjects is not None:
            # Arrows go to the related objects themselves, so `@group#member` counts as group here.
            types = dict.fromkeys(t.text for t, _ in member.subjects if t.text in self.types)
            missing = [t for t in types if target.text not in self.types[t]]
            if missing:
                which = ("entity " if len(missing) == 1 else "entities ") + " and ".join(f"'{t}'" for t in missing)
                hint = self.suggest(target.text, self.types[missing[0]]) if len(missing) == 1 else ""
                self.issue(target, f"'{target.text}' is not a relation or permission of {which}, which "
                                   f"relation '{rel.text}' can point to (in {arrow}){hint}")

    def check_cycles(self, ent: _Entity) -> None:
        """A permission reaching itself on the same object without an arrow would never finish evaluating."""
        perms = [n for n, m in ent.scope.items() if isinstance(m, _Permission)]
        edges: dict[str, dict[str, _Tok]] = {n: {} for n in perms}  # successor -> first token referring to it
        for name in perms:
            expr = ent.scope[name].expr
            for tok in _refs(expr) if expr is not None else ():
                if tok.text in edges:
                    edges[name].setdefault(tok.text, tok)
        for component in _strongly_connected(perms, edges):
            start = component[0]  # components list nodes in declaration order
            if len(component) == 1 and start not in edges[start]:
                continue
            path = _shortest_cycle(start, edges)
            shown = path if len(path) <= 12 else path[:6] + [f"... ({len(path) - 9} more)"] + path[-3:]
            self.issue(edges[start][path[1]], f"permission '{start}' depends on itself: {' -> '.join(shown)} "
                                              "(recursion must go through an arrow to another object, "
                                              "such as 'parent.view')")


def _strongly_connected(nodes: list[str], edges: dict[str, dict]) -> list[list[str]]:
    """Tarjan's algorithm without recursion (an entity may have thousands of permissions); nodes keep their order."""
    order = {n: i for i, n in enumerate(nodes)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(edges[root]))]
        while work:
            v, successors = work[-1]
            for w in successors:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(edges[w])))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    components.append(sorted(component, key=order.__getitem__))
    return components


def _shortest_cycle(start: str, edges: dict[str, dict]) -> list[str]:
    """The shortest path start -> ... -> start (breadth first), for a message that names it."""
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        for w in edges[v]:
            if w == start:
                path = [start]
                while v != start:
                    path.append(v)
                    v = parent[v]
                return [start] + path[:0:-1] + [start]
            if w not in parent:
                parent[w] = v
                queue.append(w)
    raise AssertionError("not on a cycle")


# --- compiling ----------------------------------------------------------------------------------------------
