"""PATCH attribute paths (RFC 7644 §3.5.2) and an in-memory matcher for their value filters.

Pure functions: a path string and a ResourceSchema in, a canonical Path out. Value filters are
parsed by filter_parse, the grammar search filters use; the matcher evaluates them against one element of a
multi-valued complex attribute, which is all a PATCH needs (SQL filtering lives elsewhere).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from scim2_filter_parser import ast

from .errors import InvalidFilter, InvalidPath
from .filter_parse import MAX_LENGTH, number_text, parse_filter
from .schema_defs import ResourceSchema

# RFC 7643 §2.1: ATTRNAME = ALPHA *(nameChar); "$ref" is the one name starting with "$".
_NAME = re.compile(r"[A-Za-z$][\w$-]*")
# RFC 7644 Table 3: gt/ge/lt/le on Boolean and Binary attributes SHALL fail with invalidFilter.
_ORDERING = {"gt", "ge", "lt", "le"}
_UNORDERED_TYPES = {"boolean", "binary"}


@dataclass(frozen=True)
class Path:
    """A parsed PATCH path: `[urn:]attr[filter][.sub]`, names in their schema casing."""

    urn: str | None  # extension URN; None for the core schema
    attr: str | None  # None only for a bare extension URN (the whole extension)
    attr_def: dict | None = field(default=None, compare=False, repr=False)
    sub: str | None = None
    sub_def: dict | None = field(default=None, compare=False, repr=False)
    value_filter: ast.Filter | None = field(default=None, compare=False, repr=False)
    filter_text: str | None = None

    @property
    def multi_valued(self) -> bool:
        return bool(self.attr_def and self.attr_def["multiValued"])

    def __str__(self) -> str:
        if self.attr is None:
            return self.urn or ""
        text = (f"{self.urn}:" if self.urn else "") + self.attr
        if self.filter_text is not None:
            text += f"[{self.filter_text}]"
        return text + (f".{self.sub}" if self.sub else "")


def parse_path(schema: ResourceSchema, path: str) -> Path:
    """Parse `PATH = attrPath / valuePath [subAttr]` (RFC 7644 §3.5.2), attribute names case-insensitive."""
    if not isinstance(path, str) or not path.strip():
        raise InvalidPath("The path is empty.")
    if len(path) > MAX_LENGTH:
        raise InvalidPath(f"The path is {len(path)} characters long; at most {MAX_LENGTH} are read.")
    text = path.strip()
    urn, rest = schema.split_urn(text)
    if urn == schema.core:
        urn = None
    if not rest:
        if urn is None:
            raise InvalidPath(f"The path '{path}' names the core schema, not an attribute.")
        return Path(urn=urn, attr=None)  # a bare extension URN: the whole extension object
    if urn is None and ":" in rest.split("[", 1)[0]:
        raise InvalidPath(f"The path '{path}' names a schema this resource type does not have.")

    name, filter_text, sub_name = _split(rest, path)
    attr_def = schema.lookup(urn, name)
    if attr_def is None:
        where = f" in schema '{urn}'" if urn else ""
        raise InvalidPath(f"Unknown attribute '{name}'{where} in path '{path}'.")
    attr = attr_def["name"]

    value_filter = None
    if filter_text is not None:
        if not attr_def["multiValued"] or attr_def["type"] != "complex":
            raise InvalidPath(f"'{attr}' is not a multi-valued complex attribute, so it takes no "
                              f"value filter (path '{path}').")
        value_filter = parse_value_filter(attr_def, filter_text)

    sub_def = None
    if sub_name is not None:
        if attr_def["type"] != "complex":
            raise InvalidPath(f"'{attr}' has no sub-attributes (path '{path}').")
        sub_def = ResourceSchema.sub_attribute(attr_def, sub_name)
        if sub_def is None:
            raise InvalidPath(f"Unknown sub-attribute '{sub_name}' of '{attr}' in path '{path}'.")
    return Path(urn=urn, attr=attr, attr_def=attr_def, sub=sub_def["name"] if sub_def else None,
                sub_def=sub_def, value_filter=value_filter, filter_text=filter_text)


def _split(rest: str, path: str) -> tuple[str, str | None, str | None]:
    """Cut "emails[type eq "work"].value" into ("emails", 'type eq "work"', "value")."""
    m = _NAME.match(rest)
    if not m:
        raise InvalidPath(f"The path '{path}' does not start with an attribute name.")
    name, pos, filter_text, sub = m.group(), m.end(), None, None
    if rest.startswith("[", pos):
        end = _closing_bracket(rest, pos, path)
        filter_text = rest[pos + 1:end].strip()
        if not filter_text:
            raise InvalidPath(f"The value filter in path '{path}' is empty.")
        pos = end + 1
    if rest.startswith(".", pos):
        m = _NAME.fullmatch(rest, pos + 1)
        if not m:
            raise InvalidPath(f"Malformed sub-attribute in path '{path}'.")
        sub, pos = m.group(), len(rest)
    if pos != len(rest):
        raise InvalidPath(f"Malformed path '{path}': unexpected '{rest[pos:]}'.")
    return name, filter_text, sub


def _closing_bracket(text: str, start: int, path: str) -> int:
    """Index of the "]" closing the "[" at `start`; brackets inside quoted strings (which may hold
    escaped quotes) do not count."""
    quoted = escaped = False
    for i in range(start + 1, len(text)):
        c = text[i]
        if escaped:  # the character after a backslash inside a string, e.g. the quote of \"
            escaped = False
        elif quoted and c == "\\":
            escaped = True
        elif c == '"':
            quoted = not quoted
        elif not quoted and c == "[":
            raise InvalidPath(f"Nested value filters are not allowed (path '{path}').")
        elif not quoted and c == "]":
            return i
    raise InvalidPath(f"Unbalanced '[' in path '{path}'.")


# ---------------------------------------------------------------------------------------------
# Value filters


def parse_value_filter(attr_def: dict, text: str) -> ast.Filter:
    """Parse the `valFilter` of a valuePath (RFC 7644 §3.4.2.2), checking it names sub-attributes of
    `attr_def`; InvalidFilter when it cannot be read (RFC 7644 §3.12 lists PATCH path filters under it).

    The grammar is the search filters' own (filter_parse), so a PATCH path reads multi-digit numbers,
    escaped quotes and `and` over `or` exactly as `?filter=` does."""
    try:
        tree = parse_filter(text)
    except InvalidFilter as exc:
        raise InvalidFilter(f"Invalid value filter '{text}' on '{attr_def['name']}': {exc.detail}.") from exc
    _check(tree, attr_def, text)
    return tree


def _check(tree, attr_def: dict, text: str) -> None:
    """Reject what a value filter cannot say, and put sub-attribute names in schema casing. Walked
    without recursion: Okta's `value eq "a" or … ` chains run to hundreds of terms."""
    def bad(why: str):  # RFC 7644 §3.12: invalidFilter applies to a PATCH path's filter too
        return InvalidFilter(f"Invalid value filter '{text}' on '{attr_def['name']}': {why}.")

    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Filter):
            if node.namespace is not None:
                raise bad("nested value filters are not allowed")
            stack.append(node.expr)
        elif isinstance(node, ast.LogExpr):
            stack += [node.expr2, node.expr1]
        elif isinstance(node, ast.AttrExpr):
            ap = node.attr_path
            if not isinstance(ap.attr_name, str) or ap.uri is not None or ap.sub_attr is not None:
                raise bad("only plain sub-attribute names may be compared")
            sub_def = ResourceSchema.sub_attribute(attr_def, ap.attr_name)
            if sub_def is None:
                raise bad(f"'{ap.attr_name}' is not a sub-attribute of '{attr_def['name']}'")
            if node.value.lower() in _ORDERING and sub_def["type"] in _UNORDERED_TYPES:
                raise bad(f"'{node.value}' cannot compare the {sub_def['type']} '{sub_def['name']}'")
            ap.attr_name = sub_def["name"]
        else:
            raise bad("unexpected expression")


def operands(tree, op: str) -> list:
    """The terms of an `op` ("and"/"or") chain, in order, however long, without recursion; [tree]
    when it is not such a chain. Parentheses around a same-op chain are looked through."""
    out, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Filter) and not node.negated and node.namespace is None \
                and isinstance(node.expr, ast.LogExpr) and node.expr.op.lower() == op:
            node = node.expr
        if isinstance(node, ast.LogExpr) and node.op.lower() == op:
            stack += [node.expr2, node.expr1]
        else:
            out.append(node)
    return out


def literal(comp_value: ast.CompValue | None):
    """The JSON value of a filter literal (filter_parse has already decoded strings, numbers, true,
    false and null)."""
    return None if comp_value is None else comp_value.value


def equalities(tree, attr_def: dict) -> dict | None:
    """The element a filter made only of `eq` comparisons joined by `and` describes, else None.

    `type eq "work" and primary eq true` -> {"type": "work", "primary": True}; used to create the
    element an unmatched `add`/`replace` path asks for (what Microsoft Entra ID relies on).
    """
    terms = operands(tree, "and")
    if len(terms) > 1:
        out: dict = {}
        for term in terms:
            part = equalities(term, attr_def)
            if part is None or any(k in out and out[k] != v for k, v in part.items()):
                return None
            out.update(part)
        return out
    if isinstance(tree, ast.Filter):
        return None if tree.negated or tree.namespace is not None else equalities(tree.expr, attr_def)
    if isinstance(tree, ast.LogExpr):
        return None
    if isinstance(tree, ast.AttrExpr) and tree.value.lower() == "eq":
        value = literal(tree.comp_value)
        if value is None:
            return None
        sub_def = ResourceSchema.sub_attribute(attr_def, tree.attr_path.attr_name)
        return {sub_def["name"] if sub_def else tree.attr_path.attr_name: value}
    return None


# ---------------------------------------------------------------------------------------------
# Matching


def get_ci(element: dict, name: str):
    """element[name], with the name matched case-insensitively (RFC 7643 §2.1)."""
    if name in element:
        return element[name]
    low = name.lower()
    for k, v in element.items():
        if isinstance(k, str) and k.lower() == low:
            return v
    return None


def _as_bool(v):
    """Booleans as booleans; "True"/"false" strings too, since Entra ID sends them."""
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return None


def _present(v) -> bool:
    """RFC 7644 Table 3 "pr": a non-empty, non-null value."""
    return v is not None and v != "" and v != [] and v != {}


# RFC 7644 Table 3, for values already brought to one comparable type.
_COMPARE = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "co": lambda a, b: isinstance(a, str) and b in a,
    "sw": lambda a, b: isinstance(a, str) and a.startswith(b),
    "ew": lambda a, b: isinstance(a, str) and a.endswith(b),
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def _compare(op: str, actual, expected, sub_def: dict | None) -> bool:
    if op == "pr":
        return _present(actual)
    if actual is None or expected is None:
        # An unassigned attribute equals only null, and differs from everything else.
        return {"eq": actual is expected, "ne": actual is not expected}.get(op, False)
    is_bool = (sub_def or {}).get("type") == "boolean" or isinstance(expected, bool) or isinstance(actual, bool)
    if is_bool:
        actual, expected = _as_bool(actual), _as_bool(expected)
        if actual is None or expected is None:
            return op == "ne"
    elif isinstance(actual, str) and isinstance(expected, (int, float)):
        return _compare(op, actual, number_text(expected), sub_def)  # `postalCode eq 12345`, as a search reads it
    elif isinstance(actual, str) and isinstance(expected, str):
        if not (sub_def or {}).get("caseExact", False):
            actual, expected = actual.lower(), expected.lower()  # as a search compares (filters.fold_case)
    elif not (isinstance(actual, (int, float)) and isinstance(expected, (int, float))):
        return op == "ne"  # different JSON types are never equal, and have no order
    return _COMPARE[op](actual, expected)


def matches(element, tree, attr_def: dict) -> bool:
    """Whether one value of a multi-valued attribute satisfies a valuePath filter (RFC 7644 §3.4.2.2, Table 3)."""
    if isinstance(tree, ast.Filter) and (tree.negated or not isinstance(tree.expr, ast.LogExpr)):
        result = matches(element, tree.expr, attr_def)
        return not result if tree.negated else result
    if isinstance(tree, ast.Filter):
        tree = tree.expr
    if isinstance(tree, ast.LogExpr):
        op = tree.op.lower()
        return (all if op == "and" else any)(matches(element, t, attr_def) for t in operands(tree, op))
    if isinstance(tree, ast.AttrExpr):
        name = tree.attr_path.attr_name
        sub_def = ResourceSchema.sub_attribute(attr_def, name)
        if isinstance(element, dict):
            actual = get_ci(element, name)
        else:  # a simple multi-valued attribute: "value" is the element itself
            actual = element if name.lower() == "value" else None
        return _compare(tree.value.lower(), actual, literal(tree.comp_value), sub_def)
    raise TypeError(f"not a value filter node: {tree!r}")
