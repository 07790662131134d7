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
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, NoReturn

MAX_SOURCE = 4096
MAX_DEPTH = 32
MAX_LIST = 1000
ROOTS = frozenset({"user", "resource", "context"})
_KEYWORDS = frozenset({"and", "or", "not", "in", "contains"})
_LITERAL_NAMES = {"true": True, "false": False, "null": None}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
# ASCII only: Unicode digits or spaces in a condition are far more likely a paste accident than intent.
_TOKEN = re.compile(r"(?P<ws>\s+)|(?P<num>-?[0-9]+(?:\.[0-9]+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_-]*)"
                    r"|(?P<op>==|!=|<=|>=|<|>)|(?P<punct>[()\[\],.])", re.ASCII)
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n"}
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
        eq = lambda env: _eq(get(env), rget(env))
    elif lit is None or type(lit) is bool:  # singletons: identity is exact, and 1 is not True
        eq = lambda env: get(env) is lit
    elif type(lit) is str:  # a str only ever equals a str, so plain == is already exact
        eq = lambda env: get(env) == lit
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


# ---- lexer and recursive-descent parser

class _Tok(NamedTuple):
    kind: str  # num, str, name, op, punct, end, error (message in value; always the last token)
    value: Any
    pos: int
    end: int


def _lex(src: str) -> list[_Tok]:
    """All tokens; a lexical error becomes a final error token, raised only when the parser reaches it,
    so the reported error is always the first one in reading order."""
    toks, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c == '"' or c == "'":
            try:
                value, end = _lex_string(src, i)
            except ConditionSyntaxError as exc:
                return toks + [_Tok("error", exc.message, exc.position, exc.position)]
            toks.append(_Tok("str", value, i, end))
            i = end
            continue
        m = _TOKEN.match(src, i)
        if m is None:
            msg = "'=' is not an operator; use '==' to compare" if c == "=" else f"unexpected character {c!r}"
            return toks + [_Tok("error", msg, i, i)]
        kind, text = m.lastgroup, m.group()
        if kind == "num":
            toks.append(_Tok(kind, float(text) if "." in text else int(text), i, m.end()))
        elif kind != "ws":
            toks.append(_Tok(kind, text, i, m.end()))
        i = m.end()
    return toks + [_Tok("end", None, n, n)]


def _lex_string(src: str, start: int) -> tuple[str, int]:
    quote, out, i = src[start], [], start + 1
    while i < len(src):
        c = src[i]
        if c == quote:
            return "".join(out), i + 1
        if c == "\\":
            if i + 1 == len(src):
                break
            esc = _ESCAPES.get(src[i + 1])
            if esc is None:
                raise ConditionSyntaxError(f"unknown escape '\\{src[i + 1]}'; use \\\", \\', \\\\ or \\n", i)
            out.append(esc)
            i += 2
            continue
        out.append(c)
        i += 1
    raise ConditionSyntaxError("unterminated string", start)


class _Parser:
    def __init__(self, src: str):
        self.src, self.toks, self.i, self.depth, self.attrs, self.last_end = src, _lex(src), 0, 0, set(), 0

    def peek(self, ahead: int = 0) -> _Tok:
        tok = self.toks[min(self.i + ahead, len(self.toks) - 1)]
        if tok.kind == "error":
            raise ConditionSyntaxError(tok.value, tok.pos)
        return tok

    def take(self) -> _Tok:
        tok = self.peek()
        self.i += 1
        self.last_end = tok.end
        return tok

    def fail(self, message: str, tok: _Tok) -> NoReturn:
        got = "" if tok.kind == "end" else f", got {self.show(tok)}"
        raise ConditionSyntaxError(message + got, tok.pos)

    def show(self, tok: _Tok) -> str:
        return "the end" if tok.kind == "end" else repr(self.src[tok.pos:tok.end])

    def enter(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionSyntaxError(f"nested deeper than {MAX_DEPTH} levels of parentheses and 'not'", tok.pos)

    @staticmethod
    def is_(tok: _Tok, kind: str, value: str) -> bool:
        return tok.kind == kind and tok.value == value

    def parse(self) -> Callable[[Env], bool]:
        if self.peek().kind == "end":
            raise ConditionSyntaxError("the condition is empty", 0)
        node = self.chain("or", self.conjunction)
        tok = self.peek()
        if tok.kind != "end":
            raise ConditionSyntaxError(f"unexpected {self.show(tok)}; expected 'and', 'or' or the end", tok.pos)
        return _as_bool(node)

    def conjunction(self) -> _Node:
        return self.chain("and", self.negation)

    def chain(self, word: str, operand: Callable[[], _Node]) -> _Node:
        # n-ary, not nested binary nodes: a 400-term chain must not become 400 nested closures
        start, nodes = self.peek().pos, [operand()]
        while self.is_(self.peek(), "name", word):
            self.take()
            nodes.append(operand())
        if len(nodes) == 1:
            return nodes[0]
        return _Node("bool", _junction([_as_bool(n) for n in nodes], word), self.src[start:self.last_end], start)

    def negation(self) -> _Node:
        tok = self.peek()
        if not self.is_(tok, "name", "not"):
            return self.comparison()
        self.take()
        self.enter(tok)
        fn = _as_bool(self.negation())
        self.depth -= 1
        return _Node("bool", lambda env: not fn(env), self.src[tok.pos:self.last_end], tok.pos)

    def comparison_op(self, consume: bool) -> tuple[str | None, _Tok]:
        tok = self.peek()
        if tok.kind == "op" or (tok.kind == "name" and tok.value in ("in", "contains")):
            op = tok.value
        elif self.is_(tok, "name", "not"):
            if not self.is_(self.peek(1), "name", "in"):
                self.fail("expected 'in' after 'not'", self.peek(1))
            op = "not in"
        else:
            return None, tok
        if consume:
            self.take()
            if op == "not in":
                self.take()
        return op, tok

    def comparison(self) -> _Node:
        start = self.peek().pos
        left = self.primary()
        op, tok = self.comparison_op(consume=True)
        if op is None:
            return left
        right = self.primary()
        again, tok = self.comparison_op(consume=False)
        if again:  # non-associative: `a == b == c` is almost always a mistake for `a == b and b == c`
            raise ConditionSyntaxError("comparisons cannot be chained; join them with 'and'", tok.pos)
        return _Node("bool", _comparison(op, left, right), self.src[start:self.last_end], start)

    def primary(self) -> _Node:
        tok = self.peek()
        if self.is_(tok, "punct", "("):
            self.take()
            self.enter(tok)
            node = self.chain("or", self.conjunction)
            if not self.is_(self.peek(), "punct", ")"):
                self.fail(f"expected ')' to close the '(' at column {tok.pos + 1}", self.peek())
            self.take()
            self.depth -= 1
            return node
        if self.is_(tok, "punct", "["):
            return self.list_literal()
        if tok.kind in ("str", "num") or (tok.kind == "name" and tok.value in _LITERAL_NAMES):
            self.take()
            value = _LITERAL_NAMES[tok.value] if tok.kind == "name" else tok.value
            return _Node("lit", _const(value), _lit_text(value), tok.pos, value)
        if tok.kind == "name" and tok.value in ROOTS:
            return self.path()
        if tok.kind == "name" and tok.value.startswith("__"):
            raise ConditionSyntaxError("names starting with '__' are not allowed", tok.pos)
        if tok.kind == "name" and tok.value not in _KEYWORDS:
            raise ConditionSyntaxError(f"unknown name {tok.value!r}; attributes start with user., "
                                       "resource. or context.", tok.pos)
        prev = f" after {self.show(self.toks[self.i - 1])}" if self.i else ""
        self.fail(f"expected a value{prev}", tok)

    def list_literal(self) -> _Node:
        opening, items = self.take(), []
        while not (not items and self.is_(self.peek(), "punct", "]")):
            tok = self.peek()
            if not (tok.kind in ("str", "num") or (tok.kind == "name" and tok.value in _LITERAL_NAMES)):
                self.fail("list items must be strings, numbers, true, false or null", tok)
            self.take()
            items.append(_LITERAL_NAMES[tok.value] if tok.kind == "name" else tok.value)
            if len(items) > MAX_LIST:
                raise ConditionSyntaxError(f"a list holds at most {MAX_LIST} items", tok.pos)
            if not self.is_(self.peek(), "punct", ","):
                break
            self.take()
        if not self.is_(self.peek(), "punct", "]"):
            self.fail(f"expected ',' or ']' in the list opened at column {opening.pos + 1}", self.peek())
        self.take()
        value = tuple(items)  # immutable: a compiled condition is shared between threads
        return _Node("lit", _const(value), self.src[opening.pos:self.last_end], opening.pos, value)

    def path(self) -> _Node:
        root, keys = self.take(), []
        while True:
            tok = self.peek()
            if self.is_(tok, "punct", "."):
                self.take()
                key_tok = self.peek()
                if key_tok.kind != "name":
                    self.fail("expected an attribute name after '.'", key_tok)
            elif self.is_(tok, "punct", "["):
                self.take()
                key_tok = self.peek()
                if key_tok.kind != "str":
                    self.fail("expected a quoted key after '['", key_tok)
                self.take()
                if not self.is_(self.peek(), "punct", "]"):
                    self.fail("expected ']' after the key", self.peek())
            else:
                break
            if key_tok.value.startswith("__"):
                raise ConditionSyntaxError("names starting with '__' are not allowed", key_tok.pos)
            self.take()
            keys.append(key_tok.value)
        if not keys:
            self.fail(f"expected '.' or '[' after {root.value!r}", tok)
        # One spelling per attribute: user["department"] and user.department are the same path.
        text = root.value + "".join(f".{k}" if _NAME.match(k) else f"[{_quote(k)}]" for k in keys)
        self.attrs.add(text)
        return _Node("path", _getter(root.value, tuple(keys)), text, root.pos)
