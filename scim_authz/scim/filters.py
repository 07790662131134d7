"""SCIM filters and sortBy (RFC 7644 §3.4.2.2, §3.4.2.3) compiled to SQLAlchemy expressions, evaluated in SQL.

scim2-filter-parser does the lexing and parsing; the walker here maps its AST onto our models with a
declarative attribute table. Every attribute must resolve through the schema (schema_defs): an unknown name
is an InvalidFilter, never a dropped condition, so a typo cannot widen a result to the whole table.
Values are always bound parameters. The caller adds the tenant condition.

Semantics chosen where the RFC leaves room:
- every comparison is true or false, never NULL: an absent attribute fails eq/co/gt..., so `ne` and
  `not (...)` match it; `eq null` means "not present", `ne null` "present", other operators on null fail;
- a multi-valued attribute matches when one element does, all conditions in [...] on the same element;
  `emails.type ne "work"` means no element equals "work";
- `groups` holds direct and indirect memberships, as the User resource shows them.
"""
from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from scim2_filter_parser import ast
from sqlalchemy import ColumnElement, Numeric, and_, case, cast, exists, false, func, literal, not_, or_, select, true
from sqlalchemy.orm import aliased

from scim_authz.db.models import Group, GroupMember, User
from scim_authz.scim.errors import InvalidFilter
from scim_authz.scim.filter_parse import MAX_LENGTH as _MAX_LENGTH
from scim_authz.scim.filter_parse import MAX_TERMS as _MAX_TERMS
from scim_authz.scim.filter_parse import is_chain as _is_chain
from scim_authz.scim.filter_parse import number_text, parse_filter
from scim_authz.scim.filter_parse import shown as _shown
from scim_authz.scim.schema_defs import ENTERPRISE_USER, SCHEMA_FOR

_MODELS = {"User": User, "Group": Group}

# Attributes kept in columns, by canonical path: (column, lowered). `lowered` marks columns whose text is
# already lowercase (the *_ci columns; ids are lowercase uuid4s), so a caseExact=false comparison uses
# the column as is against value.lower() and its index stays usable.
_COLUMNS = {
    "User": {
        "id": (User.id, True), "userName": (User.user_name_ci, True), "externalId": (User.external_id, False),
        "active": (User.active, False), "displayName": (User.display_name, False),
        "meta.created": (User.created, False), "meta.lastModified": (User.last_modified, False),
        "meta.resourceType": (literal("User"), False),
    },
    "Group": {
        "id": (Group.id, True), "displayName": (Group.display_name_ci, True), "externalId": (Group.external_id, False),
        "meta.created": (Group.created, False), "meta.lastModified": (Group.last_modified, False),
        "meta.resourceType": (literal("Group"), False),
    },
}
# Attributes the server computes from something we cannot reach in SQL (or only renders), with the reason.
_NOT_FILTERABLE = {
    "meta": "meta is complex: name a sub-attribute such as meta.lastModified",
    "meta.location": "meta.location is derived from the request URL and cannot be filtered or sorted on",
    "meta.version": "meta.version cannot be filtered or sorted on",
    "groups.$ref": "groups.$ref cannot be filtered on; use groups.value",
    "groups.type": "groups.type cannot be filtered on",
    "members.$ref": "members.$ref cannot be filtered on; use members.value",
    "members.display": "members.display cannot be filtered on; use members.value",
}
_STRINGS = ("string", "reference", "binary")
_ORDERING = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}
_COMPARE = {"eq": operator.eq, **_ORDERING}
_SUBSTRING = ("co", "sw", "ew")
@dataclass
class _Scalar:
    """One value as SQL: a column, JSON text in `doc`, or a field of an array element."""
    name: str
    expr: ColumnElement
    adef: dict                      # its RFC 7643 §7 definition
    lowered: bool = False           # expr already holds lowercase text
    json_bool: Callable[[bool], ColumnElement[bool]] | None = None  # set for values read from JSON


@dataclass
class _Elements:
    """The elements of a multi-valued attribute, for "some element matches" (conditions on ONE element)."""
    name: str
    adef: dict
    field: Callable[[dict], _Scalar]                                   # a sub-attribute of the element
    exists: Callable[[ColumnElement[bool]], ColumnElement[bool]]
    nonempty: Callable[[], ColumnElement[bool]]
    first: Callable[[ColumnElement], ColumnElement] | None = None      # sortBy: primary, else first element


@dataclass
class _Complex:
    """A singular complex attribute named without a sub-attribute (name, manager): only "pr" applies."""
    name: str
    fields: list[_Scalar]


class _Json:
    """Reading JSON documents with the dialect's own functions; keys and paths are bound parameters."""

    def __init__(self, dialect: str):
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported dialect {dialect!r}")
        self.pg = dialect == "postgresql"

    @staticmethod
    def _path(keys) -> str:
        # Quoted keys: the extension URN holds ':' and '.'.
        return "$" + "".join(f'."{k}"' for k in keys)

    def text(self, doc, keys):
        """The value at `keys` as text (SQLite: its SQL value); NULL when absent or JSON null."""
        return func.jsonb_extract_path_text(doc, *keys) if self.pg else func.json_extract(doc, self._path(keys))

    def is_bool(self, doc, keys, value: bool):
        """The value at `keys` is the JSON boolean `value` (not the string "true", not the number 1)."""
        if self.pg:
            return func.jsonb_extract_path(doc, *keys) == func.to_jsonb(value)
        return func.json_type(doc, self._path(keys)) == ("true" if value else "false")

    def elements(self, doc, keys):
        """(FROM clause over the array at `keys`, the element as JSON, its position); no rows if not an array."""
        if self.pg:
            arr = func.jsonb_extract_path(doc, *keys)
            arr = case((func.jsonb_typeof(arr) == "array", arr), else_=func.jsonb_build_array())
            # "ordinality" is the name PostgreSQL gives the WITH ORDINALITY column.
            src = func.jsonb_array_elements(arr).table_valued("value", with_ordinality="ordinality")
            return src, src.c.value, src.c.ordinality
        src = func.json_each(doc, self._path(keys)).table_valued("value", "type", "key")
        # json_extract() raises on non-JSON text, so only object elements are looked into.
        return src, case((src.c.type == "object", src.c.value)), src.c.key


class _Compiler:
    def __init__(self, resource_type: str, dialect: str):
        if resource_type not in SCHEMA_FOR:
            raise ValueError(f"unknown resource type {resource_type!r}")
        self.rt, self.schema, self.model = resource_type, SCHEMA_FOR[resource_type], _MODELS[resource_type]
        self.json, self.sqlite = _Json(dialect), dialect == "sqlite"
        self.terms = 0

    # ---- attribute names ------------------------------------------------------------------------

    def resolve(self, path: str):
        """A path (optionally URN-qualified, any case) -> _Scalar, (_Elements, sub def), _Complex or "schemas"."""
        urn, rest = self.schema.split_urn(path)
        top, _, sub = rest.partition(".")
        adef = self.schema.lookup(urn, top) if top else None
        if adef is None and urn is None and top.lower() == "manager" and ENTERPRISE_USER in self.schema.extensions:
            # Entra ID filters on `manager` without the enterprise extension's URN (before it changes
            # a user's manager); other extension attributes must be named with theirs (RFC 7644 §3.10).
            urn, adef = ENTERPRISE_USER, self.schema.lookup(ENTERPRISE_USER, top)
        if adef is None:
            if urn is None and top.lower() == "schemas" and not sub:
                return "schemas"
            raise InvalidFilter(f"unknown attribute {path!r} for {self.rt}")
        if adef["returned"] == "never":
            raise InvalidFilter(f"{adef['name']} is never returned, so it cannot be filtered or sorted on")
        sdef = None
        if sub:
            if adef["type"] != "complex":
                raise InvalidFilter(f"{adef['name']} has no sub-attributes (in {path!r})")
            sdef = self.schema.sub_attribute(adef, sub)
            if sdef is None:
                raise InvalidFilter(f"unknown sub-attribute {sub!r} of {adef['name']} (in {path!r})")
        canonical = adef["name"] + (f".{sdef['name']}" if sdef else "")
        ext = [urn] if urn not in (None, self.schema.core) else []
        name = ":".join(ext + [canonical])
        if name in _NOT_FILTERABLE:
            raise InvalidFilter(_NOT_FILTERABLE[name])
        if name in _COLUMNS[self.rt]:
            column, lowered = _COLUMNS[self.rt][name]
            return _Scalar(name, column, sdef or adef, lowered)
        if name.split(".")[0] in ("groups", "members"):
            return (self._user_groups() if self.rt == "User" else self._group_members()), sdef
        if adef["multiValued"]:
            return self._json_elements(ext + [adef["name"]], adef, ":".join(ext + [adef["name"]])), sdef
        if adef["type"] == "complex" and sdef is None:
            return _Complex(name, [self._json_scalar(self.model.doc, ext + [adef["name"], sub["name"]], sub,
                                                     f"{name}.{sub['name']}") for sub in adef["subAttributes"]])
        keys = ext + canonical.split(".")
        return self._json_scalar(self.model.doc, keys, sdef or adef, name)

    def _json_scalar(self, doc, keys, adef, name) -> _Scalar:
        return _Scalar(name, self.json.text(doc, keys), adef, json_bool=lambda v: self.json.is_bool(doc, keys, v))

    def _json_elements(self, keys, adef, name) -> _Elements:
        src, elem, pos = self.json.elements(self.model.doc, keys)

        def field(sdef):
            return self._json_scalar(elem, [sdef["name"]], sdef, f"{name}.{sdef['name']}")

        def first(expr):
            # RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary value, else its first value.
            primary = case((self.json.is_bool(elem, ["primary"], True), 0), else_=1)
            return select(expr).select_from(src).order_by(primary, pos).limit(1).scalar_subquery()

        return _Elements(
            name, adef, field,
            exists=lambda cond: exists().select_from(src).where(cond),
            # A complex value is present when any of its sub-attributes is (RFC 7644 §3.4.2.2, "pr").
            nonempty=lambda: exists().select_from(src).where(
                or_(*(_present(field(s)) for s in adef["subAttributes"]))),
            first=first)

    def _group_members(self) -> _Elements:
        """Group.members: rows of group_members (direct members only, as the resource lists them)."""
        gm = aliased(GroupMember)
        cols = {"value": (gm.member_id, True), "type": (gm.member_type, False)}
        adef = self.schema.lookup(None, "members")
        return _Elements(
            "members", adef, _row_field("members", cols),
            exists=lambda cond: exists().select_from(gm).where(gm.group_id == Group.id, cond),
            nonempty=lambda: exists().select_from(gm).where(gm.group_id == Group.id))

    def _user_groups(self) -> _Elements:
        """User.groups: direct and indirect memberships (RFC 7643 §4.1.2), as the resource lists them."""
        g = aliased(Group)
        cols = {"value": (g.id, True), "display": (g.display_name_ci, True)}
        adef = self.schema.lookup(None, "groups")

        def exists_(cond):
            # Start at the groups that satisfy cond and walk membership edges down to the users. UNION (not
            # UNION ALL) stops on cycles; the walk is not correlated, so it runs once per query.
            start = select(GroupMember.member_id.label("id")).join(g, g.id == GroupMember.group_id).where(cond)
            reached = start.cte(recursive=True, nesting=True)
            edge = aliased(GroupMember)
            reached = reached.union(select(edge.member_id).join(reached, edge.group_id == reached.c.id))
            return User.id.in_(select(reached.c.id))

        gm = aliased(GroupMember)
        return _Elements(
            "groups", adef, _row_field("groups", cols),
            exists=exists_, nonempty=lambda: exists().select_from(gm).where(gm.member_id == User.id))

    # ---- filter tree --------------------------------------------------------------------------------

    def filter(self, node, scope: _Elements | None = None) -> ColumnElement[bool]:
        if isinstance(node, ast.Filter):
            if node.namespace is not None:
                if scope is not None:
                    raise InvalidFilter("value filters ([...]) cannot be nested")
                if node.namespace.sub_attr is not None:
                    raise InvalidFilter("a value filter applies to a multi-valued attribute: write "
                                        f"{node.namespace.attr_name}[...].{node.namespace.sub_attr.value}")
                cond = self.value_path(node, None)
            else:
                cond = self.filter(node.expr, scope)
            return not_(cond) if node.negated else cond
        if isinstance(node, ast.LogExpr):
            # One flat AND/OR per chain of the same operator, collected without recursion.
            op, items, stack = node.op.lower(), [], [node]
            while stack:
                n = stack.pop()
                if _is_chain(n) and n.expr.op.lower() == op:
                    n = n.expr
                if isinstance(n, ast.LogExpr) and n.op.lower() == op:
                    stack += [n.expr2, n.expr1]
                else:
                    items.append(self.filter(n, scope))
            return and_(*items) if op == "and" else or_(*items)
        if isinstance(node, ast.AttrExpr):
            return self.attr_expr(node, scope)
        raise InvalidFilter(f"unsupported filter element {node!r}")

    def attr_expr(self, node: ast.AttrExpr, scope: _Elements | None) -> ColumnElement[bool]:
        op, value, path = node.value.lower(), node.comp_value.value if node.comp_value else None, node.attr_path
        self.terms += 1
        if self.terms > _MAX_TERMS:
            raise InvalidFilter(f"the filter has more than {_MAX_TERMS} comparisons")
        if node.comp_value is not None and value is None:
            # Our choice for null: "eq null" is "not present", "ne null" is "present"; nothing else.
            if op not in ("eq", "ne"):
                raise InvalidFilter(f"{op} cannot compare with null")
            present = self.attr_expr(ast.AttrExpr("pr", path, None), scope)
            return not_(present) if op == "eq" else present
        if isinstance(path.attr_name, ast.Filter):
            # emails[type eq "work"].value eq "x" (Entra ID): the parser moves ".value" onto the namespace.
            if scope is not None:
                raise InvalidFilter("value filters ([...]) cannot be nested")
            return self.value_path(path.attr_name, (op, value))
        if scope is not None:
            if path.uri or path.sub_attr:
                raise InvalidFilter(f"inside {scope.name}[...] name a sub-attribute of {scope.name}")
            return self.element_test(scope, path.attr_name, op, value)
        full = (f"{path.uri}:" if path.uri else "") + path.attr_name + \
            (f".{path.sub_attr.value}" if path.sub_attr else "")
        target = self.resolve(full)
        if target == "schemas":
            return self.schemas(op, value)
        if isinstance(target, _Scalar):
            return _compare(target, op, value, self.sqlite)
        if isinstance(target, _Complex):
            if op == "pr":  # a complex value is present when any of its sub-attributes is
                return or_(*(_present(f) for f in target.fields))
            # No sub-attribute means its "value", as for a multi-valued one (RFC 7644 §3.4.2.2):
            # Entra ID asks `manager eq "<id>"` before it changes a user's manager.
            value_field = next((f for f in target.fields if f.name == f"{target.name}.value"), None)
            if value_field is None:
                raise InvalidFilter(f"{target.name} is complex: name a sub-attribute, e.g. {target.fields[0].name}")
            return _compare(value_field, op, value, self.sqlite)
        elements, sdef = target
        sub = sdef["name"] if sdef else None
        if op == "ne":  # not equal: no element is equal (so also true when there are no elements)
            return not_(elements.exists(self.element_test(elements, sub, "eq", value)))
        if op == "pr" and sub is None:
            return elements.nonempty()
        return elements.exists(self.element_test(elements, sub, op, value))

    def value_path(self, vp: ast.Filter, leaf: tuple[str, object] | None) -> ColumnElement[bool]:
        """attr[valFilter], optionally followed by .sub op value: everything holds on the same element."""
        ns = vp.namespace
        target = self.resolve((f"{ns.uri}:" if ns.uri else "") + ns.attr_name)
        if not isinstance(target, tuple):
            raise InvalidFilter(f"{ns.attr_name}[...] needs a multi-valued attribute")
        elements = target[0]
        cond = self.filter(vp.expr, elements)
        if leaf is not None:
            sub = ns.sub_attr.value if ns.sub_attr else None
            cond = and_(cond, self.element_test(elements, sub, *leaf))
        return elements.exists(cond)

    def element_test(self, elements: _Elements, sub: str | None, op: str, value) -> ColumnElement[bool]:
        """A comparison on one element; no sub-attribute means "value" (RFC 7644 §3.4.2.2)."""
        if sub is None:
            if op == "pr":
                return or_(*(_present(elements.field(s)) for s in elements.adef["subAttributes"]
                             if f"{elements.name}.{s['name']}" not in _NOT_FILTERABLE))
            if self.schema.sub_attribute(elements.adef, "value") is None:
                raise InvalidFilter(f"{elements.name} has no value: name a sub-attribute, e.g. "
                                    f"{elements.name}.{elements.adef['subAttributes'][0]['name']}")
            sub = "value"
        sdef = self.schema.sub_attribute(elements.adef, sub)
        if sdef is None:
            raise InvalidFilter(f"unknown sub-attribute {sub!r} of {elements.name}")
        if f"{elements.name}.{sdef['name']}" in _NOT_FILTERABLE:
            raise InvalidFilter(_NOT_FILTERABLE[f"{elements.name}.{sdef['name']}"])
        return _compare(elements.field(sdef), op, value, self.sqlite)

    def schemas(self, op: str, value) -> ColumnElement[bool]:
        """`schemas`: the core URN always; an extension URN when the document holds its key."""
        if op == "pr":
            return true()
        if not isinstance(value, str):
            raise InvalidFilter("schemas holds URIs: compare it with a quoted string")
        holds = {self.schema.core: true(), **{u: self.json.text(self.model.doc, [u]).is_not(None)
                                              for u in self.schema.extensions}}
        test = {"co": str.__contains__, "sw": str.startswith, "ew": str.endswith, "ne": operator.eq, **_COMPARE}[op]
        matched = or_(false(), *(cond for urn, cond in holds.items() if test(urn.lower(), value.lower())))
        return not_(matched) if op == "ne" else matched


def _row_field(name: str, cols: dict) -> Callable[[dict], _Scalar]:
    """Sub-attributes of a membership row: {sub-attribute: (column, lowered)}."""
    return lambda sdef: _Scalar(f"{name}.{sdef['name']}", cols[sdef["name"]][0], sdef, cols[sdef["name"]][1])


def _present(s: _Scalar) -> ColumnElement[bool]:
    """pr: not null and, for strings, not empty."""
    if s.adef["type"] in _STRINGS:
        return and_(s.expr.is_not(None), s.expr != "")
    return s.expr.is_not(None)


def _datetime(value: str, name: str) -> datetime:
    """An xsd:dateTime as naive UTC, the way the DateTime columns store it; no offset means UTC."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidFilter(f"{name} is a dateTime; {value!r} is not an ISO 8601 date-time") from None
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


def _compare(s: _Scalar, op: str, value, sqlite: bool) -> ColumnElement[bool]:
    """One attribute operator (RFC 7644 §3.4.2.2, Table 3) on one value: true or false, never NULL."""
    if op == "pr":
        return _present(s)
    if op == "ne":  # so also true when the attribute is absent
        return not_(_compare(s, "eq", value, sqlite))
    cond = _test(s, op, value, sqlite)
    # A comparison with an absent value must be false, not NULL, or not (...) would drop the resource too.
    column = getattr(s.expr, "expression", s.expr)
    return and_(s.expr.is_not(None), cond) if getattr(column, "nullable", True) else cond


def _test(s: _Scalar, op: str, value, sqlite: bool) -> ColumnElement[bool]:
    kind = s.adef["type"]
    if kind == "boolean":
        if op != "eq":
            raise InvalidFilter(f"{op} cannot be used on boolean attribute {s.name}")
        if not isinstance(value, bool):
            raise InvalidFilter(f"{s.name} is boolean: compare it with true or false, not {_shown(value)}")
        return s.json_bool(value) if s.json_bool else s.expr == value
    if kind in ("integer", "decimal"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or op in _SUBSTRING:
            raise InvalidFilter(f"{s.name} is a number: use eq, ne, gt, ge, lt, le with a number")
        return _COMPARE[op](cast(s.expr, Numeric) if s.json_bool else s.expr, value)
    if kind in ("string", "reference") and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = number_text(value)  # `postalCode eq 12345`: the number's text, as a PATCH path reads it
    if not isinstance(value, str):
        raise InvalidFilter(f"{s.name} is a {kind}: compare it with a quoted string, not {_shown(value)}")
    if kind == "dateTime":  # every dateTime attribute lives in a DateTime column (meta.*)
        if op in _SUBSTRING:
            raise InvalidFilter(f"{op} cannot be used on dateTime attribute {s.name}")
        return _COMPARE[op](s.expr, _datetime(value, s.name))
    if kind == "binary" and op in _ORDERING:
        raise InvalidFilter(f"{op} cannot be used on binary attribute {s.name}")
    expr, exact = s.expr, s.adef["caseExact"]
    if not exact and s.lowered:  # a *_ci column: lowered in Python when written, so is the value
        value = value.lower()
    elif not exact:
        # Both sides lowered by the same function, whatever the script (fold_case): on PostgreSQL
        # its lower() folds differently from Python's in places (a final sigma), so the value is
        # not lowered in Python.
        expr, folded = fold_case(expr, sqlite), fold_case(literal(value), sqlite)
        return _COMPARE[op](expr, folded) if op not in _SUBSTRING else _substring(op, expr, folded, sqlite)
    if op not in _SUBSTRING:
        return _COMPARE[op](expr, value)
    if exact and sqlite:  # SQLite's LIKE ignores ASCII case
        return _substring(op, expr, literal(value), sqlite)
    # autoescape: %, _ and the escape character in the value match literally.
    return {"co": expr.contains, "sw": expr.startswith, "ew": expr.endswith}[op](value, autoescape=True)


def _substring(op: str, expr: ColumnElement, value: ColumnElement, sqlite: bool) -> ColumnElement[bool]:
    """co, sw, ew by position rather than LIKE: exact, with no wildcard to escape."""
    if op == "co":
        return (func.instr(expr, value) if sqlite else func.strpos(expr, value)) > 0
    if op == "sw":
        return func.substr(expr, 1, func.length(value)) == value
    if sqlite:  # a start before the first character yields a shorter text, never equal
        return func.substr(expr, func.length(expr) - func.length(value) + 1) == value
    return func.right(expr, func.length(value)) == value


def build_filter(filter_text: str, resource_type: str, dialect: str) -> ColumnElement[bool]:
    """The SQL condition for a SCIM filter (RFC 7644 §3.4.2.2) on "User" or "Group"; no tenant condition."""
    tree = parse_filter(filter_text)
    try:
        return _Compiler(resource_type, dialect).filter(tree)
    except RecursionError:
        raise InvalidFilter("the filter is nested too deeply") from None


# `attr eq "text"`, spaced as the lexer reads it: a plain attribute name, and a string with no
# escape and no control character (so its text is its value, as the lexer would decode it).
_PLAIN_EQ = re.compile(r'[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]+[eE][qQ][ \t]+"([^"\\\x00-\x1f]*)"[ \t]*')


def indexed_eq(filter_text: str | None, resource_type: str) -> tuple[str, str] | None:
    """(column name, value) when the filter is one `attr eq "text"` on an attribute kept in a column in
    the form it is compared in (id, externalId, userName, a group's displayName), else None.

    This is the look-up IdPs send before every create (`userName eq "…"`, `displayName eq "…"`,
    `externalId eq "…"`); `column = value` is exactly the condition build_filter makes for it, found
    without lexing and parsing, so the caller can run a statement built once. Anything else, an
    error included, is left to build_filter."""
    if not isinstance(filter_text, str) or len(filter_text) > _MAX_LENGTH:
        return None
    m = _PLAIN_EQ.fullmatch(filter_text)
    if m is None:
        return None
    schema = SCHEMA_FOR[resource_type]
    adef = schema.lookup(None, m.group(1))
    entry = _COLUMNS[resource_type].get(adef["name"]) if adef is not None else None
    if entry is None or adef["type"] not in ("string", "reference") or adef["returned"] == "never":
        return None
    column, lowered = entry
    if not adef["caseExact"] and not lowered:
        return None  # folded in SQL on both sides (fold_case): build_filter's condition
    value = m.group(2)
    return column.key, value if adef["caseExact"] else value.lower()


def sort_expression(sort_by: str, resource_type: str, dialect: str) -> ColumnElement:
    """The ORDER BY expression for sortBy (RFC 7644 §3.4.2.3); lowercased when caseExact is false."""
    compiler = _Compiler(resource_type, dialect)
    target = compiler.resolve((sort_by or "").strip())
    if isinstance(target, tuple):
        elements, sdef = target
        if elements.first is None:
            raise InvalidFilter(f"cannot sort by {elements.name}")
        sdef = sdef or compiler.schema.sub_attribute(elements.adef, "value")
        if sdef is None:
            raise InvalidFilter(f"cannot sort by {elements.name}: name a sub-attribute")
        return elements.first(_sort_key(elements.field(sdef), compiler.sqlite))
    if not isinstance(target, _Scalar):
        raise InvalidFilter(f"cannot sort by {sort_by}")
    return _sort_key(target, compiler.sqlite)


def _sort_key(s: _Scalar, sqlite: bool) -> ColumnElement:
    if s.adef["type"] in _STRINGS and not s.adef["caseExact"] and not s.lowered:
        return fold_case(s.expr, sqlite)
    return s.expr


def fold_case(expr: ColumnElement, sqlite: bool) -> ColumnElement:
    """Text lowercased in every script, as Python's str.lower does it. SQLite's own lower() folds
    ASCII only, so there it is the function db.setup registers on every connection; PostgreSQL's
    lower() follows the database's LC_CTYPE (a UTF-8 locale, as initdb gives by default)."""
    return func.scim_fold(expr) if sqlite else func.lower(expr)
