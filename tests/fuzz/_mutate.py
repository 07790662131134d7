"""Mutations of valid requests: types swapped, keys dropped, NaN and Infinity, huge numbers, NUL, lone
surrogates, deep nesting, long strings, invalid UTF-8, unknown keys, wrong content types.

A JSON body is a Python value that may hold `Raw` (bytes written inside a string as they are, e.g.
invalid UTF-8) and `Deep` (nesting written out as text, deeper than json.dumps would go); `encode`
writes it as the bytes a hostile client would send (NaN and Infinity as their non-standard literals)."""
from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass

from hypothesis import strategies as st


@dataclass(frozen=True)
class Raw:
    """Bytes written inside a JSON string as they are."""

    data: bytes


@dataclass(frozen=True)
class Number:
    """A number written as this literal text (e.g. more digits than Python turns into text)."""

    text: str


@dataclass(frozen=True)
class Deep:
    """`depth` nested arrays or objects."""

    depth: int
    kind: str = "list"


def encode(value) -> bytes:
    """`value` as JSON bytes; lone surrogates as \\ud800 escapes, NaN and ±Infinity as literals."""
    if isinstance(value, Deep):
        if value.kind == "list":
            return b"[" * value.depth + b"]" * value.depth
        return b'{"a":' * value.depth + b"null" + b"}" * value.depth
    if isinstance(value, Raw):
        return b'"' + value.data + b'"'
    if isinstance(value, Number):
        return value.text.encode()
    if value is None:
        return b"null"
    if value is True:
        return b"true"
    if value is False:
        return b"false"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        if math.isnan(value):
            return b"NaN"
        if math.isinf(value):
            return b"Infinity" if value > 0 else b"-Infinity"
        return json.dumps(value).encode()
    if isinstance(value, str):
        return json.dumps(value).encode()
    if isinstance(value, list):
        return b"[" + b",".join(encode(v) for v in value) + b"]"
    if isinstance(value, dict):
        return b"{" + b",".join(encode(k) + b":" + encode(v) for k, v in value.items()) + b"}"
    raise TypeError(type(value))


# ---- the values a mutation puts in --------------------------------------------------------------

TWENTY_DIGITS = 99999999999999999999
OTHER_TYPES = [0, 1, -1, True, False, None, "", "x", [], {}, [None], {"a": None}, 0.5, [1, 2], {"": ""}]
NON_FINITE = [math.nan, math.inf, -math.inf]
HUGE = [TWENTY_DIGITS, -TWENTY_DIGITS, 2**63, 2**64, -(2**63) - 1, 10**400, Number("1" + "0" * 4300), Number("1e999"),
        Number("-0"), 1e308, -1e308, 5e-324, -0.0]
LONG = ["x" * 5000, "é" * 5000, "a" * 100_000, "𝄞" * 3000]
INVALID_UTF8 = [b"\xff\xfe", b"\xc3", b"abc\x80def", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"]
DEEP = [Deep(1000), Deep(1000, "dict"), Deep(100_000), Deep(200, "dict")]
NUL = ["\x00", "a\x00b"]
SURROGATES = ["\ud800", "\udfff", "a\udc00b", "\udbff\udbff"]
BLANK = ["", " ", "\t\n", "\u200b", "\ufeff"]

OPS = ("type", "drop", "nan", "huge", "nul", "surrogate", "deep", "long", "utf8", "blank", "unknown", "key", "dup")


def nodes(value, path=()):
    """Every position in a JSON value, the root included, as paths of keys and indexes."""
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from nodes(v, (*path, i))


def _get(value, path):
    for p in path:
        value = value[p]
    return value


def _set(value, path, new):
    if not path:
        return new
    parent = _get(value, path[:-1])
    parent[path[-1]] = new
    return value


def _splice(draw, old, inserted: str) -> str:
    """`inserted` in place of, before, inside or after a string."""
    if not isinstance(old, str) or not old:
        return inserted
    where = draw(st.sampled_from(["replace", "append", "prefix", "middle"]))
    return {"replace": inserted, "append": old + inserted, "prefix": inserted + old,
            "middle": old[: len(old) // 2] + inserted + old[len(old) // 2:]}[where]


def _prefix(old) -> bytes:
    """The first bytes of a string, to keep before invalid UTF-8 (nothing for another value)."""
    return old.encode("utf-8", "surrogatepass")[:8] if isinstance(old, str) else b""


def _apply(draw, value, path, op):
    old = _get(value, path)
    if op == "drop":
        if not path:
            return draw(st.sampled_from([{}, [], None]))
        parent = _get(value, path[:-1])
        del parent[path[-1]]
        return value
    if op == "unknown":
        if isinstance(old, dict):
            old[draw(st.sampled_from(["zz_unknown", "", "\x00", "\ud800", "schemas", "id", "__proto__"]))] = \
                draw(st.sampled_from([1, "x", None, {"a": 1}]))
            return value
        op = "type"
    if op == "key":
        if isinstance(old, dict) and old:
            k = draw(st.sampled_from(sorted(old)))
            weird = draw(st.sampled_from([k + "\x00", k + "\ud800", k.upper(), k * 300, " " + k, ""]))
            old[weird] = old.pop(k)
            return value
        op = "type"
    if op == "dup":
        if isinstance(old, list) and old:
            old.extend(copy.deepcopy(old) * draw(st.sampled_from([1, 50])))
            return value
        op = "type"
    new = {
        "type": lambda: draw(st.sampled_from([v for v in OTHER_TYPES if type(v) is not type(old)])),
        "nan": lambda: draw(st.sampled_from(NON_FINITE)),
        "huge": lambda: draw(st.sampled_from(HUGE)),
        "nul": lambda: _splice(draw, old, draw(st.sampled_from(NUL))),
        "surrogate": lambda: _splice(draw, old, draw(st.sampled_from(SURROGATES))),
        "deep": lambda: draw(st.sampled_from(DEEP)),
        "long": lambda: _splice(draw, old, draw(st.sampled_from(LONG))),
        "utf8": lambda: Raw(_prefix(old) + draw(st.sampled_from(INVALID_UTF8))),
        "blank": lambda: draw(st.sampled_from(BLANK)),
    }[op]()
    return _set(value, path, copy.deepcopy(new) if isinstance(new, (list, dict)) else new)


@st.composite
def mutated_json(draw, seed):
    """`seed` with one to three mutations, each at a drawn position."""
    value = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in nodes(value)
                 if not any(isinstance(_get(value, p[:i]), (Raw, Deep, Number)) for i in range(len(p)))]
        path = draw(st.sampled_from(paths))
        value = _apply(draw, value, path, draw(st.sampled_from(OPS)))
    return value


# ---- query strings and forms: (name, value) pairs, values text or bytes ------------------------

PAIR_VALUES = {
    "huge": [str(TWENTY_DIGITS), str(-TWENTY_DIGITS), "9223372036854775808", "-9223372036854775809",
             "1" + "0" * 5000, "1e400"],
    "number": ["-1", "0", "1.5", "NaN", "Infinity", "-Infinity", " 1", "1_000", "0x10", "１", "+1", "1e3"],
    "nul": ["\x00", "a\x00b"],
    "surrogate": ["\ud800", "a\udfffb"],
    "utf8": [b"\xff\xfe", b"a\xc3", b"\xed\xa0\x80", b"\xc0\xaf"],
    "long": ["x" * 5000, "é" * 5000],
    "blank": ["", " ", "\t", "\r\n"],
    "deep": ["(" * 1000 + 'userName eq "x"' + ")" * 1000, "not(" * 500 + 'userName pr' + ")" * 500,
             '[' * 1000, "{" * 1000],
    "date": ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0000-00-00", "2024-02-30",
             "2024-01-01T25:00:00", "2024-01-01T00:00:00+99:00", "1970-01-01", "-1", "now"],
    "markup": ["<script>alert(1)</script>", "' OR 1=1 --", "%s%s%n", "../../etc/passwd", "{{7*7}}", "${jndi:x}"],
}
PAIR_OPS = ("drop", "repeat", "unknown", *PAIR_VALUES)


@st.composite
def mutated_pairs(draw, seed: list[tuple[str, object]], keep=("csrf_token",)):
    """Query or form pairs with one to three mutations; the names in `keep` are left alone."""
    pairs = list(seed)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(PAIR_OPS))
        free = [i for i, (k, _) in enumerate(pairs) if k not in keep]
        if op == "unknown" or not free:
            pairs.append((draw(st.sampled_from(["zz", "\x00", "a" * 3000, "filter[]"])), "1"))
            continue
        i = draw(st.sampled_from(free))
        k, v = pairs[i]
        if op == "drop":
            del pairs[i]
        elif op == "repeat":
            pairs.insert(i, (k, draw(st.sampled_from(["", "1", "x"]))))
        else:
            new = draw(st.sampled_from(PAIR_VALUES[op]))
            if isinstance(new, str) and isinstance(v, str) and op in ("nul", "surrogate", "long") and \
                    draw(st.booleans()):
                new = v + new
            pairs[i] = (k, new)
    return pairs


def form_body(pairs) -> bytes:
    """pairs as an application/x-www-form-urlencoded body."""
    from tests.fuzz._world import query_string
    return query_string(pairs).encode()


# ---- content types --------------------------------------------------------------------------

WRONG_JSON_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz",
                    "application/xml", "application/octet-stream", None, "application/json; charset=utf-16",
                    "application/scim+json; charset=latin-1", "*/*", "application/json; boundary=\x7f"]


def content_type(data, right: str | None) -> str | None:
    """Mostly the right media type; one time in six, a wrong one (drawn from `data`, a st.data())."""
    if data.draw(st.integers(0, 5), label="wrong content type?") == 0:
        return data.draw(st.sampled_from(WRONG_JSON_TYPES), label="content type")
    return right
