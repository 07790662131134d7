"""The relationship schema language: parsing, precedence, built-ins, validation messages and positions, limits, JSON."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scim_authz.authz.schema_dsl import (
    And,
    Arrow,
    CompiledSchema,
    EntityDef,
    InstanceRole,
    Not,
    Or,
    Ref,
    RelationDef,
    SchemaError,
    SchemaIssue,
    SubjectType,
    TenantRole,
    parse_schema,
    validate_schema,
)

EXAMPLE = """\
// line comments with //
entity user {}

entity group {
  relation member @user @group#member
}

entity folder {
  relation owner @user
  relation parent @folder
  relation viewer @user @group#member
  permission view = owner or viewer or parent.view or tenant.viewer
  permission edit = owner or parent.edit or role.editor
}

entity document {
  relation owner @user
  relation parent @folder
  relation banned @user
  permission edit = owner or parent.edit
  permission view = (owner or parent.view) and not banned
  permission comment = view not banned     // Permify-style exclusion: "a not b" means "a and not b"
}
"""

USER, GROUP_MEMBER = SubjectType("user", None), SubjectType("group", "member")
BUILTIN_GROUP = EntityDef("group", {"member": RelationDef("member", (USER, GROUP_MEMBER))}, {})


def rel(name: str) -> Ref:
    return Ref(name, "relation")


def perm(name: str) -> Ref:
    return Ref(name, "permission")


def issues(source: str) -> list[tuple[int, int]]:
    return [(i.line, i.column) for i in validate_schema(source)]


# --- valid schemas ------------------------------------------------------------------------------------------


def test_example_compiles_to_the_expected_structure():
    schema = parse_schema(EXAMPLE)
    assert list(schema.entities) == ["user", "group", "folder", "document"]
    assert schema.source == EXAMPLE
    assert schema.entities["user"] == EntityDef("user", {}, {})
    assert schema.entities["group"] == BUILTIN_GROUP
    assert schema.entities["folder"] == EntityDef(
        "folder",
        {"owner": RelationDef("owner", (USER,)),
         "parent": RelationDef("parent", (SubjectType("folder", None),)),
         "viewer": RelationDef("viewer", (USER, GROUP_MEMBER))},
        {"view": Or((rel("owner"), rel("viewer"), Arrow("parent", "view"), TenantRole("viewer"))),
         "edit": Or((rel("owner"), Arrow("parent", "edit"), InstanceRole("editor")))},
    )
    doc = schema.entities["document"]
    assert list(doc.relations) == ["owner", "parent", "banned"]
    assert doc.permissions == {
        "edit": Or((rel("owner"), Arrow("parent", "edit"))),
        "view": And((Or((rel("owner"), Arrow("parent", "view"))), Not(rel("banned")))),
        "comment": And((perm("view"), Not(rel("banned")))),
    }
    assert schema.permission("document", "view") == doc.permissions["view"]
    assert schema.relation("document", "parent") == RelationDef("parent", (SubjectType("folder"),))
    assert schema.relation("document", "view") is None and schema.permission("document", "owner") is None
    assert schema.relation("nope", "owner") is None and schema.permission("nope", "view") is None


PRECEDENCE = [
    ("a or b and c", Or((rel("a"), And((rel("b"), rel("c")))))),
    ("a and b or c", Or((And((rel("a"), rel("b"))), rel("c")))),
    ("not a and b", And((Not(rel("a")), rel("b")))),
    ("not (a and b)", Not(And((rel("a"), rel("b"))))),
    ("a not b or c", Or((And((rel("a"), Not(rel("b")))), rel("c")))),
    ("a or b not c", Or((rel("a"), And((rel("b"), Not(rel("c"))))))),
    ("a not b not c", And((rel("a"), Not(rel("b")), Not(rel("c"))))),
    ("a and b not c", And((rel("a"), rel("b"), Not(rel("c"))))),
    ("a not not b", And((rel("a"), Not(Not(rel("b")))))),
    ("a and not b", And((rel("a"), Not(rel("b"))))),
    ("a or not b", Or((rel("a"), Not(rel("b"))))),
    ("not not a", Not(Not(rel("a")))),
    ("a or (b or c)", Or((rel("a"), rel("b"), rel("c")))),
    ("(a or b) or (c or a)", Or((rel("a"), rel("b"), rel("c"), rel("a")))),
    ("a and (b and (c and a))", And((rel("a"), rel("b"), rel("c"), rel("a")))),
    ("a and (b or c)", And((rel("a"), Or((rel("b"), rel("c")))))),
    ("((a))", rel("a")),
    ("a or p", Or((rel("a"), perm("p")))),
    ("a\n    or b\n    and c", Or((rel("a"), And((rel("b"), rel("c")))))),
    ("t.p", Arrow("t", "p")),
    ("t.a and not t.p", And((Arrow("t", "a"), Not(Arrow("t", "p"))))),
    ("tenant.billing-admin or role.x", Or((TenantRole("billing-admin"), InstanceRole("x")))),
    ("tenant.2fa_admins", TenantRole("2fa_admins")),
    ("role.editor not tenant.guest", And((InstanceRole("editor"), Not(TenantRole("guest"))))),
]


@pytest.mark.parametrize(("expr", "expected"), PRECEDENCE, ids=[p[0] for p in PRECEDENCE])
def test_expression_precedence_and_flattening(expr, expected):
    source = f"entity t {{\n  relation a @user\n  relation b @user\n  relation c @user\n  relation t @t\n" \
             f"  permission p = a\n  permission x = {expr}\n}}"
    assert parse_schema(source).permission("t", "x") == expected


def test_empty_source_has_only_the_built_ins():
    schema = parse_schema("")
    assert dict(schema.entities) == {"user": EntityDef("user", {}, {}), "group": BUILTIN_GROUP}
    assert parse_schema("  // nothing here\n\n").entities == schema.entities


def test_built_ins_exist_without_being_declared():
    schema = parse_schema("entity team {\n  relation member @user @group#member\n  permission view = member\n}")
    assert schema.entities["group"] == BUILTIN_GROUP
    assert schema.relation("team", "member").subjects == (USER, GROUP_MEMBER)


@pytest.mark.parametrize("member", [
    "", "relation member @user @group#member", "relation member @group#member @user",
])
def test_group_declarations_extend_the_built_in_member(member):
    schema = parse_schema(f"entity group {{\n  {member}\n  relation admin @user\n"
                          "  permission manage = admin or member\n}")
    group = schema.entities["group"]
    assert list(group.relations) == ["member", "admin"]
    assert group.relations["member"] == RelationDef("member", (USER, GROUP_MEMBER))  # built-in order kept
    assert group.permissions["manage"] == Or((rel("admin"), rel("member")))


def test_user_may_be_declared_and_extended():
    schema = parse_schema("entity user {\n  relation manager @user\n}\nentity doc { relation owner @user "
                          "permission view = owner or owner.manager }")
    assert schema.relation("user", "manager") == RelationDef("manager", (USER,))
    assert list(schema.entities) == ["user", "group", "doc"]


@pytest.mark.parametrize("source", [
    "entity a { relation x @user; permission p = x; }",
    "entity a {relation x @user permission p = x}",
    "entity a {\r\n  relation x @user\r\n  permission p = x\r\n}\r\n",
    "\ufeffentity a {\n\trelation x @user\n\tpermission p = x // trailing\n}",
    "entity a {\n  relation x\n    @user\n  permission p =\n    x\n};",
])
def test_layout_is_free(source):
    schema = parse_schema(source)
    assert schema.entities["a"] == EntityDef("a", {"x": RelationDef("x", (USER,))}, {"p": rel("x")})


@pytest.mark.parametrize("source", [
    "entity folder { relation parent @folder relation owner @user permission view = owner or parent.view }",
    ("entity a { relation next @b relation o @user permission p = o or next.q }\n"
     "entity b { relation next @a relation o @user permission q = o or next.p }"),
    # arrows go to the object, so a userset-only relation is checked against `group`
    "entity team { relation groups @group#member permission view = groups.member }",
    "entity a { relation o @user relation x @user permission p = q permission q = x or o }",  # forward reference
])
def test_recursion_through_arrows_and_forward_references_are_fine(source):
    assert validate_schema(source) == []


def test_json_round_trip_is_exact_and_stable():
    schema = parse_schema(EXAMPLE)
    data = schema.to_json()
    text = json.dumps(data)
    again = CompiledSchema.from_json(json.loads(text))
    assert again == schema and again.entities == schema.entities and again.source == EXAMPLE
    assert json.dumps(again.to_json()) == text == json.dumps(parse_schema(EXAMPLE).to_json())
    assert data["entities"]["group"]["relations"]["member"] == [
        {"type": "user", "relation": None}, {"type": "group", "relation": "member"}]
    assert data["entities"]["document"]["permissions"]["comment"] == {"op": "and", "args": [
        {"op": "ref", "name": "view", "kind": "permission"},
        {"op": "not", "arg": {"op": "ref", "name": "banned", "kind": "relation"}}]}


@pytest.mark.parametrize("expr", [p[0] for p in PRECEDENCE])
def test_every_expression_round_trips(expr):
    source = f"entity t {{ relation a @user relation b @user relation c @user relation t @t " \
             f"permission p = a permission x = {expr} }}"
    schema = parse_schema(source)
    assert CompiledSchema.from_json(json.loads(json.dumps(schema.to_json()))) == schema


def test_compiled_schema_is_immutable_and_hashable():
    schema = parse_schema(EXAMPLE)
    assert hash(schema) == hash(parse_schema(EXAMPLE))
    with pytest.raises(TypeError):
        schema.entities["x"] = None
    with pytest.raises(TypeError):
        schema.entities["document"].permissions["x"] = None
    with pytest.raises(AttributeError):
        schema.source = ""


@pytest.mark.parametrize("data", [
    None, {}, {"version": 2, "source": "", "entities": {}},
    {"version": 1, "source": "", "entities": []},
    {"version": 1, "source": "", "entities": {"a": {"relations": {}, "permissions": {"p": {"op": "xor"}}}}},
    {"version": 1, "source": "", "entities": {"a": {"relations": {}, "permissions": {"p": {"op": "ref",
                                                                                          "name": "x", "kind": "?"}}}}},
    {"version": 1, "source": "", "entities": {"a": {"relations": {"r": [{"type": 3, "relation": None}]},
                                                    "permissions": {}}}},
])
def test_from_json_rejects_what_to_json_never_produces(data):
    with pytest.raises(ValueError, match="not a compiled schema"):
        CompiledSchema.from_json(data)


# --- invalid schemas: (source, [(line, column, phrase), ...]) -------------------------------------------------

INVALID = {
    "unknown entity type": (
        "entity doc {\n  relation owner @usr\n}",
        [(2, 19, "unknown entity type 'usr' in '@usr' (did you mean 'user'?)")]),
    "unknown userset relation": (
        "entity doc {\n  relation viewer @user @group#membr\n}",
        [(2, 32, "entity 'group' has no relation or permission 'membr' for '@group#membr' (did you mean 'member'?)")]),
    "userset on user": (
        "entity doc { relation r @user#friend }",
        [(1, 31, "entity 'user' has no relation or permission 'friend'")]),
    "duplicate entity": (
        "entity a {}\nentity a {}",
        [(2, 8, "entity 'a' is already declared at line 1")]),
    "duplicate built-in entity": (
        "entity user {}\nentity user {}",
        [(2, 8, "entity 'user' is already declared at line 1")]),
    "duplicate relation": (
        "entity a {\n  relation x @user\n  relation x @group\n}",
        [(3, 12, "'x' is already declared in entity 'a' at line 2")]),
    "relation and permission share a namespace": (
        "entity a {\n  relation x @user\n  permission x = x\n}",
        [(3, 14, "relations and permissions share one namespace")]),
    "built-in member with other types": (
        "entity group {\n  relation member @user\n}",
        [(2, 12, "can only be declared as 'relation member @user @group#member'")]),
    "built-in member as a permission": (
        "entity group {\n  relation admin @user\n  permission member = admin\n}",
        [(3, 14, "'member' is built into entity 'group'")]),
    "subject type listed twice": (
        "entity a { relation x @user @group#member @user }",
        [(1, 44, "'@user' is listed twice in relation 'x'")]),
    "unknown identifier": (
        "entity a {\n  relation owner @user\n  permission view = ownr or editor\n}",
        [(3, 21, "unknown relation or permission 'ownr' in entity 'a' (did you mean 'owner'?)"),
         (3, 29, "unknown relation or permission 'editor' in entity 'a'")]),
    "arrow through unknown relation": (
        "entity a {\n  relation owner @user\n  permission view = parnt.view\n}",
        [(3, 21, "unknown relation 'parnt' in entity 'a' (in 'parnt.view')")]),
    "arrow through a permission": (
        "entity a {\n  relation parent @a\n  permission up = parent\n  permission view = up.view\n}",
        [(4, 21, "'up.view' starts from 'up', a permission of entity 'a': arrows can only follow relations")]),
    "arrow target missing on the target entity": (
        ("entity folder { relation owner @user }\n"
         "entity doc {\n  relation parent @folder\n  permission view = parent.view\n}"),
        [(4, 28, "'view' is not a relation or permission of entity 'folder', which relation 'parent' can point to")]),
    "arrow target missing on one of several types": (
        ("entity folder { permission view = owner relation owner @user }\n"
         "entity drive { relation owner @user }\n"
         "entity doc {\n  relation parent @folder @drive @user\n  permission view = parent.view\n}"),
        [(5, 28, "'view' is not a relation or permission of entities 'drive' and 'user', which relation 'parent'")]),
    "arrow through a userset relation goes to group": (
        "entity doc {\n  relation viewers @group#member\n  permission view = viewers.view\n}",
        [(3, 29, "'view' is not a relation or permission of entity 'group'")]),
    "arrow from user": (
        "entity doc { relation owner @user permission view = owner.member }",
        [(1, 59, "of entity 'user', which relation 'owner' can point to (in 'owner.member')")]),
    "two-permission cycle": (
        "entity a {\n  relation o @user\n  permission a = b or o\n  permission b = a\n}",
        [(3, 18, "permission 'a' depends on itself: a -> b -> a")]),
    "self cycle": (
        "entity a {\n  relation owner @user\n  permission a = a or owner\n}",
        [(3, 18, "permission 'a' depends on itself: a -> a")]),
    "longer cycle under not": (
        "entity d {\n  relation o @user\n  permission x = o and not y\n  permission y = (z)\n"
        "  permission z = o or x\n}",
        [(3, 28, "permission 'x' depends on itself: x -> y -> z -> x (recursion must go through an arrow")]),
    "reserved names": (
        "entity tenant {}\nentity a {\n  relation role @user\n  permission or = role\n}",
        [(1, 8, "'tenant' is a reserved word and cannot be used as a name"),
         (3, 12, "'role' is a reserved word"),
         (4, 14, "'or' is a reserved word"),
         (5, 1, "expected '.' and a role key after 'role', as in 'role.admin', found '}'")]),
    "invalid name": (
        "entity a {\n  relation billing-admin @user\n}",
        [(2, 12, "'billing-admin' is not a valid name: use letters, digits and '_'")]),
    "name too long": (
        "entity " + "a" * 65 + " {}",
        [(1, 8, "is longer than 64 characters")]),
    "unexpected token at top level": (
        "relation owner @user",
        [(1, 1, "expected 'entity', found the keyword 'relation'")]),
    "keywords are lowercase": (
        "Entity a {}",
        [(1, 1, "expected 'entity', found 'Entity' (keywords are lowercase: 'entity')")]),
    "uppercase operator": (
        "entity a {\n  relation o @user\n  permission v = o OR o\n}",
        [(3, 20, "expected 'or', 'and', 'not' or the end of permission 'v', found 'OR' (keywords are lowercase")]),
    "missing operator": (
        "entity a {\n  relation o @user\n  permission v = o o\n}",
        [(3, 20, "expected 'or', 'and', 'not' or the end of permission 'v', found 'o'")]),
    "missing brace after entity name": (
        "entity a\n  relation x @user\n}",
        [(2, 3, "expected '{' to open the body of entity 'a', found the keyword 'relation'")]),
    "missing subject types": (
        "entity a {\n  relation o\n  permission p = o\n}",
        [(3, 3, "expected at least one subject type such as '@user' for relation 'o'")]),
    "relation written like a permission": (
        "entity a {\n  relation o = p\n}",
        [(2, 14, "for an expression write 'permission o = ...'")]),
    "missing equals": (
        "entity a {\n  relation o @user\n  permission p o\n}",
        [(3, 16, "expected '=' after permission 'p', found 'o'")]),
    "missing name": (
        "entity a {\n  relation @user\n}",
        [(2, 12, "expected a relation name after 'relation', found '@'")]),
    "unterminated block": (
        "entity a {\n  relation o @user\n",
        [(1, 10, "the body of entity 'a' is never closed: add '}'")]),
    "unterminated block before the next entity": (
        "entity a {\n  relation o @user\nentity b { relation x @nobody }",
        [(1, 10, "the body of entity 'a' is never closed"), (3, 24, "unknown entity type 'nobody'")]),
    "stray closing brace": (
        "entity a {}\n}",
        [(2, 1, "this '}' has no matching '{'")]),
    "empty expression": (
        "entity a {\n  relation o @user\n  permission p =\n  permission q = o\n}",
        [(3, 16, "permission 'p' has an empty expression after '='")]),
    "empty expression at the end": (
        "entity a {\n  permission p = }",
        [(2, 16, "permission 'p' has an empty expression after '='")]),
    "dangling operator": (
        "entity a {\n  relation o @user\n  permission p = o or\n}",
        [(4, 1, "expected a relation or permission name, 'tenant.ROLE', 'role.ROLE', 'not' or '(', found '}'")]),
    "empty parentheses": (
        "entity a {\n  permission p = ()\n}",
        [(2, 19, "empty parentheses")]),
    "unclosed parenthesis": (
        "entity a {\n  relation o @user\n  permission p = (o or o\n}",
        [(4, 1, "expected ')' to close the '(' at line 3, column 18, found '}'")]),
    "unmatched closing parenthesis": (
        "entity a {\n  relation o @user\n  permission p = o)\n}",
        [(3, 19, "this ')' has no matching '('")]),
    "chained arrows": (
        "entity a {\n  relation p @a\n  permission v = p.p.p\n}",
        [(3, 21, "chained arrows such as 'a.b.c' are not supported")]),
    "tenant without a role": (
        "entity a {\n  permission v = tenant\n}",
        [(3, 1, "expected '.' and a role key after 'tenant', as in 'tenant.admin', found '}'")]),
    "stray characters": (
        "entity a {\n  relation o @user $$\n  permission p = o %\n}",
        [(2, 20, "unexpected characters '$$'"), (3, 20, "unexpected character '%'")]),
    "invisible stray character": (
        "entity a {\u00a0}",
        [(1, 11, "unexpected character U+00A0")]),
    "foreign operators are read as meant": (
        "entity a {\n  relation o @user\n  permission p = o && !o || o\n}",
        [(3, 20, "'&&' is not an operator here; write 'and'"), (3, 23, "'!' is not an operator here; write 'not'"),
         (3, 26, "'||' is not an operator here; write 'or'")]),
    "hash comment": (
        "# a comment\n  # another\nentity a {}",
        [(1, 1, "'#' does not start a comment; comments start with '//'"), (2, 3, "comments start with '//'")]),
}


@pytest.mark.parametrize(("source", "expected"), INVALID.values(), ids=INVALID.keys())
def test_invalid_schemas_report_position_and_message(source, expected):
    found = validate_schema(source)
    assert [(i.line, i.column) for i in found] == [(line, col) for line, col, _ in expected], found
    for issue, (_, _, phrase) in zip(found, expected, strict=True):
        assert phrase in issue.message
    with pytest.raises(SchemaError) as exc:
        parse_schema(source)
    assert exc.value.errors == found


def test_all_errors_are_collected_in_one_pass():
    source = """\
entity doc {
  relation owner @usr
  relation owner @user
  relation parent @folder
  permission view = owner or viewer
  permission edit = parent.edit
  permission a = b
  permission b = a
  permission c = (owner or
}
entity doc {}
entity folder { relation x @user $ }
"""
    found = validate_schema(source)
    assert [(i.line, i.column) for i in found] == [
        (2, 19), (3, 12), (5, 30), (6, 28), (7, 18), (10, 1), (11, 8), (12, 34)]
    assert [m.split(" (")[0] for m in (i.message for i in found)] == [
        "unknown entity type 'usr' in '@usr'",
        "'owner' is already declared in entity 'doc' at line 2",
        "unknown relation or permission 'viewer' in entity 'doc'",
        "'edit' is not a relation or permission of entity 'folder', which relation 'parent' can point to",
        "permission 'a' depends on itself: a -> b -> a",
        "expected a relation or permission name, 'tenant.ROLE', 'role.ROLE', 'not' or '(', found '}'",
        "entity 'doc' is already declared at line 1",
        "unexpected character '$'",
    ]


def test_schema_error_lists_every_issue():
    with pytest.raises(SchemaError) as exc:
        parse_schema("entity a { permission p = x }\nentity a {}")
    assert exc.value.errors == [
        SchemaIssue(1, 27, "unknown relation or permission 'x' in entity 'a'"),
        SchemaIssue(2, 8, "entity 'a' is already declared at line 1"),
    ]
    assert str(exc.value) == ("line 1, column 27: unknown relation or permission 'x' in entity 'a'\n"
                              "line 2, column 8: entity 'a' is already declared at line 1")


def test_long_cycles_are_named_briefly():
    n = 30
    source = ("entity a {\n" + "".join(f"  permission p{i} = p{i + 1}\n" for i in range(n))
              + f"  permission p{n} = p0\n}}")
    [issue] = validate_schema(source)
    assert (issue.line, issue.column) == (2, 19)
    assert "p0 -> p1 -> p2 -> p3 -> p4 -> p5 -> ... (23 more) -> p29 -> p30 -> p0" in issue.message


# --- limits -------------------------------------------------------------------------------------------------


def _nested(expr: str) -> str:
    return f"entity a {{\n  relation o @user\n  permission p = {expr}\n}}"


@pytest.mark.parametrize(("expr", "ok"), [
    ("(" * 64 + "o" + ")" * 64, True),
    ("(" * 65 + "o" + ")" * 65, False),
    ("not " * 64 + "o", True),
    ("not " * 65 + "o", False),
    ("(not " * 32 + "o" + ")" * 32, True),
    ("(" * 10_000 + "o" + ")" * 10_000, False),
    ("not " * 10_000 + "o", False),
    ("o not " + "(not " * 5_000 + "o" + ")" * 5_000, False),
])
def test_nesting_is_bounded_without_recursion_errors(expr, ok):
    found = validate_schema(_nested(expr))
    if ok:
        assert found == []
    else:
        assert len(found) == 1 and found[0].line == 3
        assert "nested more than 64 levels deep" in found[0].message
        with pytest.raises(SchemaError):
            parse_schema(_nested(expr))


def test_long_flat_expressions_are_fine():
    expr = " or ".join(["o"] * 10_000)
    assert parse_schema(_nested(expr)).permission("a", "p") == Or((rel("o"),) * 10_000)


def test_source_size_is_limited():
    body = "entity a {}\n"
    fits = "// " + "x" * (64 * 1024 - len(body) - 4) + "\n" + body
    assert len(fits.encode()) == 64 * 1024 and validate_schema(fits) == []
    too_big = fits + " "
    [issue] = validate_schema(too_big)
    assert (issue.line, issue.column) == (1, 1) and "limit is 65536 bytes (64 KiB)" in issue.message
    # the limit is in bytes: three-byte characters count three times
    assert validate_schema("// " + "€" * 22_000) != []


def test_entity_count_is_limited():
    assert validate_schema("".join(f"entity e{i} {{}}\n" for i in range(200))) == []
    found = validate_schema("".join(f"entity e{i} {{}}\n" for i in range(201)))
    assert [(i.line, i.column, i.message) for i in found] == [
        (201, 1, "too many entities: at most 200 may be declared")]


@pytest.mark.parametrize("bad", [None, b"entity a {}", 42])
def test_non_text_is_an_issue_not_a_crash(bad):
    [issue] = validate_schema(bad)
    assert (issue.line, issue.column) == (1, 1) and "must be text" in issue.message


# --- robustness ---------------------------------------------------------------------------------------------

FRAGMENTS = ["entity", "relation", "permission", "or", "and", "not", "tenant", "role", "user", "group", "member",
             "a", "b", "doc", "parent", "view", "{", "}", "(", ")", "@", "#", ".", "=", ";", "\n", " ", "//", "-",
             "$", "&&", "é", "\t", "\r"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=60).map(" ".join))
def test_arbitrary_token_soup_never_crashes(source):
    found = validate_schema(source)
    assert all(isinstance(i, SchemaIssue) and i.line >= 1 and i.column >= 1 for i in found)
    assert found == sorted(found, key=lambda i: (i.line, i.column))
    try:
        schema = parse_schema(source)
    except SchemaError as exc:
        assert exc.errors == found and found
    else:
        assert found == []
        assert CompiledSchema.from_json(json.loads(json.dumps(schema.to_json()))) == schema


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(source):
    assert isinstance(validate_schema(source), list)


def _render(tree) -> str:
    """Source for a random tree, fully parenthesised so its shape is exactly what was drawn."""
    match tree:
        case ("or" | "and" as op, args):
            return "(" + f" {op} ".join(_render(a) for a in args) + ")"
        case ("not", arg):
            return f"not {_render(arg)}"
        case ("andnot", a, b):
            return f"({_render(a)} not {_render(b)})"
        case name:
            return name


def _expected(tree):
    """The compiled form the brief prescribes: Or/And flattened, `a not b` as And((a, Not(b)))."""
    match tree:
        case ("or" | "and" as op, args):
            cls = Or if op == "or" else And
            flat = []
            for a in map(_expected, args):
                flat.extend(a.args if isinstance(a, cls) else (a,))
            return cls(tuple(flat))
        case ("not", arg):
            return Not(_expected(arg))
        case ("andnot", a, b):
            return _expected(("and", [a, ("not", b)]))
        case name:
            return rel(name) if name in "abc" else Arrow("t", "p")


_TREES = st.recursive(
    st.sampled_from(["a", "b", "c", "t.p"]),
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(["or", "and"]), st.lists(inner, min_size=2, max_size=4)),
        st.tuples(st.just("not"), inner),
        st.tuples(st.just("andnot"), inner, inner),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_TREES)
def test_random_expressions_compile_to_their_flattened_shape(tree):
    source = f"entity t {{ relation a @user relation b @user relation c @user relation t @t " \
             f"permission p = a permission x = {_render(tree)} }}"
    schema = parse_schema(source)
    assert schema.permission("t", "x") == _expected(tree)
    assert CompiledSchema.from_json(json.loads(json.dumps(schema.to_json()))) == schema
