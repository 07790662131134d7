"""Every body-taking endpoint, and every path with an id in it, sent the classic hostile inputs as raw
bytes: invalid UTF-8, NUL bytes, \\ud800 escapes, 1,000-deep nesting, 20-digit integers, NaN and
Infinity literals, 5,000-character strings, non-JSON content types, bodies over the size limit
(declared and chunked). Each is answered in the protocol's error shape, never a 5xx, and a refused
request writes nothing. Each test sends all its cases and lists every failure at once."""
from __future__ import annotations

import math

from tests.fuzz._mutate import TWENTY_DIGITS, Deep, Number, Raw, encode, nodes
from tests.fuzz._seeds import FORM, JSON, SCIM_JSON, api_seeds, console_form_seeds, scim_seeds
from tests.fuzz._world import Req, World, fail_on, query_string


def _leaves(value, change, want):
    """`value` with `change(leaf)` for every leaf for which `want(leaf)`."""
    if isinstance(value, dict):
        return {k: _leaves(v, change, want) for k, v in value.items()}
    if isinstance(value, list):
        return [_leaves(v, change, want) for v in value]
    return change(value) if want(value) else value


def _strings(value, change, key=None):
    """`value` with `change(s)` for every string s, but the URNs of a "schemas" list (which, refused
    first, would hide what the rest of the body does)."""
    if key == "schemas":
        return value
    if isinstance(value, dict):
        return {k: _strings(v, change, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(v, change, key) for v in value]
    return change(value) if isinstance(value, str) else value


def _at(value, path):
    for p in path:
        value = value[p]
    return value


def _replace(value, path, new):
    """A copy of `value` with `new` at `path`."""
    if not path:
        return new
    copy = _leaves(value, lambda v: v, lambda v: False)
    _at(copy, path[:-1])[path[-1]] = new
    return copy


def _first_string(value, new):
    """`value` with its first string (depth first) replaced by `new`."""
    path = next((p for p in nodes(value) if isinstance(_at(value, p), str)), ())
    return _replace(value, path, new)


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_leaf(v):
    return not isinstance(v, (dict, list))


MULTIPART = (b"--xyz\r\nContent-Disposition: form-data; name=\"userName\"\r\n\r\nann\r\n--xyz--\r\n",
             "multipart/form-data; boundary=xyz")


def json_cases(doc, right_type: str) -> list[tuple[str, bytes, str | None]]:
    """(name, body, Content-Type) for a JSON document `doc`."""
    valid = encode(doc)
    top = list(doc) if isinstance(doc, dict) else []
    bodies = [
        ("invalid UTF-8 in a string", encode(_first_string(doc, Raw(b"\xff\xfe")))),
        ("invalid UTF-8 before the body", b"\xff" + valid),
        ("UTF-8 of a surrogate in a string", encode(_first_string(doc, Raw(b"\xed\xa0\x80")))),
        ("overlong UTF-8 in a string", encode(_first_string(doc, Raw(b"\xc0\xaf")))),
        ("a raw NUL byte in a string", encode(_first_string(doc, Raw(b"a\x00b")))),
        ("a NUL byte after the body", valid + b"\x00"),
        ("\\u0000 in every string", encode(_strings(doc, lambda v: v + "\x00"))),
        ("\\ud800 in every string", encode(_strings(doc, lambda v: v + "\ud800"))),
        ("\\udfff for every string", encode(_strings(doc, lambda v: "\udfff"))),
        ("UTF-8 of a surrogate in every string", encode(_strings(doc, lambda v: Raw(v.encode() + b"\xed\xa0\x80")))),
        ("invalid UTF-8 in every string", encode(_strings(doc, lambda v: Raw(v.encode() + b"\xff")))),
        ("1,000-deep arrays", encode(Deep(1000))),
        ("100,000-deep arrays", encode(Deep(100_000))),
        ("1,000-deep objects in every field", encode({k: Deep(1000, "dict") for k in top})),
        ("20-digit integers for every number", encode(_leaves(doc, lambda v: TWENTY_DIGITS, is_number))),
        ("20-digit integers for every value", encode(_leaves(doc, lambda v: TWENTY_DIGITS, is_leaf))),
        ("negative 20-digit integers for every value", encode(_leaves(doc, lambda v: -TWENTY_DIGITS, is_leaf))),
        ("a 4,301-digit integer for every value", encode(_leaves(doc, lambda v: Number("1" + "0" * 4300), is_leaf))),
        ("NaN for every value", encode(_leaves(doc, lambda v: math.nan, is_leaf))),
        ("Infinity for every number", encode(_leaves(doc, lambda v: math.inf, is_number))),
        ("-Infinity for every value", encode(_leaves(doc, lambda v: -math.inf, is_leaf))),
        ("5,000-character strings", encode(_strings(doc, lambda v: "x" * 5000))),
        ("5,000 characters after every string", encode(_strings(doc, lambda v: v + "é" * 5000))),
        ("an empty object", b"{}"),
        ("JSON null", b"null"),
        ("the document in an array", b"[" + valid + b"]"),
        ("a JSON string", b'"x"'),
        ("an empty body", b""),
        ("the first half", valid[: len(valid) // 2]),
        ("a byte-order mark first", b"\xef\xbb\xbf" + valid),
        ("two documents", valid + valid),
    ]
    # one string at a time, so a field checked before the others hides nothing
    strings = [path for path in nodes(doc) if "schemas" not in path and isinstance(_at(doc, path), str)]
    bodies += [(f"UTF-8 of a surrogate at {'/'.join(map(str, path))}", encode(_replace(doc, path, Raw(
        _at(doc, path).encode() + b"\xed\xa0\x80")))) for path in strings]
    cases = [(name, body, right_type) for name, body in bodies]
    cases += [
        ("as text/plain", valid, "text/plain"),
        ("a form body", b"userName=ann&key=x", "application/x-www-form-urlencoded"),
        ("a multipart body", *MULTIPART),
        ("an XML body", b"<?xml version=\"1.0\"?><User><userName>ann</userName></User>", "application/xml"),
        ("no Content-Type", valid, None),
        ("UTF-16 labelled UTF-16", valid.decode().encode("utf-16"), right_type + "; charset=utf-16"),
    ]
    return cases


def over_limit(path: str, limit: int, content_type: str, *, chunked: bool, method: str = "POST") -> Req:
    body = b'{"userName": "' + b"x" * (limit + 1) + b'"}'
    return Req(method, path, body, content_type, chunked=chunked)


def _run(world: World, client, cases: list[tuple[Req, str | None]], expect: dict | None = None):
    """Send every case; every failure, with its reproducer. `expect` maps a case's index to the status it must get."""
    failures = []
    for n, (req, auth) in enumerate(cases):
        resp, problems = world.probe(client, req, auth)
        if expect and n in expect and resp.status_code != expect[n]:
            problems.append(f"{resp.status_code}, not {expect[n]} {resp.get_data(as_text=True)[:200]!r}")
        if problems:
            failures.append((req, problems))
    return failures


def _json_requests(seeds, auth) -> list[tuple[Req, str]]:
    out = []
    for seed in seeds:
        for _name, body, ct in json_cases(seed.json, seed.content_type):
            out.append((Req(seed.method, seed.path, body, ct, query_string(seed.query)), auth))
    return out


# ---- SCIM ------------------------------------------------------------------------------------

def test_raw_scim_bodies_and_paths(world):
    ids, tok = world.ids, world.scim_token
    cases = _json_requests(scim_seeds(world), tok)
    for rtype in ("Users", "Groups"):
        for segment in ("%00", "a%00b", "%ED%A0%80", "%FF%FE", "x" * 5000, "%2e%2e", "' OR 1=1 --",
                        str(TWENTY_DIGITS)):
            cases.append((Req("GET", f"/scim/v2/{rtype}/{segment}"), tok))
            cases.append((Req("DELETE", f"/scim/v2/{rtype}/{segment}"), tok))
            cases.append((Req("PATCH", f"/scim/v2/{rtype}/{segment}", encode(
                {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                 "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}), SCIM_JSON), tok))
    for header in ("W/\"\x00\"", "W/\"" + "9" * 20 + "\"", "*" * 5000):
        cases.append((Req("PUT", f"/scim/v2/Users/{ids['bob']}", encode(
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x@acme.test"}), SCIM_JSON,
            headers={"If-Match": header.encode("utf-8").decode("latin-1")}), tok))
    expect = {}
    limit = world.app.config["SCIM_MAX_REQUEST_BYTES"]
    bulk_limit = world.app.config["SCIM_BULK_MAX_PAYLOAD"]
    for chunked in (False, True):
        expect[len(cases)] = 413
        cases.append((over_limit("/scim/v2/Users", limit, SCIM_JSON, chunked=chunked), tok))
        expect[len(cases)] = 413
        cases.append((over_limit("/scim/v2/Bulk", bulk_limit, SCIM_JSON, chunked=chunked), tok))
    failures = _run(world, world.client, cases, expect)
    fail_on(failures)


# ---- /v1 -------------------------------------------------------------------------------------

def test_raw_api_bodies_and_paths(world):
    ids, key = world.ids, world.api_key
    cases = _json_requests(api_seeds(world), key)
    role_body = encode({"description": "x"})
    for segment in ("%00", "a%00b", "%ED%A0%80", "%FF%FE", "x" * 5000, "%2e%2e%2f", str(TWENTY_DIGITS)):
        cases.append((Req("GET", f"/v1/users/{segment}"), key))
        cases.append((Req("GET", f"/v1/users/{segment}/permissions"), key))
        cases.append((Req("PUT", f"/v1/users/{segment}", encode({"displayName": "x"}), JSON), key))
        cases.append((Req("GET", f"/v1/roles/{segment}"), key))
        cases.append((Req("PATCH", f"/v1/roles/{segment}", role_body, JSON), key))
        cases.append((Req("DELETE", f"/v1/roles/{segment}"), key))
    for number in (str(TWENTY_DIGITS), "9223372036854775808", "1" + "0" * 5000):
        cases.append((Req("DELETE", f"/v1/role-assignments/{number}"), key))
        cases.append((Req("DELETE", f"/v1/group-mappings/{number}"), key))
    expect = {}
    limit = world.app.config.get("API_MAX_REQUEST_BYTES", 8 * 1_048_576)
    for chunked in (False, True):
        expect[len(cases)] = 413
        cases.append((over_limit(f"/v1/users/{ids['ann']}", limit, JSON, chunked=chunked, method="PUT"), key))
    failures = _run(world, world.client, cases, expect)
    fail_on(failures)


# ---- the console -----------------------------------------------------------------------------

FORM_VALUES = [
    ("%00 in every field", b"%00"),
    ("a NUL byte inside every field", b"a%00b"),
    ("invalid UTF-8 in every field", b"%FF%FE"),
    ("UTF-8 of a surrogate in every field", b"%ED%A0%80"),
    ("5,000 characters in every field", b"x" * 5000),
    ("a 20-digit integer in every field", str(TWENTY_DIGITS).encode()),
    ("NaN in every field", b"NaN"),
    ("1,000-deep JSON in every field", b"%5B" * 1000 + b"%5D" * 1000),
]


def test_raw_console_forms_and_paths(world):
    csrf = world.csrf()
    token = ("csrf_token=" + csrf).encode()
    cases = []
    for seed in console_form_seeds(world):
        names = [k for k, _ in seed.form if k != "csrf_token"]
        for _name, value in FORM_VALUES:
            body = b"&".join([f"{k}=".encode() + value for k in names] + [token])
            cases.append((Req(seed.method, seed.path, body, FORM), None))
        valid = seed.request().body
        for ct, body in (("application/json", encode(dict(seed.form))), ("text/plain", valid),
                         (MULTIPART[1], MULTIPART[0]), (None, valid), (FORM, valid + b"&" + valid),
                         (FORM, b""), (FORM, b"%%%&&&==")):
            cases.append((Req(seed.method, seed.path, body, ct), None))
    for segment in ("%00", "a%00b", "%ED%A0%80", "%FF%FE", "x" * 5000):
        for path in (f"/admin/users/{segment}", f"/admin/groups/{segment}", f"/admin/roles/{segment}/edit",
                     f"/admin/roles/{segment}/delete"):
            cases.append((Req("GET", path), None))
        cases.append((Req("POST", f"/admin/roles/{segment}", b"permissions=document:view&" + token, FORM), None))
    for number in (str(TWENTY_DIGITS), "9223372036854775808", "1" + "0" * 5000):
        for path in (f"/admin/mappings/{number}/edit", f"/admin/mappings/{number}/delete",
                     f"/admin/connect/tokens/{number}/revoke"):
            cases.append((Req("GET", path), None))
            cases.append((Req("POST", path, token, FORM), None))
        cases.append((Req("POST", f"/admin/schema/versions/{number}/activate", token, FORM), None))
    expect = {}
    limit = world.app.config.get("CONSOLE_MAX_REQUEST_BYTES", 1_048_576)
    for chunked in (False, True):
        expect[len(cases)] = 413
        cases.append((Req("POST", "/admin/schema/validate", token + b"&source=" + b"x" * (limit + 1), FORM,
                          chunked=chunked), None))
    failures = _run(world, world.console.client, cases, expect)
    fail_on(failures)
