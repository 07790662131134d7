"""Role conditions: a small expression language, parsed once into a tree of closures, never eval'd.

    resource.owner == user.id or user.title in ["CTO", "VP Engineering"]

Precedence, loosest first: `or`, `and`, prefix `not`, one comparison (`==` `!=` `<` `<=` `>` `>=` `in`
`not in` `contains`; never chained), then a literal, a list of literals, `( expr )` or an attribute path
under `user`, `resource` or `context`. Paths only ever index mappings with `.get`, so no Python attribute,
method or builtin is reachable, whatever the source says; names starting with `__` are refused anyway.

Semantics chosen to fail closed:
- a missing attribute (or a path through a non-object) reads as null;
- true never equals 1; ordering needs two numbers or two strings; `in` needs a list on the right;
  `contains` a list or a string on the left; `and`/`or`/`not` and a bare path need true or false;
  anything else raises ConditionEvalError, which the engine turns into a DENY with its reason;
- reasons name attributes and types, never values, so they can be logged and shown safely.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from scim_authz.authz.condition_nodes import ConditionError, ConditionEvalError, ConditionSyntaxError, Env
from scim_authz.authz.condition_parser import MAX_DEPTH, MAX_LIST, ROOTS, _Parser

__all__ = ["Condition", "ConditionError", "ConditionEvalError", "ConditionSyntaxError", "MAX_DEPTH", "MAX_LIST",
           "MAX_SOURCE", "ROOTS", "compile_condition", "validate_condition"]

MAX_SOURCE = 4096


@dataclass(frozen=True)
class Condition:
    """A compiled condition, equal and hashed by its source."""

    source: str
    _fn: Callable[[Env], bool] = field(default=None, init=False, compare=False, repr=False)
    _attrs: frozenset[str] = field(default=frozenset(), init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        fn, attrs = _compile(self.source)
        object.__setattr__(self, "_fn", fn)
        object.__setattr__(self, "_attrs", attrs)

    def evaluate(self, env: Env) -> bool:
        """True or False for env = {"user": {...}, "resource": {...}, "context": {...}}; raises ConditionEvalError."""
        return self._fn(env)

    def attributes(self) -> frozenset[str]:
        """The attribute paths the condition reads, e.g. {"user.department", "resource.owner"}."""
        return self._attrs

    def __reduce__(self):
        return (compile_condition, (self.source,))  # closures do not pickle; the source does


@functools.lru_cache(maxsize=1024)
def _cached(source: str) -> Condition:
    return Condition(source)


def compile_condition(source: str) -> Condition:
    """Parse source once into a Condition (cached by source); raises ConditionSyntaxError."""
    return _cached(source)


def validate_condition(source: str) -> str | None:
    """None if source is a valid condition, else the error message with its column (for forms)."""
    try:
        compile_condition(source)
    except ConditionSyntaxError as exc:
        return str(exc)
    return None


def _compile(source: str) -> tuple[Callable[[Env], bool], frozenset[str]]:
    if not isinstance(source, str):
        raise TypeError("a condition must be a string")
    if len(source) > MAX_SOURCE:
        raise ConditionSyntaxError(f"a condition is at most {MAX_SOURCE} characters", MAX_SOURCE)
    parser = _Parser(source)
    try:
        fn = parser.parse()
    except RecursionError:  # MAX_DEPTH should prevent it; a caller already deep in its stack might not
        raise ConditionSyntaxError("the condition is nested too deeply", 0) from None
    return fn, frozenset(parser.attrs)


