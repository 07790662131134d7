"""Condition values and evaluation: the errors, and the closures a parsed condition is made of
(see conditions.py for the language and its semantics)."""
from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}

Env = Mapping[str, Any]


class ConditionError(Exception):
    """Root of every condition error."""


class ConditionSyntaxError(ConditionError):
    """The source is not a valid condition; `position` is the 0-based offset of the first problem."""

    def __init__(self, message: str, position: int):
        super().__init__(message, position)  # both in args, so the exception pickles
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return f"column {self.position + 1}: {self.message}"


class ConditionEvalError(ConditionError):
    """The condition cannot be decided for this env; `reason` is meant for an administrator."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ---- values and messages

_KINDS = {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "a string",
          list: "a list", tuple: "a list"}


def _kind(v: Any) -> str:
    return _KINDS.get(type(v)) or ("an object" if isinstance(v, Mapping) else f"a {type(v).__name__}")


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _lit_text(v: Any) -> str:
    if v is None or type(v) is bool:
        return {None: "null", True: "true", False: "false"}[v]
    return _quote(v) if type(v) is str else repr(v)


def _eq(a: Any, b: Any) -> bool:
    """Python equality, except that a boolean never equals a number (true != 1), also inside lists."""
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        return a is b
    if (ta is list or ta is tuple) and (tb is list or tb is tuple):
        return len(a) == len(b) and all(map(_eq, a, b))
    return a == b


class _Node(NamedTuple):
    kind: str  # "bool" (always yields True/False), "path" or "lit"
    fn: Callable[[Env], Any]
    text: str  # how the operand reads in messages
    pos: int
    value: Any = None  # the literal, for kind "lit"


def _const(v: Any) -> Callable[[Env], Any]:
    return lambda env: v


def _getter(root: str, keys: tuple[str, ...]) -> Callable[[Env], Any]:
    """env[root][k1][k2]... with .get, so a missing key, or a step through a non-object, reads as null."""
    # .get rather than [] also keeps a defaultdict in env from growing keys as a side effect.
    if len(keys) == 1:
        key = keys[0]

        def get(env):
            try:
                return env.get(root).get(key)
            except (AttributeError, TypeError):
                return None
        return get

    def get_deep(env):
        try:
            value = env.get(root)
            for k in keys:
                value = value.get(k)
            return value
        except (AttributeError, TypeError):
            return None
    return get_deep


def _as_bool(node: _Node) -> Callable[[Env], bool]:
    """A closure for node in a boolean position (operand of and/or/not, or the whole condition)."""
    if node.kind == "bool":
        return node.fn
    if node.kind == "lit":
        if type(node.value) is bool:
            return node.fn
        raise ConditionSyntaxError(f"{node.text} is not a condition; expected true, false or a comparison", node.pos)
    get, text = node.fn, node.text

    def test(env):
        v = get(env)
        if v is True or v is False:
            return v
        raise ConditionEvalError(f"{text} is missing (null), not true or false" if v is None
                                 else f"{text} is {_kind(v)}, not true or false")
    return test


def _junction(fns: list, word: str) -> Callable[[Env], bool]:
    """n-ary `and`/`or` over closures that already return checked booleans, short-circuiting."""
    stop = word == "or"  # the operand value that decides the whole chain
    if len(fns) == 2:
        a, b = fns
        return (lambda env: a(env) or b(env)) if stop else (lambda env: a(env) and b(env))

    def f(env):
        for fn in fns:
            if fn(env) is stop:
                return stop
        return not stop
    return f


# ---- comparisons: each builds one closure; literal operands get specialised closures for the hot path

def _comparison(op: str, left: _Node, right: _Node) -> Callable[[Env], bool]:
    # A literal operand that can only ever fail is a mistake the form should report, not a runtime deny.
    if op in _ORDER:
        for side in (left, right):
            if side.kind == "lit" and type(side.value) not in (int, float, str):
                raise ConditionSyntaxError(f"'{op}' compares numbers or strings, not {_kind(side.value)}", side.pos)
        return _ordering(op, left, right)
    if op in ("==", "!="):
        return _equality(left, right, op == "!=")
    if op == "contains":
        if left.kind == "lit" and type(left.value) not in (tuple, str):
            raise ConditionSyntaxError("'contains' needs a list or a string on the left", left.pos)
        return _contains(left, right)
    if right.kind == "lit" and type(right.value) is not tuple:
        raise ConditionSyntaxError(f"'{op}' needs a list on the right, like [\"a\", \"b\"]", right.pos)
    member = _membership(op, left, right)
    return (lambda env: not member(env)) if op == "not in" else member


def _equality(left: _Node, right: _Node, negate: bool) -> Callable[[Env], bool]:
    if left.kind == "lit" and right.kind != "lit":
        left, right = right, left  # symmetric: put the literal on the right
    get, lit, rget = left.fn, right.value, right.fn
    if right.kind != "lit" or type(lit) is tuple:
        eq = lambda env: _eq(get(env), rget(env))  # noqa: E731 - a closure per shape: the hot path
    elif lit is None or type(lit) is bool:  # singletons: identity is exact, and 1 is not True
        eq = lambda env: get(env) is lit  # noqa: E731
    elif type(lit) is str:  # a str only ever equals a str, so plain == is already exact
        eq = lambda env: get(env) == lit  # noqa: E731
    else:
        def eq(env):
            v = get(env)
            return type(v) is not bool and v == lit
    return (lambda env: not eq(env)) if negate else eq


def _ordering(op: str, left: _Node, right: _Node) -> Callable[[Env], bool]:
    cmp, lget, rget = _ORDER[op], left.fn, right.fn

    def f(env):
        a, b = lget(env), rget(env)
        ta, tb = type(a), type(b)
        if (ta is str and tb is str) or ((ta is int or ta is float) and (tb is int or tb is float)):
            return cmp(a, b)
        for node, v in ((left, a), (right, b)):
            if v is None:
                raise ConditionEvalError(f"{node.text} is missing (null), cannot compare with {op}")
        raise ConditionEvalError(f"cannot compare {left.text} ({_kind(a)}) with {right.text} ({_kind(b)}) "
                                 f"using {op}: both must be numbers or both strings")
    return f


def _membership(op: str, left: _Node, right: _Node) -> Callable[[Env], bool]:
    get = left.fn
    if right.kind == "lit":  # literal list: precomputed sets make the common case a hash lookup
        items = right.value
        strs = frozenset(x for x in items if type(x) is str)
        nums = frozenset(x for x in items if type(x) in (int, float))
        singles = tuple(x for x in items if x is None or type(x) is bool)

        def member_lit(env):
            a = get(env)
            t = type(a)
            if t is str:
                return a in strs
            if t is int or t is float:
                return a in nums
            return (a is None or t is bool) and any(a is x for x in singles)
        return member_lit
    rget = right.fn

    def member(env):
        a, b = get(env), rget(env)
        if type(b) is list or type(b) is tuple:
            return any(_eq(a, x) for x in b)
        if b is None:
            raise ConditionEvalError(f"{right.text} is missing (null), cannot use '{op}'")
        raise ConditionEvalError(f"{right.text} is {_kind(b)}, not a list; '{op}' needs a list on the right")
    return member


def _contains(left: _Node, right: _Node) -> Callable[[Env], bool]:
    lget, rget = left.fn, right.fn

    def f(env):
        a, b = lget(env), rget(env)
        ta = type(a)
        if ta is list or ta is tuple:
            # list's own `in` is exact for a string needle (str only equals str); others need _eq
            return b in a if type(b) is str else any(_eq(x, b) for x in a)
        if ta is str:
            if type(b) is str:
                return b in a
            raise ConditionEvalError(f"{right.text} is {_kind(b)}; 'contains' on a string needs a string")
        if a is None:
            raise ConditionEvalError(f"{left.text} is missing (null), cannot use 'contains'")
        raise ConditionEvalError(f"{left.text} is {_kind(a)}; 'contains' needs a list or a string on the left")
    return f


