"""SCIM PATCH (RFC 7644 §3.5.2) as a pure function: a document and operations in, a new document out.

The document is the resource's client-writable attributes with canonical names (no id, meta,
groups, schemas, password; extension attributes nested under their URN). Group members are
never in it: a group may have 100,000 of them, so member operations come out as MembersChange
records for the caller to apply as row inserts and deletes.

Beyond the RFC, this accepts what Okta and Microsoft Entra ID send: capitalised op names, `add`
on single-valued attributes, pathless values keyed by attribute paths, filtered paths that create
the element they describe, `remove` with a value list, and a group rename carrying its own `id`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from scim2_filter_parser import ast

from .errors import InvalidFilter, InvalidPath, InvalidSyntax, InvalidValue, Mutability, NoTarget, SCIMError
from .paths import Path, equalities, get_ci, literal, matches, operands, parse_path
from .schema_defs import ResourceSchema

_OPS = ("add", "replace", "remove")
# Keys of a pathless value that describe the resource rather than set an attribute; a client
# that PATCHes back what it read sends them, and they change nothing (meta is server-managed).
_IGNORED_KEYS = {"schemas", "meta"}


@dataclass
class MembersChange:
    """One change to a group's members, applied by the caller as row inserts/deletes."""

    kind: str  # "add" | "remove" | "remove_all" | "replace" | "remove_where"
    members: list[dict] = field(default_factory=list)
    filter: object = None  # remove_where: the members[...] filter AST


@dataclass
class PatchResult:
    doc: dict
    members: list[MembersChange]
    changed: bool


def apply_patch(schema: ResourceSchema, doc: dict, operations: list[dict],
                resource_id: str | None = None) -> PatchResult:
    """"Each PATCH operation object MUST have exactly one "op" member" and "the operations are applied
    sequentially"; "if ... any operation fails, the original resource is unchanged" (RFC 7644 §3.5.2)."""
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax('"Operations" must be an array of one or more PATCH operations.')
    patcher = _Patcher(schema, copy.deepcopy(doc), resource_id)  # atomicity: only the copy changes
    for index, operation in enumerate(operations):
        try:
            patcher.apply(operation)
        except SCIMError as exc:
            exc.detail = f"Operations[{index}]: {exc.detail}"
            exc.args = (exc.detail,)
            raise
    return PatchResult(patcher.doc, patcher.members, patcher.doc != doc or bool(patcher.members))


def _listify(value) -> list:
    """"a single value not in a list": clients send both forms for multi-valued attributes."""
    return value if isinstance(value, list) else [value]


def _is_true(v) -> bool:
    return v is True or (isinstance(v, str) and v.lower() == "true")


class _Patcher:
    """Applies operations one at a time to a private copy of the document."""

    def __init__(self, schema: ResourceSchema, doc: dict, resource_id: str | None):
        self.schema, self.doc, self.resource_id = schema, doc, resource_id
        self.members: list[MembersChange] = []

    def apply(self, operation) -> None:
        if not isinstance(operation, dict):
            raise InvalidSyntax("Each PATCH operation must be a JSON object.")
        op = {str(k).lower(): v for k, v in operation.items()}  # member names are case-insensitive
        name = op.get("op")
        if not isinstance(name, str) or name.lower() not in _OPS:
            raise InvalidSyntax(f'Unknown "op" {name!r}: expected "add", "replace" or "remove".')
        name = name.lower()
        raw = op.get("path")
        if raw is not None and not isinstance(raw, str):
            raise InvalidPath('"path" must be a string.')
        path = parse_path(self.schema, raw) if raw and raw.strip() else None

        before = self._primaries()
        if name == "remove":
            if path is None:
                raise NoTarget('"remove" needs a "path" (RFC 7644 §3.5.2.2).')
            self.remove(path, op.get("value"))
        elif "value" not in op:
            raise InvalidValue(f'"{name}" needs a "value".')
        elif path is None:
            self.write_pathless(name, op["value"])
        else:
            self.write(name, path, op["value"])
        self._settle_primary(before)

    # -- add / replace -------------------------------------------------------------------------

    def write_pathless(self, op: str, value) -> None:
        """"If omitted, the target location is assumed to be the resource itself. The "value" parameter
        contains a set of attributes to be added [or replaced]" (RFC 7644 §3.5.2.1, §3.5.2.3)."""
        if not isinstance(value, dict):
            raise InvalidValue(f'An "{op}" without "path" needs an object "value".')
        for key, item in value.items():
            if key.lower() in _IGNORED_KEYS:
                continue
            if key.lower() == "id":
                # Okta renames a group with {"id": <its id>, "displayName": ...}: a no-op for id.
                if self.resource_id is not None and item == self.resource_id:
                    continue
                raise Mutability("'id' is read-only and cannot be changed.")
            self.write(op, self._key_path(key, f'the value of a pathless "{op}"'), item)

    def _key_path(self, key: str, where: str) -> Path:
        """A key of an object value, read as an attribute path; an unknown key is a bad value, not a bad path."""
        try:
            return parse_path(self.schema, key)
        except (InvalidPath, InvalidFilter) as exc:
            raise InvalidValue(f"'{key}' in {where} is not an attribute: {exc.detail}") from exc

    def write(self, op: str, path: Path, value) -> None:
        """"add": set or append; "replace": set or replace the whole (RFC 7644 §3.5.2.1, §3.5.2.3)."""
        if path.attr is None:
            self._write_extension(op, path, value)
        elif self._is_members(path):
            self._write_members(op, path, value)
        else:
            self._check_mutable(path)
            if path.value_filter is not None:
                self._write_filtered(op, path, value)
            elif path.sub is not None:
                self._write_sub(path, value)
            else:
                self._write_attr(op, path, value)
        self._prune(path)

    def _write_extension(self, op: str, path: Path, value) -> None:
        """An extension URN alone: its object value is a set of attributes, applied one by one."""
        if value is None:
            self.doc.pop(path.urn, None)
            return
        if not isinstance(value, dict):
            raise InvalidValue(f"The value for '{path.urn}' must be an object.")
        for key, item in value.items():
            if key.lower() in _IGNORED_KEYS:  # scim2-models serialises an extension with its "schemas"
                continue
            self.write(op, self._key_path(f"{path.urn}:{key}", f"the value for '{path.urn}'"), item)

    def _write_attr(self, op: str, path: Path, value) -> None:
        # RFC 7643 §2.5: null, and [] for a multi-valued attribute, mean "unassigned".
        if value is None or (path.multi_valued and value == [] and op == "replace"):
            self._unset(path)
            return
        container = self._container(path, create=True)
        if path.multi_valued:
            items = [self._element(path.attr_def, v) for v in _listify(value)]
            if op == "replace":
                container[path.attr] = items
                return
            # "If the target location already contains the value specified, no changes SHOULD be made."
            existing = container.setdefault(path.attr, [])
            existing.extend(it for i, it in enumerate(items) if it not in existing and it not in items[:i])
        elif path.attr_def["type"] == "complex" and isinstance(value, dict):
            # "Sub-attributes that are not specified in the "value" parameter are left unchanged."
            target = container.get(path.attr)
            if not isinstance(target, dict):
                target = container[path.attr] = {}
            self._merge(target, path.attr_def, value)
        else:
            container[path.attr] = value  # add on a single-valued attribute replaces it (Entra sends this)

    def _write_sub(self, path: Path, value) -> None:
        """`name.givenName`: set one sub-attribute, creating the parent; on a multi-valued
        attribute without filter, set it on every value."""
        container = self._container(path, create=value is not None)
        if container is None:
            return
        if path.multi_valued:
            elements = [e for e in container.get(path.attr) or [] if isinstance(e, dict)]
            if not elements:
                raise NoTarget(f"'{path.attr}' has no values to set '{path.sub}' on.")
            for e in elements:
                self._set_sub(e, path.sub, value)
            return
        parent = container.get(path.attr)
        if not isinstance(parent, dict):
            if value is None:
                return
            parent = container[path.attr] = {}
        self._set_sub(parent, path.sub, value)

    def _write_filtered(self, op: str, path: Path, value) -> None:
        """"If the target location is a multi-valued attribute and a value selection ("valuePath") filter is
        specified that matches one or more values ..., then all matching record values SHALL be replaced"
        (RFC 7644 §3.5.2.3); with no match, "the service provider SHALL return a 400 ... noTarget"."""
        container = self._container(path, create=True)
        elements = container.setdefault(path.attr, [])
        matched = [e for e in elements if isinstance(e, dict) and matches(e, path.value_filter, path.attr_def)]
        if not matched:
            described = equalities(path.value_filter, path.attr_def)
            if described is None or (op == "replace" and path.sub is None):
                raise NoTarget(f"No value of '{path.attr}' matches [{path.filter_text}].")
            if value is None:
                return
            # Entra ID adds `emails[type eq "work"].value` to a user without a work email: create the
            # element the filter describes; later operations on the same filter then find it.
            element = dict(described)
            elements.append(element)
            matched = [element]
        for e in matched:
            if path.sub is not None:
                self._set_sub(e, path.sub, value)
            elif isinstance(value, dict):
                self._merge(e, path.attr_def, value)
            else:
                raise InvalidValue(f"The value for '{path}' must be an object of sub-attributes.")

    # -- remove --------------------------------------------------------------------------------

    def remove(self, path: Path, value) -> None:
        """"The "remove" operation removes the value at the target location specified by the required
        attribute "path"" (RFC 7644 §3.5.2.2)."""
        if path.attr is None:
            self.doc.pop(path.urn, None)
            return
        if self._is_members(path):
            self._remove_members(path, value)
            return
        self._check_mutable(path)
        container = self._container(path, create=False)
        if path.value_filter is None and path.sub is None:
            if value is not None and path.multi_valued:
                self._remove_values(path, value)  # Entra ID names the values to remove in "value"
            else:
                self._unset(path)
        elif container is not None:
            self._remove_inside(path, container.get(path.attr))
        self._prune(path)

    @staticmethod
    def _remove_inside(path: Path, current) -> None:
        """Remove `name.givenName`, `emails.value`, `emails[filter]` or `emails[filter].value`.

        A filter that matches nothing removes nothing and is not an error: the value is already gone.
        """
        if not path.multi_valued:
            if isinstance(current, dict):
                current.pop(path.sub, None)
            return
        if not isinstance(current, list):
            return

        def hit(e) -> bool:
            return path.value_filter is None or (isinstance(e, dict) and matches(e, path.value_filter, path.attr_def))

        if path.sub is None:
            current[:] = [e for e in current if not hit(e)]
        else:
            for e in current:
                if isinstance(e, dict) and hit(e):
                    e.pop(path.sub, None)

    def _remove_values(self, path: Path, value) -> None:
        """Remove the elements equal to one of the given values, compared by their "value" sub-attribute."""
        container = self._container(path, create=False)
        current = container.get(path.attr) if container else None
        if not isinstance(current, list):
            return
        case_exact = (ResourceSchema.sub_attribute(path.attr_def, "value") or {}).get("caseExact", False)

        def key(v):
            v = get_ci(v, "value") if isinstance(v, dict) else v
            return v.casefold() if isinstance(v, str) and not case_exact else v

        doomed = {repr(key(v)) for v in _listify(value)}
        current[:] = [e for e in current if repr(key(e)) not in doomed]

    def _unset(self, path: Path) -> None:
        if path.attr_def["required"]:
            raise InvalidValue(f"'{path.attr}' is required and cannot be removed.")
        container = self._container(path, create=False)
        if container is not None:
            container.pop(path.attr, None)

    # -- Group members -------------------------------------------------------------------------

    def _is_members(self, path: Path) -> bool:
        return self.schema.resource_type == "Group" and path.urn is None and path.attr == "members"

    def _write_members(self, op: str, path: Path, value) -> None:
        if path.sub is not None or path.value_filter is not None:
            raise Mutability("Members cannot be modified in place (value and type are immutable); "
                             "remove the member and add it again.")
        members = [self._member(path.attr_def, m) for m in ([] if value is None else _listify(value))]
        if op == "replace":  # an empty list removes every member
            self.members.append(MembersChange("replace", members))
        elif members:
            self.members.append(MembersChange("add", members))

    def _remove_members(self, path: Path, value) -> None:
        if path.sub is not None:
            raise Mutability("Member sub-attributes cannot be removed; remove the member instead.")
        if path.value_filter is None and value is None:
            self.members.append(MembersChange("remove_all", []))
        elif path.value_filter is None:
            ids = [{"value": self._member(path.attr_def, m)["value"]} for m in _listify(value)]
            if ids:
                self.members.append(MembersChange("remove", ids))
        else:
            ids = _member_ids(path.value_filter)
            if ids is None:
                self.members.append(MembersChange("remove_where", [], filter=path.value_filter))
            else:
                self.members.append(MembersChange("remove", [{"value": i} for i in ids]))

    @staticmethod
    def _member(members_def: dict, m) -> dict:
        """A member as sent, with known sub-attribute names canonicalised; "value" must be a member id."""
        if not isinstance(m, dict):
            raise InvalidValue(f"A member must be an object with a 'value', got {m!r}.")
        out = {}
        for k, v in m.items():
            sub = ResourceSchema.sub_attribute(members_def, k)
            out[sub["name"] if sub else k] = v
        if not isinstance(out.get("value"), str) or not out["value"]:
            raise InvalidValue(f"A member needs a 'value' holding the member's id, got {m!r}.")
        return out

    # -- helpers -------------------------------------------------------------------------------

    def _container(self, path: Path, create: bool) -> dict | None:
        """The dict holding path.attr: the document, or the extension's object under its URN."""
        if path.urn is None:
            return self.doc
        if create:
            if not isinstance(self.doc.get(path.urn), dict):
                self.doc[path.urn] = {}
            return self.doc[path.urn]
        found = self.doc.get(path.urn)
        return found if isinstance(found, dict) else None

    def _prune(self, path: Path) -> None:
        """Drop what an operation left empty: {} values, [] lists, an empty extension (RFC 7643 §2.5)."""
        container = self._container(path, create=False)
        if container is not None and path.attr is not None:
            current = container.get(path.attr)
            if isinstance(current, list):
                current[:] = [e for e in current if e != {}]
            if current in ({}, []):
                del container[path.attr]
        if path.urn is not None and self.doc.get(path.urn) == {}:
            del self.doc[path.urn]

    @staticmethod
    def _check_mutable(path: Path) -> None:
        """"readOnly: The attribute SHALL NOT be modified" (RFC 7643 §2.2), answered with "mutability"."""
        for d in (path.attr_def, path.sub_def):
            if d is not None and d["mutability"] == "readOnly":
                raise Mutability(f"'{path}' is read-only.")

    def _element(self, attr_def: dict, value):
        """One value of a multi-valued attribute, sub-attribute names canonicalised (non-objects as sent)."""
        if attr_def["type"] != "complex" or not isinstance(value, dict):
            return value
        element: dict = {}
        self._merge(element, attr_def, value)
        return element

    @staticmethod
    def _merge(target: dict, attr_def: dict, value: dict) -> None:
        """Set each sub-attribute of `value` on `target`: null unassigns, readOnly ones are ignored
        (as RFC 7644 §3.3 and §3.5.1 ignore them in POST and PUT), unknown ones are an error."""
        for key, item in value.items():
            sub = ResourceSchema.sub_attribute(attr_def, key) if isinstance(key, str) else None
            if sub is None:
                raise InvalidValue(f"'{key}' is not a sub-attribute of '{attr_def['name']}'.")
            if sub["mutability"] == "readOnly":
                continue
            _Patcher._set_sub(target, sub["name"], item)

    @staticmethod
    def _set_sub(target: dict, name: str, value) -> None:
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value

    # -- "primary" -----------------------------------------------------------------------------

    def _primary_lists(self):
        """(key, list) for every multi-valued attribute in the document that has a "primary" sub-attribute."""
        scopes = [(None, self.schema.core_attrs)]
        scopes += [(self.schema.urns[lurn], attrs) for lurn, attrs in self.schema.ext_attrs.items()]
        for urn, attrs in scopes:
            container = self.doc if urn is None else self.doc.get(urn)
            if not isinstance(container, dict):
                continue
            for a in attrs.values():
                values = container.get(a["name"])
                if a["multiValued"] and ResourceSchema.sub_attribute(a, "primary") and isinstance(values, list):
                    yield (urn, a["name"]), values

    def _primaries(self) -> dict:
        # The element objects themselves: identity tells an element marked by this operation apart.
        return {key: [e for e in values if isinstance(e, dict) and _is_true(e.get("primary"))]
                for key, values in self._primary_lists()}

    def _settle_primary(self, before: dict) -> None:
        """"a PATCH operation that sets a value's "primary" sub-attribute to "true" SHALL cause the server
        to automatically set "primary" to "false" for any other values in the array" (RFC 7644 §3.5.2)."""
        for key, values in self._primary_lists():
            old = before.get(key, [])
            primary = [e for e in values if isinstance(e, dict) and _is_true(e.get("primary"))]
            marked = [e for e in primary if not any(e is o for o in old)]
            if len(marked) > 1:
                raise InvalidValue(f"More than one value of '{key[1]}' is marked primary (RFC 7643 §2.4).")
            for e in primary:
                if marked and e is not marked[0]:
                    e["primary"] = False


def _member_ids(tree) -> list[str] | None:
    """The ids of `value eq "a" or value eq "b"`, or None for any other members filter."""
    terms = operands(tree, "or")
    if len(terms) > 1:
        ids = []
        for term in terms:
            found = _member_ids(term)
            if found is None:
                return None
            ids += found
        return ids
    if isinstance(tree, ast.Filter):
        return None if tree.negated or tree.namespace is not None else _member_ids(tree.expr)
    if isinstance(tree, ast.AttrExpr) and tree.value.lower() == "eq" and tree.attr_path.attr_name == "value":
        value = literal(tree.comp_value)
        return [value] if isinstance(value, str) else None
    return None
