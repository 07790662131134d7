"""The condition language's lexer and recursive-descent parser (see conditions.py)."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple, NoReturn

from scim_authz.authz.condition_nodes import (
    ConditionSyntaxError,
    Env,
    _as_bool,
    _comparison,
    _const,
    _getter,
    _junction,
    _lit_text,
    _Node,
    _quote,
)

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
