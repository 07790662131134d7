"""The role-condition language: truth tables per operator, syntax and evaluation errors, limits, safety."""
from __future__ import annotations

import pickle
from dataclasses import FrozenInstanceError

import pytest

from scim_authz.authz.conditions import (
    MAX_DEPTH,
    MAX_LIST,
    MAX_SOURCE,
    Condition,
    ConditionError,
    ConditionEvalError,
    ConditionSyntaxError,
    compile_condition,
    validate_condition,
)

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ENV = {
    "user": {
        "id": "u1", "department": "engineering", "title": "CTO", "active": True, "level": 3, "clearance": 2,
        "score": 2.5, "groups": ["Admins", "Eng"], "flags": [1, True], "name": {"givenName": "Babs", "familyName": "J"},
        "enterprise": {"department": "Sales"}, ENT: {"costCenter": "4130", "manager": {"value": "m1"}},
        "key with spaces": "yes", "dashed-name": "d", "off": False, "nothing": None, "zero": 0, "one": 1,
        "quote": 'say "hi"', "apos": "it's", "backslash": "a\\b", "newline": "a\nb", "nick": "babs",
    },
    "resource": {"owner": "u1", "classification": 2, "locked": False, "level": 1, "tags": ["a", "b"],
                 "desc": "top secret plans"},
    "context": {"ip_country": "FR", "hour": 14},
}


def check(source: str, env: dict = ENV) -> bool:
    return compile_condition(source).evaluate(env)


# ---- truth tables

BRIEF_EXAMPLES = [
    ('user.department == "engineering"', True),
    ('resource.owner == user.id or user.title in ["CTO", "VP Engineering"]', True),
    ('context.ip_country not in ["KP", "IR"] and user.active == true', True),
    ("resource.classification <= user.clearance and not (resource.locked == true)", True),
    ('user.groups contains "Admins"', True),
    ('user.enterprise.department == "Sales"', True),
]

EQUALITY = [
    ('user.department == "engineering"', True),
    ('user.department == "Engineering"', False),  # case-sensitive
    ('user.department != "Engineering"', True),
    ('"engineering" == user.department', True),  # literal on the left
    ("resource.owner == user.id", True),
    ("resource.owner != user.id", False),
    ("user.level == 3", True),
    ("user.level == 3.0", True),
    ("user.score == 2.5", True),
    ("user.level != 4", True),
    ("user.active == true", True),
    ("user.active != false", True),
    ("user.off == false", True),
    ("user.one == true", False),  # true != 1
    ("user.one != true", True),
    ("user.active == 1", False),
    ("user.active != 1", True),
    ("user.zero == false", False),
    ("true == 1", False),
    ("1 == true", False),
    ("user.one == 1", True),
    ("user.nothing == null", True),
    ("user.missing == null", True),
    ("user.missing != null", False),
    ("user.id != null", True),
    ('user.missing == ""', False),
    ("user.zero == null", False),
    ('user.groups == ["Admins", "Eng"]', True),
    ('user.groups == ["Eng", "Admins"]', False),
    ("user.flags == [1, true]", True),
    ("user.flags == [true, 1]", False),  # elementwise, still true != 1
    ("user.flags == [1, 1]", False),
    ("user.groups == resource.tags", False),
    ("user.name == user.name", True),
    ('user.level == "3"', False),
    ("1 == 1", True),
    ('"a" != "a"', False),
    ("null == null", True),
]

ORDERING = [
    ("user.level > 2", True),
    ("user.level > 3", False),
    ("user.level >= 3", True),
    ("user.level < 3", False),
    ("user.level <= 3", True),
    ("user.score < 3", True),
    ("user.score > 2.49", True),
    ("user.level > -1", True),
    ("-1 < user.zero", True),
    ("user.level > -3.5", True),
    ("resource.classification <= user.clearance", True),
    ("resource.classification < user.clearance", False),
    ('user.department < "f"', True),
    ('user.department >= "engineering"', True),
    ('"Z" < "a"', True),  # code-point order, case-sensitive
    ("resource.level <= user.level", True),
]

MEMBERSHIP = [
    ('user.title in ["CTO", "VP Engineering"]', True),
    ('user.title in ["cto"]', False),
    ('user.title not in ["CTO"]', False),
    ('context.ip_country not in ["KP", "IR"]', True),
    ("user.level in [1, 2, 3]", True),
    ("user.level in [1.0, 3.0]", True),
    ("user.one in [true]", False),
    ("user.active in [1]", False),
    ("user.active in [true]", True),
    ("user.off in [0, null]", False),
    ("user.missing in [null]", True),
    ("user.missing in [1]", False),
    ("user.missing not in [1]", True),
    ("user.level in []", False),
    ("user.level not in []", True),
    ('user.groups in ["Admins"]', False),  # a list is never equal to a scalar item
    ('"Eng" in user.groups', True),
    ('"eng" in user.groups', False),
    ("1 in user.flags", True),
    ("true in user.flags", True),
    ("user.active in user.flags", True),
    ('"x" not in user.groups', True),
    ('user.groups contains "Admins"', True),
    ('user.groups contains "admins"', False),
    ("user.flags contains 1", True),
    ("user.flags contains true", True),
    ("user.flags contains 2", False),
    ('resource.desc contains "secret"', True),  # substring
    ('resource.desc contains "Secret"', False),
    ('resource.desc contains ""', True),
    ('["a", "b"] contains resource.tags', False),
    ('["u1", "u2"] contains user.id', True),
    ('"engineering" contains "gin"', True),
]

PRECEDENCE = [
    ("true or false and false", True),  # or < and: true or (false and false)
    ("(true or false) and false", False),
    ("false and true or true", True),
    ("false and (true or true)", False),
    ("not false and false", False),  # (not false) and false
    ("not (false and false)", True),
    ("not true or true", True),
    ('not user.department == "sales"', True),  # not (user.department == "sales")
    ('not user.department == "engineering"', False),
    ("not not true", True),
    ("not not not true", False),
    ("(user.level == 3) == true", True),
    ("(user.level == 3) != (resource.level == 3)", True),
    ("true and true and true and false", False),
    ("false or false or false or true", True),
    ("((((user.active))))", True),
    ("user.active", True),  # a bare path is a boolean test
    ("user.off", False),
    ("not user.off", True),
    ("user.active and not user.off", True),
    ("true", True),
    ("false", False),
    ("  user.active\n\tand\r\n true  ", True),  # any ASCII whitespace between tokens
]

SHORT_CIRCUIT = [
    # The right side would raise (null ordering / non-boolean path), but is never reached.
    ("false and user.missing < 1", False),
    ("true or user.missing < 1", True),
    ("user.off and user.department", False),
    ("user.active or user.department", True),
    ("false and true and user.missing", False),
    ("true or false or user.missing", True),
]

LITERALS = [
    ('user.quote == "say \\"hi\\""', True),
    ("user.quote == 'say \"hi\"'", True),
    ("user.apos == 'it\\'s'", True),
    ('user.apos == "it\'s"', True),
    ('user.backslash == "a\\\\b"', True),
    ("user.backslash == 'a\\\\b'", True),
    ('user.newline == "a\\nb"', True),
    ('user.newline == "anb"', False),
    ('"" == ""', True),
    ("user.zero == -0", True),
    ("user.level == 003", True),
    ("user.score == 2.50", True),
    ("-2.5 < -2", True),
    ('"ünïcødé" == "ünïcødé"', True),
]

PATHS = [
    ('user.name.givenName == "Babs"', True),
    ('user["name"]["givenName"] == "Babs"', True),
    ("user['name'].givenName == 'Babs'", True),
    (f'user["{ENT}"].costCenter == "4130"', True),
    (f'user["{ENT}"].manager.value == "m1"', True),
    (f'user["{ENT}"]["manager"]["value"] == "m1"', True),
    ('user["key with spaces"] == "yes"', True),
    ('user.dashed-name == "d"', True),
    ("user.name.missing == null", True),
    ("user.missing.deeper.still == null", True),
    ("user.department.length == null", True),  # a step through a string reads as null
    ("user.groups.first == null", True),  # ... and through a list
    ("resource.nope == null", True),
    ('context.hour >= 9 and context.hour < 18', True),
    ("user.in == null and user.not == null and user.true == null", True),  # keywords are fine as names
]

TABLE = EQUALITY + ORDERING + MEMBERSHIP + PRECEDENCE + SHORT_CIRCUIT + LITERALS + PATHS + BRIEF_EXAMPLES


@pytest.mark.parametrize("source, expected", TABLE, ids=[s for s, _ in TABLE])
def test_truth_table(source, expected):
    assert check(source) is expected


@pytest.mark.parametrize("env", [
    {}, {"user": None}, {"user": "x"}, {"user": []}, {"user": {"name": None}}, {"user": {"name": ["x"]}},
])
def test_missing_roots_and_non_objects_read_as_null(env):
    assert check("user.name.givenName == null", env) is True
    assert check("user.name == null or user.name.givenName == null", env) is True


# ---- syntax errors: (source, 0-based position, message fragment)

SYNTAX_ERRORS = [
    ("user.x ==", 9, "expected a value after '=='"),
    ("user.x = 1", 7, "'=' is not an operator; use '=='"),
    ("(user.x == 1", 12, "expected ')' to close the '(' at column 1"),
    ("user.x == 1 == 2", 12, "comparisons cannot be chained"),
    ("user.x < 1 in [1]", 11, "comparisons cannot be chained"),
    ("foo.x == 1", 0, "unknown name 'foo'"),
    ('"unterminated', 0, "unterminated string"),
    ("user.x == 'abc", 10, "unterminated string"),
    ('user.x == "abc\\', 10, "unterminated string"),
    ("user.x in [1, 2", 15, "expected ',' or ']' in the list opened at column 11"),
    ("[1, 2", 5, "expected ',' or ']'"),
    ("user.x in [1, 2,]", 16, "list items must be"),
    ("user.x in [user.y]", 11, "list items must be"),
    ("user.x in [[1]]", 11, "list items must be"),
    ("user.", 5, "expected an attribute name after '.'"),
    ("user.1 == 2", 5, "expected an attribute name after '.'"),
    ("user == 1", 5, "expected '.' or '[' after 'user'"),
    ("user[1] == 1", 5, "expected a quoted key after '['"),
    ('user["a" == 1', 9, "expected ']' after the key"),
    ("1 +", 2, "unexpected character '+'"),
    ("", 0, "the condition is empty"),
    ("   ", 0, "the condition is empty"),
    ("user.x in", 9, "expected a value after 'in'"),
    ("user.x not in", 13, "expected a value after 'in'"),
    ("user.x not 3", 11, "expected 'in' after 'not'"),
    ("and", 0, "expected a value, got 'and'"),
    ("user.x == 1 and", 15, "expected a value after 'and'"),
    ("user.x == 1 or or user.y", 15, "expected a value after 'or', got 'or'"),
    ("not", 3, "expected a value after 'not'"),
    ("()", 1, "expected a value after '(', got ')'"),
    ("user.x == 1)", 11, "unexpected ')'"),
    ("user.x == 1 user.y", 12, "unexpected 'user'"),
    ("user.x == True", 10, "unknown name 'True'"),
    ('user.x == "a\\tb"', 12, "unknown escape '\\t'"),
    ("user.x == 1 # note", 12, "unexpected character '#'"),
    ("user.x == - 1", 10, "unexpected character '-'"),
    ("user.x == .5", 10, "expected a value after '==', got '.'"),
    ("user.x != !", 10, "unexpected character '!'"),
    ("user.x == 1.", 11, "unexpected '.'"),  # no trailing-dot decimals
    ("1", 0, "1 is not a condition"),
    ('"yes"', 0, "is not a condition"),
    ("null or true", 0, "null is not a condition"),
    ("true and [1]", 9, "is not a condition"),
    ("not 0", 4, "0 is not a condition"),
    ("user.x < null", 9, "'<' compares numbers or strings, not null"),
    ("true >= user.x", 0, "'>=' compares numbers or strings, not a boolean"),
    ("user.x < [1]", 9, "not a list"),
    ('user.x in "abc"', 10, "'in' needs a list on the right"),
    ("user.x not in 3", 14, "'not in' needs a list on the right"),
    ("3 contains user.x", 0, "'contains' needs a list or a string on the left"),
    ("user.x == 'a' 'b'", 14, "unexpected"),
]


def _syntax_error(source: str) -> ConditionSyntaxError:
    with pytest.raises(ConditionSyntaxError) as info:
        compile_condition(source)
    return info.value


@pytest.mark.parametrize("source, position, fragment", SYNTAX_ERRORS, ids=[s or "<empty>" for s, _, _ in SYNTAX_ERRORS])
def test_syntax_errors(source, position, fragment):
    err = _syntax_error(source)
    assert err.position == position, str(err)
    assert fragment in err.message
    assert str(err) == f"column {position + 1}: {err.message}"
    assert validate_condition(source) == str(err)
    assert isinstance(err, ConditionError)


def test_the_first_error_in_reading_order_wins():
    # The lexer is ahead of the parser, but a bad character later on must not mask an earlier mistake.
    assert _syntax_error("user.x == == #").position == 10
    assert _syntax_error('== "unterminated').position == 0


def test_syntax_error_pickles():
    err = pickle.loads(pickle.dumps(_syntax_error("user.x ==")))
    assert (err.message, err.position) == ("expected a value after '=='", 9)


# ---- evaluation errors: (source, env, reason fragment)

EVAL_ERRORS = [
    ("user.age < 3", ENV, "user.age is missing (null), cannot compare with <"),
    ("3 >= user.age", ENV, "user.age is missing (null), cannot compare with >="),
    ('user.level < "4"', ENV, "cannot compare user.level (a number) with \"4\" (a string) using <"),
    ("user.active > 0", ENV, "cannot compare user.active (a boolean) with 0 (a number)"),
    ("user.groups <= user.level", ENV, "user.groups (a list)"),
    ("user.name > 1", ENV, "user.name (an object)"),
    ("user.level in user.department", ENV, "user.department is a string, not a list; 'in' needs a list"),
    ("user.level not in user.missing", ENV, "user.missing is missing (null), cannot use 'not in'"),
    ('user.missing contains "a"', ENV, "user.missing is missing (null), cannot use 'contains'"),
    ("user.level contains 1", ENV, "user.level is a number; 'contains' needs a list or a string"),
    ("resource.desc contains 1", ENV, "1 is a number; 'contains' on a string needs a string"),
    ("user.department and true", ENV, "user.department is a string, not true or false"),
    ("true and user.level", ENV, "user.level is a number, not true or false"),
    ("false or user.missing", ENV, "user.missing is missing (null), not true or false"),
    ("not user.groups", ENV, "user.groups is a list, not true or false"),
    ("user.department", ENV, "user.department is a string, not true or false"),
    ("user.one", ENV, "user.one is a number, not true or false"),  # strictly `is True`
    ("user.nothing", ENV, "user.nothing is missing (null)"),
    ("user.active", {"user": {}}, "user.active is missing (null)"),
    (f'user["{ENT}"].costCenter > 1', ENV, f'user["{ENT}"].costCenter (a string)'),
]


@pytest.mark.parametrize("source, env, fragment", EVAL_ERRORS, ids=[s for s, _, _ in EVAL_ERRORS])
def test_eval_errors(source, env, fragment):
    with pytest.raises(ConditionEvalError) as info:
        check(source, env)
    assert fragment in info.value.reason
    assert str(info.value) == info.value.reason
    assert isinstance(info.value, ConditionError)


def test_eval_reasons_do_not_leak_attribute_values():
    with pytest.raises(ConditionEvalError) as info:
        check("user.secret < 3", {"user": {"secret": "hunter2"}})
    assert "hunter2" not in info.value.reason


# ---- limits

def _nest(depth: int, inner: str = "true") -> str:
    return "(" * depth + inner + ")" * depth


def test_nesting_up_to_the_limit_compiles():
    assert check(_nest(MAX_DEPTH)) is True
    assert check("not " * MAX_DEPTH + "true") is (MAX_DEPTH % 2 == 0)
    assert check("not " * (MAX_DEPTH // 2) + _nest(MAX_DEPTH // 2)) is True


@pytest.mark.parametrize("source", [
    _nest(MAX_DEPTH + 1), "not " * (MAX_DEPTH + 1) + "true", "not (" * 17 + "true" + ")" * 17,
    _nest(1000), "(" * 2000, "not " * 1000 + "true",
])
def test_deep_nesting_is_a_syntax_error_not_a_recursion_error(source):
    assert "nested deeper than 32" in _syntax_error(source).message


def test_long_chains_are_flat_not_deep():
    # As many operands as fit: nested binary closures would be 455 frames deep at evaluation.
    source = " and ".join(["true"] * 455)
    assert len(source) <= MAX_SOURCE
    assert check(source) is True
    assert check(" or ".join(["false"] * 455)) is False


def test_source_length_limit():
    at_limit = "true" + " " * (MAX_SOURCE - 4)
    assert check(at_limit) is True
    err = _syntax_error(at_limit + " ")
    assert err.position == MAX_SOURCE and "at most 4096 characters" in err.message


def test_list_length_limit():
    items = ", ".join(["1"] * MAX_LIST)
    assert check(f"user.level in [{items}]") is False
    err = _syntax_error(f"user.level in [{items}, 3]")
    assert "at most 1000 items" in err.message
    assert err.position == len(f"user.level in [{items}, ")


# ---- safety: nothing but mapping lookups is reachable

@pytest.mark.parametrize("source", [
    "__import__('os')",
    "__import__('os').system('true') == 0",
    "user.__class__",
    "user.__class__ == null",
    "user.name.__dict__ == null",
    'user["__class__"] == null',
    "().__class__",
    "[].__class__ == null",
    "open('/etc/passwd')",
    "eval('1') == 1",
    "lambda: 1",
    "user.x == 1; import os",
    "user.x.__getattribute__('y') == 1",
    "user.get('x') == 1",
    "user.x == 1 if true else false",
])
def test_python_is_not_reachable(source):
    _syntax_error(source)


def test_paths_only_index_mappings():
    class Sneaky:
        department = "engineering"

        def __getitem__(self, key):
            raise AssertionError("indexed a non-mapping")

    assert check('user.department == "engineering"', {"user": Sneaky()}) is False
    assert check("user.keys == null", ENV) is True  # dict methods are not attributes


# ---- the Condition object

def test_attributes_lists_normalised_paths():
    cond = compile_condition(
        f'resource.owner == user.id or user["title"] in ["CTO"] and user["{ENT}"].manager.value != null'
        ' and user.id != context.ip')
    assert cond.attributes() == frozenset({
        "resource.owner", "user.id", "user.title", f'user["{ENT}"].manager.value', "context.ip"})
    assert compile_condition("true").attributes() == frozenset()


def test_conditions_compare_and_hash_by_source():
    a, b = Condition("user.active"), compile_condition("user.active")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != compile_condition("user.active == true")
    assert compile_condition("user.active") is b  # compiled once per source
    with pytest.raises(FrozenInstanceError):
        a.source = "true"


def test_condition_pickles_by_source():
    cond = pickle.loads(pickle.dumps(compile_condition("user.level > 2")))
    assert cond.source == "user.level > 2" and cond.evaluate(ENV) is True


def test_evaluate_returns_real_booleans_and_does_not_touch_env():
    env = {"user": {"level": 3}, "resource": {}, "context": {}}
    snapshot = repr(env)
    for source in ("user.level == 3", "user.level in [3]", "not (user.level > 3)", "user.missing == null"):
        assert type(check(source, env)) is bool
    assert repr(env) == snapshot


def test_validate_condition():
    assert validate_condition('user.department == "engineering"') is None
    assert validate_condition("user.x ==") == "column 10: expected a value after '=='"


def test_non_string_source_is_a_type_error():
    with pytest.raises(TypeError):
        Condition(42)
