"""The relationship schema language (Zanzibar / Permify style): tokenizer, recursive-descent parser,
validator, compiler.

    entity folder {
      relation owner @user
      relation viewer @user @group#member
      relation parent @folder
      permission view = owner or viewer or parent.view or tenant.viewer
      permission comment = view not banned      // "a not b" means "a and not b"
    }

Pure functions over text: no IO, no Flask. Every problem is collected in one pass (syntax errors recover at the
next statement) and reported with its 1-based line and column, so an admin fixes a schema in one round trip.
Columns count characters; a tab is one column. Built-in entities `user` and `group` (relation
`member @user @group#member`, i.e. SCIM membership with nested groups) always exist.
"""
from __future__ import annotations

from scim_authz.authz.schema_model import (
    PERMISSION,
    RELATION,
    And,
    Arrow,
    CompiledSchema,
    EntityDef,
    Expr,
    FrozenMap,
    InstanceRole,
    Not,
    Or,
    Ref,
    RelationDef,
    SubjectType,
    TenantRole,
)

__all__ = [
    "SchemaError", "SchemaIssue", "parse_schema", "validate_schema", "CompiledSchema", "EntityDef", "RelationDef",
    "SubjectType", "Expr", "Or", "And", "Not", "Ref", "Arrow", "TenantRole", "InstanceRole", "FrozenMap",
    "RELATION", "PERMISSION", "MAX_SOURCE_BYTES", "MAX_ENTITIES", "MAX_NESTING", "MAX_NAME_LENGTH",
]

from scim_authz.authz.schema_check import Checker
from scim_authz.authz.schema_parse import (
    BUILTIN_MEMBER,
    MAX_ENTITIES,
    MAX_NAME_LENGTH,
    MAX_NESTING,
    MAX_SOURCE_BYTES,
    SchemaIssue,
    _Entity,
    _Parser,
    _Permission,
    _subject_key,
    _tokenize,
)


class SchemaError(Exception):
    """A schema did not parse or validate; .errors lists every issue found."""

    def __init__(self, errors: list[SchemaIssue]):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


def parse_schema(source: str) -> CompiledSchema:
    """Parse, validate and compile a schema; SchemaError lists every problem."""
    issues, entities = _analyse(source)
    if issues:
        raise SchemaError(issues)
    return _compile(entities, source)


def validate_schema(source: str) -> list[SchemaIssue]:
    """Every problem in a schema, in source order; [] when it is valid. Never raises for bad input."""
    return _analyse(source)[0]


def _analyse(source: object) -> tuple[list[SchemaIssue], list[_Entity]]:
    """Tokenize, parse and check; the issues in source order, and the tree (compilable when there are none)."""
    if not isinstance(source, str):
        return [SchemaIssue(1, 1, f"the schema must be text, not {type(source).__name__}")], []
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        return [SchemaIssue(1, 1, f"the schema is {size} bytes; the limit is {MAX_SOURCE_BYTES} bytes (64 KiB)")], []
    issues: list[SchemaIssue] = []
    # Editors do not count a byte-order mark as a column, and every line ending counts as one line.
    text = source.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    entities = _Parser(_tokenize(text, issues), issues).schema()
    Checker(entities, issues).check()
    issues = sorted(dict.fromkeys(issues), key=lambda i: (i.line, i.column))
    return issues, entities


def _compile(entities: list[_Entity], source: str) -> CompiledSchema:
    out = {"user": EntityDef("user", {}, {}),
           "group": EntityDef("group", {"member": RelationDef("member", BUILTIN_MEMBER)}, {})}
    for ent in entities:
        relations, permissions = {}, {}
        for name, member in ent.scope.items():
            if isinstance(member, _Permission):
                permissions[name] = _compile_expr(member.expr, ent.scope)
            elif ent.name.text == "group" and name == "member":
                relations[name] = RelationDef(name, BUILTIN_MEMBER)  # however it was restated
            else:
                relations[name] = RelationDef(name, tuple(SubjectType(*_subject_key(*s)) for s in member.subjects))
        out[ent.name.text] = EntityDef(ent.name.text, relations, permissions)
    return CompiledSchema(out, source)


def _compile_expr(node: tuple, scope: dict) -> Expr:
    match node:
        case ("or" | "and" as op, args):
            cls = Or if op == "or" else And
            flat: list[Expr] = []
            for arg in args:  # a or (b or c) is Or(a, b, c): one shape per meaning for the evaluator
                compiled = _compile_expr(arg, scope)
                flat.extend(compiled.args if isinstance(compiled, cls) else (compiled,))
            return cls(tuple(flat))
        case ("not", arg):
            return Not(_compile_expr(arg, scope))
        case ("ref", tok):
            return Ref(tok.text, scope[tok.text].kind)
        case ("arrow", rel, target):
            return Arrow(rel.text, target.text)
        case ("tenant", tok):
            return TenantRole(tok.text)
        case ("role", tok):
            return InstanceRole(tok.text)
    raise AssertionError(f"unknown node {node[0]!r}")
