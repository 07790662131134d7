"""Parsing SCIM filters (RFC 7644 §3.4.2.2) with scim2-filter-parser, mended where it misreads.

The package's lexer reads a number as one digit, stops a string at an escaped quote and cannot tell
the string "true" from the literal true; its parser gives `and` and `or` one precedence. The lexer
is narrowed here and the tree regrouped so `and` binds tighter, as the RFC says. Every failure is
an InvalidFilter with a position.
"""
from __future__ import annotations

import json

from scim2_filter_parser import ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser

from scim_authz.scim.errors import InvalidFilter

_LITERALS = {"TRUE": True, "FALSE": False, "NULL": None}
_MAX_DEPTH = 64  # parse-tree depth: about two per level of parentheses, not() or [...]
MAX_TERMS = 500  # comparisons per filter; SQLite refuses expressions deeper than 1000
# Characters per filter, checked before lexing: 500 comparisons of ids fit in it (Okta removes
# members with `members[value eq "<id>" or ...]`, 53 characters an id), and the parser's time grows
# with the text (8 MB took 16 s), so a longer filter is refused before any of that is spent.
MAX_LENGTH = 30_000


class _Lexer(SCIMLexer):
    """SCIMLexer with RFC 7159 strings and numbers, and typed compValues.

    The stock rules take one digit as a NUMBER and end a string at an escaped quote. Values are decoded
    here, and true/false/null in parse_filter, so "true" (a string) and true (a boolean) stay apart.
    """
    tokens = SCIMLexer.tokens

    @_(r'"(?:[^"\\]|\\.)*"')  # noqa: F821 (sly injects _)
    def COMP_VALUE(self, t):
        try:
            t.value = json.loads(t.value)
        except ValueError as e:
            raise InvalidFilter(f"invalid string at position {t.index + 1}: {e.msg}") from e
        return t

    @_(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")  # noqa: F821
    def NUMBER(self, t):
        t.value = json.loads(t.value)
        return t

    def error(self, t):
        raise InvalidFilter(f"unexpected character {t.value[0]!r} at position {t.index + 1}")


def parse_filter(filter_text: str):
    """Parse a filter (RFC 7644 §3.4.2.2) into a scim2-filter-parser AST; InvalidFilter on any syntax error."""
    if not isinstance(filter_text, str) or not filter_text.strip():
        raise InvalidFilter("the filter is empty")
    if len(filter_text) > MAX_LENGTH:
        raise InvalidFilter(f"the filter is {len(filter_text)} characters long; at most {MAX_LENGTH} are read")
    seen: list = []

    def tokens():  # remembers the last token, to say where a syntax error is
        for tok in _Lexer().tokenize(filter_text):
            if tok.type in _LITERALS:
                tok.value = _LITERALS[tok.type]
            seen.append(tok)
            yield tok
        seen.append(None)

    try:
        tree = SCIMParser().parse(tokens())
    except InvalidFilter:
        raise
    except Exception as e:  # the parser raises its own error, ValueError, TypeError... on bad input
        last = seen[-1] if seen else None
        where = "end of the filter" if last is None else f"{shown(last.value)} at position {last.index + 1}"
        raise InvalidFilter(f"invalid filter: unexpected {where}") from e
    if tree is None:
        raise InvalidFilter("invalid filter: unexpected end of the filter")
    try:
        return _regroup(tree)
    except RecursionError:
        raise InvalidFilter("the filter is nested too deeply") from None


def number_text(value: int | float) -> str:
    """An unquoted number's text, for comparing it with a string attribute (`postalCode eq 12345`)."""
    return json.dumps(value)


def shown(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def is_chain(node) -> bool:
    """An unparenthesised and/or expression (parentheses and not() wrap it in another Filter)."""
    return isinstance(node, ast.Filter) and isinstance(node.expr, ast.LogExpr) and not node.negated \
        and node.namespace is None


def _regroup(node, depth: int = 0):
    """Rebuild and/or chains so "and" binds tighter than "or" (RFC 7644 §3.4.2.2).

    scim2-filter-parser 0.7 gives both the same precedence, left-associative, so it reads
    `a or b and c` as `(a or b) and c`. Chains are walked without recursion (a long "or" of ids is
    ordinary); nesting is bounded so the walk and SQL compilation cannot exhaust the stack.
    """
    if depth > _MAX_DEPTH:
        raise InvalidFilter(f"the filter is nested more than {_MAX_DEPTH} levels deep")
    if is_chain(node):
        terms, ops, stack = [], [], [node]
        while stack:  # in-order: left operand, operator, right operand
            n = stack.pop()
            if isinstance(n, str):
                ops.append(n)
            elif is_chain(n):
                stack += [n.expr.expr2, n.expr.op.lower(), n.expr.expr1]
            else:
                terms.append(_regroup(n, depth + 1))
        groups = [[terms[0]]]
        for op, term in zip(ops, terms[1:], strict=True):
            groups.append([term]) if op == "or" else groups[-1].append(term)

        def fold(op, items):
            out = items[0]
            for item in items[1:]:
                out = ast.Filter(ast.LogExpr(op, out, item), False, None)
            return out

        return fold("or", [fold("and", g) for g in groups])
    if isinstance(node, ast.Filter):
        node.expr = _regroup(node.expr, depth + 1)
    elif isinstance(node, ast.AttrExpr) and isinstance(node.attr_path.attr_name, ast.Filter):
        node.attr_path.attr_name = _regroup(node.attr_path.attr_name, depth + 1)
    return node
