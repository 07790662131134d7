"""The schema language's tokenizer and recursive-descent parser, and the parse tree they build
(validated by schema_check.py, compiled by schema_dsl.py). Pure functions over text: no IO, no Flask."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from scim_authz.authz.schema_model import PERMISSION, RELATION, SubjectType

MAX_SOURCE_BYTES = 64 * 1024
MAX_ENTITIES = 200  # declared entity blocks
MAX_NESTING = 64  # parentheses and prefix `not`, which are what makes the parser recurse
MAX_NAME_LENGTH = 64

KEYWORDS = frozenset({"entity", "relation", "permission", "or", "and", "not", "tenant", "role"})
STATEMENT_KEYWORDS = ("entity", "relation", "permission")
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BUILTIN_MEMBER = (SubjectType("user"), SubjectType("group", "member"))

# Words swallow dashes so `tenant.billing-admin` is one token; declared names are checked for them separately.
# Any word is a role key: roles are defined by the roles API, not here, so be lenient and let it decide.
_TOKEN_RE = re.compile(r"""
    (?P<ws>[ \t\f\v]+) | (?P<nl>\n) | (?P<comment>//[^\n]*)
  | (?P<word>[A-Za-z0-9_][A-Za-z0-9_-]*) | (?P<op>&&|\|\||[&|!]) | (?P<punct>[{}()@\#.=;])
""", re.VERBOSE)
# Operators from other languages: reported, then read as the keyword meant, so one slip gives one error.
_FOREIGN_OPS = {"&&": "and", "&": "and", "||": "or", "|": "or", "!": "not"}


@dataclass(frozen=True)
class SchemaIssue:
    """One problem in a schema, at a 1-based line and column."""
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


# --- tokens -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tok:
    kind: str  # "word", "eof", or the punctuation character itself
    text: str
    line: int
    col: int

    def is_word(self, *texts: str) -> bool:
        return self.kind == "word" and (not texts or self.text in texts)


def _show(tok: _Tok) -> str:
    """A token as an admin reads it in a message."""
    if tok.kind == "eof":
        return "the end of the schema"
    return f"the keyword '{tok.text}'" if tok.text in KEYWORDS else f"'{tok.text}'"


def _char(c: str) -> str:
    return f"'{c}'" if c.isprintable() and not c.isspace() else f"U+{ord(c):04X}"


def _tokenize(text: str, issues: list[SchemaIssue]) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos, line, line_start, n = 0, 1, 0, len(text)
    while pos < n:
        col = pos - line_start + 1
        m = _TOKEN_RE.match(text, pos)
        if m is None:  # a run of characters the language has no use for: one error for the run
            end = pos + 1
            while end < n and not _TOKEN_RE.match(text, end):
                end += 1
            run = text[pos:end]
            shown = f"'{run}'" if run.isprintable() else ", ".join(_char(c) for c in run)
            issues.append(SchemaIssue(line, col, f"unexpected character{'s' * (len(run) > 1)} {shown}"))
            pos = end
            continue
        kind, value = m.lastgroup, m.group()
        if kind == "nl":
            line, line_start = line + 1, m.end()
        elif kind == "word":
            tokens.append(_Tok("word", value, line, col))
        elif kind == "op":
            meant = _FOREIGN_OPS[value]
            issues.append(SchemaIssue(line, col, f"'{value}' is not an operator here; write '{meant}'"))
            tokens.append(_Tok("word", meant, line, col))
        elif kind == "punct":
            if value == "#" and (not tokens or tokens[-1].line < line):
                issues.append(SchemaIssue(line, col, "'#' does not start a comment; comments start with '//'"))
                nl = text.find("\n", pos)
                pos = n if nl < 0 else nl
                continue
            tokens.append(_Tok(value, value, line, col))
        pos = m.end()
    tokens.append(_Tok("eof", "", line, pos - line_start + 1))
    return tokens


# --- syntax tree --------------------------------------------------------------------------------------------
# Expressions are tagged tuples keeping their tokens for messages: ("or", [e...]), ("and", [e...]), ("not", e),
# ("ref", name), ("arrow", relation, target), ("tenant", role), ("role", role).


@dataclass
class _Relation:
    name: _Tok
    subjects: list[tuple[_Tok, _Tok | None]] | None = None  # None: the statement had a syntax error
    kind = RELATION


@dataclass
class _Permission:
    name: _Tok
    expr: tuple | None = None  # None: the statement had a syntax error
    kind = PERMISSION


@dataclass
class _Entity:
    keyword: _Tok
    name: _Tok
    members: list
    scope: dict = field(default_factory=dict)  # name -> first _Relation/_Permission of that name


class _Abort(Exception):
    """A syntax error was recorded; the parser resumes at the next statement."""


class _Parser:
    def __init__(self, tokens: list[_Tok], issues: list[SchemaIssue]):
        self.toks, self.i, self.issues = tokens, 0, issues

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def advance(self) -> _Tok:
        tok = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)
        return tok

    def issue(self, tok: _Tok, message: str) -> None:
        self.issues.append(SchemaIssue(tok.line, tok.col, message))

    def fail(self, tok: _Tok, message: str):
        self.issue(tok, message)
        raise _Abort

    def expected(self, what: str):
        tok = self.tok
        hint = ""
        if tok.kind == "word" and tok.text not in KEYWORDS and tok.text.lower() in KEYWORDS:
            hint = f" (keywords are lowercase: '{tok.text.lower()}')"
        self.fail(tok, f"expected {what}, found {_show(tok)}{hint}")

    def schema(self) -> list[_Entity]:
        entities = []
        while self.tok.kind != "eof":
            if self.tok.kind == ";":
                self.advance()
                continue
            try:
                if self.tok.kind == "}":
                    self.fail(self.tok, "this '}' has no matching '{'")
                if not self.tok.is_word("entity"):
                    self.expected("'entity'")
                entities.append(self.entity())
            except _Abort:  # skip to the next entity (entity() always consumes its keyword, so this progresses)
                while not (self.tok.kind == "eof" or self.tok.is_word("entity")):
                    self.advance()
        return entities

    def entity(self) -> _Entity:
        keyword = self.advance()
        name = self.name("an entity name")
        if self.tok.kind != "{":
            self.expected(f"'{{' to open the body of entity '{name.text}'")
        brace = self.advance()
        ent = _Entity(keyword, name, [])
        while True:
            tok = self.tok
            if tok.kind == "}":
                self.advance()
                return ent
            if tok.kind == "eof" or tok.is_word("entity"):  # keep what was parsed: its errors are still useful
                self.issue(brace, f"the body of entity '{name.text}' is never closed: add '}}'")
                return ent
            if tok.kind == ";":
                self.advance()
                continue
            try:
                if tok.is_word("relation"):
                    self.relation(ent.members)
                elif tok.is_word("permission"):
                    self.permission(ent.members)
                else:
                    self.expected("'relation', 'permission' or '}'")
            except _Abort:
                if self.tok is tok:  # failed on its first token: skip it, or we would fail there forever
                    self.advance()
                while not (self.tok.kind in ("eof", "}") or self.tok.is_word(*STATEMENT_KEYWORDS)):
                    self.advance()

    def name(self, what: str) -> _Tok:
        """A declared name: reserved words and bad characters are reported but kept, so parsing goes on."""
        tok = self.tok
        if tok.kind != "word" or tok.text in STATEMENT_KEYWORDS:
            self.expected(what)
        self.advance()
        if tok.text in KEYWORDS:
            self.issue(tok, f"'{tok.text}' is a reserved word and cannot be used as a name")
        elif not NAME_RE.fullmatch(tok.text):
            self.issue(tok, f"'{tok.text}' is not a valid name: use letters, digits and '_', "
                            "starting with a letter or '_'")
        elif len(tok.text) > MAX_NAME_LENGTH:
            self.issue(tok, f"the name '{tok.text[:20]}...' is longer than {MAX_NAME_LENGTH} characters")
        return tok

    def relation(self, members: list) -> None:
        self.advance()
        stmt = _Relation(self.name("a relation name after 'relation'"))
        members.append(stmt)  # before the rest parses, so a broken relation still counts as declared
        if self.tok.kind == "=":
            self.fail(self.tok, f"a relation lists subject types such as '@user'; for an expression write "
                                f"'permission {stmt.name.text} = ...'")
        subjects = []
        while self.tok.kind == "@":
            self.advance()
            type_tok = self.name("an entity type after '@'")
            rel_tok = None
            if self.tok.kind == "#":
                self.advance()
                rel_tok = self.name(f"a relation name after '@{type_tok.text}#'")
            subjects.append((type_tok, rel_tok))
        if not subjects:
            self.expected(f"at least one subject type such as '@user' for relation '{stmt.name.text}'")
        stmt.subjects = subjects

    def permission(self, members: list) -> None:
        self.advance()
        stmt = _Permission(self.name("a permission name after 'permission'"))
        members.append(stmt)
        if self.tok.kind != "=":
            self.expected(f"'=' after permission '{stmt.name.text}'")
        eq = self.advance()
        if self.tok.kind not in ("(", "word") or self.tok.text in STATEMENT_KEYWORDS + ("or", "and"):
            self.fail(eq, f"permission '{stmt.name.text}' has an empty expression after '='")
        expr = self.or_expr(0)
        tok = self.tok
        if not (tok.kind in ("eof", "}", ";") or tok.is_word(*STATEMENT_KEYWORDS)):
            if tok.kind == ".":
                self.fail(tok, "chained arrows such as 'a.b.c' are not supported: define a permission for "
                               "'b.c' on the intermediate entity and point the arrow at it")
            if tok.kind == ")":
                self.fail(tok, "this ')' has no matching '('")
            self.expected(f"'or', 'and', 'not' or the end of permission '{stmt.name.text}'")
        stmt.expr = expr

    # Precedence, loosest first: or < and, binary not (a not b = a and not b) < prefix not < primary.
    def or_expr(self, depth: int) -> tuple:
        args = [self.and_expr(depth)]
        while self.tok.is_word("or"):
            self.advance()
            args.append(self.and_expr(depth))
        return args[0] if len(args) == 1 else ("or", args)

    def and_expr(self, depth: int) -> tuple:
        args = [self.unary(depth)]
        while self.tok.is_word("and", "not"):
            op = self.advance()
            right = self.unary(depth)
            args.append(right if op.text == "and" else ("not", right))
        return args[0] if len(args) == 1 else ("and", args)

    def unary(self, depth: int) -> tuple:
        if self.tok.is_word("not"):
            self.deeper(depth)
            self.advance()
            return ("not", self.unary(depth + 1))
        return self.primary(depth)

    def deeper(self, depth: int) -> None:
        # Parentheses and prefix `not` are the only recursion; bounding them keeps us far from RecursionError.
        if depth >= MAX_NESTING:
            self.fail(self.tok, f"the expression is nested more than {MAX_NESTING} levels deep")

    def primary(self, depth: int) -> tuple:
        tok = self.tok
        if tok.kind == "(":
            self.deeper(depth)
            self.advance()
            if self.tok.kind == ")":
                self.fail(self.tok, "empty parentheses: expected an expression between '(' and ')'")
            inner = self.or_expr(depth + 1)
            if self.tok.kind != ")":
                self.expected(f"')' to close the '(' at line {tok.line}, column {tok.col}")
            self.advance()
            return inner
        if tok.is_word("tenant", "role"):
            self.advance()
            if self.tok.kind != ".":
                self.expected(f"'.' and a role key after '{tok.text}', as in '{tok.text}.admin'")
            self.advance()
            role = self.tok
            if role.kind != "word":
                self.expected(f"a role key after '{tok.text}.'")
            self.advance()
            return ("tenant" if tok.text == "tenant" else "role", role)
        if tok.kind == "word" and tok.text not in KEYWORDS:
            self.advance()
            if self.tok.kind != ".":
                return ("ref", tok)
            self.advance()
            target = self.tok
            if target.kind != "word" or target.text in KEYWORDS:
                self.expected(f"a relation or permission name after '{tok.text}.'")
            self.advance()
            return ("arrow", tok, target)
        self.expected("a relation or permission name, 'tenant.ROLE', 'role.ROLE', 'not' or '('")


def _subject_key(type_tok: _Tok, rel_tok: _Tok | None) -> tuple[str, str | None]:
    return type_tok.text, rel_tok.text if rel_tok else None
