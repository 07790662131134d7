"""CSV columns to SCIM attributes: which column fills which attribute, and a row as the body a
client would POST to /Users (plus the displayNames of the groups it names).

A column maps to a SCIM attribute path as PATCH writes them (RFC 7644 §3.5.2): `title`,
`name.givenName`, `urn:…:enterprise:2.0:User:department`, or an element of a multi-valued
attribute picked by an `eq` filter, `emails[type eq "work"].value`, which is created when the row
fills it. Headers named like the usual attributes map by themselves (DEFAULTS, matched ignoring
case, spaces, `_` and `-`); any header that is itself a path maps to it; `--map COLUMN=PATH` maps
the rest (PATH may also be one of the DEFAULTS' short names, `groups`, or empty to ignore COLUMN).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from scim_authz.scim.bulk_import.errors import UnusableInput
from scim_authz.scim.errors import SCIMError
from scim_authz.scim.paths import equalities, parse_path
from scim_authz.scim.schema_defs import ENTERPRISE_USER, USER_SCHEMA

GROUPS = "groups"  # the column of `;`-separated group displayNames the user is a member of
GROUP_SEPARATOR = ";"

_EXT = ENTERPRISE_USER + ":"
# Short names (lowercase, letters and digits only) -> the attribute path they fill.
DEFAULTS = {
    "username": "userName", "externalid": "externalId",
    "givenname": "name.givenName", "firstname": "name.givenName",
    "familyname": "name.familyName", "lastname": "name.familyName", "surname": "name.familyName",
    "middlename": "name.middleName", "displayname": "displayName", "nickname": "nickName",
    "email": 'emails[type eq "work"].value', "mail": 'emails[type eq "work"].value',
    "phone": 'phoneNumbers[type eq "work"].value', "mobile": 'phoneNumbers[type eq "mobile"].value',
    "active": "active", "title": "title", "usertype": "userType", "locale": "locale", "timezone": "timezone",
    "preferredlanguage": "preferredLanguage",
    "department": _EXT + "department", "employeenumber": _EXT + "employeeNumber",
    "employeeid": _EXT + "employeeNumber", "costcenter": _EXT + "costCenter",
    "organization": _EXT + "organization", "division": _EXT + "division", "manager": _EXT + "manager.value",
    "groups": GROUPS,
}
# A CSV cell for a boolean attribute: what spreadsheets write, as the JSON the schema checks.
_BOOLEAN_CELLS = {"true": True, "yes": True, "y": True, "1": True, "false": False, "no": False, "n": False, "0": False}


def short_name(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


@dataclass(frozen=True)
class Target:
    """Where one column's value goes in the body."""

    path: str  # as written, for messages
    urn: str | None  # an extension's URN; None for the core schema
    attr: str
    sub: str | None
    multi: bool
    match: tuple[tuple[str, object], ...]  # the element of a multi-valued attribute: its `eq` values
    boolean: bool

    def put(self, body: dict, value) -> None:
        holder = body if self.urn is None else body.setdefault(self.urn, {})
        if self.multi:
            items = holder.setdefault(self.attr, [])
            element = next((e for e in items if all(e.get(k) == v for k, v in self.match)), None)
            if element is None:
                element = dict(self.match)
                items.append(element)
            element[self.sub or "value"] = value
        elif self.sub:
            holder.setdefault(self.attr, {})[self.sub] = value
        else:
            holder[self.attr] = value


def target(path: str) -> Target | None:
    """The target of a path or short name; None for `groups`. UnusableInput when it names no
    writable attribute of a User."""
    text = DEFAULTS.get(short_name(path), path) if ("." not in path and ":" not in path and "[" not in path) else path
    if text == GROUPS:
        return None
    try:
        p = parse_path(USER_SCHEMA, text)
    except SCIMError as e:
        raise UnusableInput(f"{path!r} is not a User attribute: {e.detail}") from e
    if p.attr is None:
        raise UnusableInput(f"{path!r} names the whole extension, not one of its attributes")
    if p.attr_def["mutability"] == "readOnly" or (p.sub_def and p.sub_def["mutability"] == "readOnly"):
        raise UnusableInput(f"{path!r} is read-only: the server sets it")
    multi = p.attr_def["multiValued"]
    if p.attr_def["type"] == "complex" and not multi and p.sub is None and p.attr != "manager":
        raise UnusableInput(f"{path!r} is an object: map the column to one of its sub-attributes, "
                            f"such as {p.attr}.{p.attr_def['subAttributes'][0]['name']}")
    match: dict = {}
    if p.value_filter is not None:
        match = equalities(p.value_filter, p.attr_def)
        if match is None:
            raise UnusableInput(f"{path!r}: a column fills one element, named by `eq` comparisons joined "
                                f'by `and`, such as emails[type eq "work"].value')
    leaf = p.sub_def or (_sub(p.attr_def, "value") if multi else p.attr_def)
    return Target(text, p.urn, p.attr, p.sub, multi, tuple(sorted(match.items())), leaf["type"] == "boolean")


def _sub(attr_def: dict, name: str) -> dict:
    return next((s for s in attr_def.get("subAttributes", ()) if s["name"] == name), {"type": "string"})


@dataclass(frozen=True)
class ColumnMap:
    """Which column (by position) fills which target; the column holding group names, if any."""

    targets: tuple[tuple[int, Target], ...]
    groups_column: int | None

    def body(self, cells: list[str]) -> tuple[dict, list[str]]:
        """The User body of a row and the group displayNames it names (each once, first spelling
        kept). Empty cells are left out; cells are stripped of surrounding spaces."""
        body: dict = {}
        for i, t in self.targets:
            cell = cells[i].strip() if i < len(cells) else ""
            if cell:
                t.put(body, _BOOLEAN_CELLS.get(cell.lower(), cell) if t.boolean else cell)
        groups: dict[str, str] = {}
        if self.groups_column is not None and self.groups_column < len(cells):
            for name in cells[self.groups_column].split(GROUP_SEPARATOR):
                name = name.strip()
                if name:
                    groups.setdefault(name.lower(), name)
        return body, list(groups.values())


def parse_maps(specs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`--map COLUMN=PATH` options as {column: path} (an empty PATH ignores the column)."""
    out = {}
    for spec in specs:
        column, sep, path = spec.partition("=")
        if not sep or not column.strip():
            raise UnusableInput(f"--map {spec!r}: write it as COLUMN=PATH, e.g. mail=emails[type eq \"work\"].value")
        out[column.strip()] = path.strip()
    return out


def column_map(header: list[str], maps: dict[str, str]) -> ColumnMap:
    """Each column's target: its --map, else its header as a short name or a path. UnusableInput
    for a header no rule maps, a --map naming no column, or two columns filling one attribute."""
    by_header = {h.strip().lower(): i for i, h in reversed(list(enumerate(header)))}
    explicit: dict[int, str] = {}
    for column, path in maps.items():
        if column.lower() not in by_header:
            raise UnusableInput(f"--map {column}=…: the header has no column {column!r}")
        explicit[by_header[column.lower()]] = path
    targets, groups_column, unknown, used = [], None, [], {}
    for i, h in enumerate(header):
        path = explicit.get(i, h.strip())
        if not path:
            continue  # `--map COLUMN=` ignores it (and a column with an empty header is ignored)
        try:
            t = target(path)
        except UnusableInput:
            if i in explicit:
                raise
            unknown.append(h)
            continue
        if t is None:
            groups_column = i
            continue
        key = (t.urn, t.attr, t.sub, t.match)
        if key in used:
            raise UnusableInput(f"columns {header[used[key]]!r} and {h!r} both fill {t.path}")
        used[key] = i
        targets.append((i, t))
    if unknown:
        raise UnusableInput(
            f"no User attribute for column(s) {', '.join(repr(u) for u in unknown)}: map each with "
            f"--map COLUMN=PATH (e.g. --map {unknown[0]}=title), or ignore it with --map {unknown[0]}=")
    if not any(t.urn is None and t.attr == "userName" for _, t in targets):
        raise UnusableInput("no column fills userName: name one userName, or --map COLUMN=userName")
    return ColumnMap(tuple(targets), groups_column)
