"""Request bodies to canonical documents, and documents to SCIM resources (RFC 7643).

A canonical document holds the client-writable attributes with the schema's spelling of every
name, extension attributes nested under their schema URN, real booleans, and no nulls.
"""
from __future__ import annotations

from datetime import datetime

from scim_authz.scim.errors import InvalidSyntax, InvalidValue, Mutability
from scim_authz.scim.schema_defs import ENTERPRISE_USER, ResourceSchema

# Never stored from a request body: server-owned (RFC 7643 §3.1) or computed (User.groups).
SERVER_OWNED = {"id", "meta", "groups", "schemas"}
BOOLEAN_STRINGS = {"true": True, "false": False}  # Entra ID sends "True" / "False"


def _coerce(defn: dict, value, where: str):
    """Check one simple value against its attribute type (RFC 7643 §2.3), coercing what IdPs send loosely."""
    t = defn["type"]
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in BOOLEAN_STRINGS:
            return BOOLEAN_STRINGS[value.lower()]
        raise InvalidValue(f"{where} must be a boolean")
    if t in ("string", "reference", "binary"):
        if isinstance(value, str):
            return value
        raise InvalidValue(f"{where} must be a string")
    if t == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise InvalidValue(f"{where} must be an integer")
    if t == "decimal":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        raise InvalidValue(f"{where} must be a number")
    if t == "dateTime":
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
                return value
            except ValueError:
                pass
        raise InvalidValue(f"{where} must be an xsd:dateTime such as 2024-01-31T12:00:00Z")
    return value


def _complex(defn: dict, value, where: str) -> dict | None:
    if not isinstance(value, dict):
        raise InvalidValue(f"{where} must be an object")
    out = {}
    for key, v in value.items():
        sub = ResourceSchema.sub_attribute(defn, key)
        if sub is None or v is None or sub["mutability"] == "readOnly":
            continue  # unknown and read-only sub-attributes are ignored, as for attributes
        out[sub["name"]] = _coerce(sub, v, f"{where}.{sub['name']}")
    return out or None


def _value(defn: dict, value, where: str):
    """A canonical value for attribute `defn`: lists for multi-valued ones, objects for complex ones."""
    if defn["multiValued"]:
        items = value if isinstance(value, list) else [value]
        out = []
        for i, item in enumerate(items):
            if item is None:
                continue
            v = _complex(defn, item, f"{where}[{i}]") if defn["type"] == "complex" else _coerce(defn, item, where)
            if v is not None:
                out.append(v)
        return out or None
    if defn["type"] == "complex":
        if defn["name"] == "manager" and isinstance(value, str):
            value = {"value": value}  # Entra ID sends the manager as a bare id
        return _complex(defn, value, where)
    return _coerce(defn, value, where)


def _put(out: dict, schema: ResourceSchema, urn: str | None, name: str, value, *, members: list | None):
    urn_key = None if urn in (None, schema.core) else urn
    defn = schema.lookup(urn_key, name.split(".")[0])
    if defn is None:
        return  # attributes outside the schema are ignored, not stored
    if defn["mutability"] == "readOnly" or defn["name"] in SERVER_OWNED:
        return  # RFC 7644 §3.3: read-only values in a request are ignored
    if defn["mutability"] == "writeOnly":
        return  # password: never stored, never returned
    if "." in name:  # "name.givenName" as a key
        sub_name = name.split(".", 1)[1]
        sub = ResourceSchema.sub_attribute(defn, sub_name)
        if sub is None or defn["multiValued"]:
            return
        name, value = defn["name"], {**_target(out, urn_key).get(defn["name"], {}), sub["name"]: value}
    if schema.resource_type == "Group" and defn["name"] == "members" and members is not None:
        if value is not None:
            members.extend(_members(value))
        return
    v = _value(defn, value, defn["name"]) if value is not None else None
    target = _target(out, urn_key)
    if v is None:
        target.pop(defn["name"], None)
    else:
        target[defn["name"]] = v


def _target(out: dict, urn_key: str | None) -> dict:
    if urn_key is None:
        return out
    return out.setdefault(urn_key, {})


def _members(value) -> list[dict]:
    items = value if isinstance(value, list) else [value]
    out = []
    for m in items:
        if not isinstance(m, dict) or not isinstance(m.get("value"), str) or not m["value"]:
            raise InvalidValue("each member must be an object with a string 'value' (the member's id)")
        out.append({"value": m["value"], **({"type": m["type"]} if isinstance(m.get("type"), str) else {})})
    return out


def normalise(schema: ResourceSchema, body, *, members: list | None = None) -> dict:
    """The canonical document of a POST or PUT body (RFC 7644 §3.3, §3.5.1).

    Read-only attributes in the body are ignored, as are attributes no schema defines; a Group's
    `members` are appended to `members` instead of entering the document.
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("the request body must be a JSON object")
    schemas = body.get("schemas")
    if schemas is not None and (not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas)):
        raise InvalidSyntax("'schemas' must be a list of schema URNs")
    out: dict = {}
    for key, value in body.items():
        urn, rest = schema.split_urn(key)
        if urn is not None and rest == "":  # an extension object: {"urn:…:enterprise:2.0:User": {...}}
            if urn == schema.core or value is None:
                continue
            if not isinstance(value, dict):
                raise InvalidValue(f"{urn} must be an object")
            for k, v in value.items():
                _put(out, schema, urn, k, v, members=members)
            continue
        if urn is None and key.lower().startswith("urn:"):
            continue  # an extension this server does not know (Entra's own URNs): tolerated
        _put(out, schema, urn, rest, value, members=members)
    for urn in schema.extensions:
        if out.get(urn) == {}:
            del out[urn]
    return validated(schema, out)


def validated(schema: ResourceSchema, doc: dict) -> dict:
    """Check required attributes (RFC 7643 §2.2) and re-coerce types; returns the document."""
    for key in list(doc):
        urn = key if key in schema.extensions else None
        if urn:
            if not isinstance(doc[key], dict):
                raise InvalidValue(f"{key} must be an object")
            for name in list(doc[key]):
                defn = schema.lookup(urn, name)
                if defn is None:
                    raise InvalidValue(f"unknown attribute {key}:{name}")
                doc[key][name] = _value(defn, doc[key][name], name)
                if doc[key][name] is None:
                    del doc[key][name]
            if not doc[key]:
                del doc[key]
            continue
        defn = schema.lookup(None, key)
        if defn is None:
            raise InvalidValue(f"unknown attribute {key}")
        if defn["mutability"] == "writeOnly":
            del doc[key]  # a password set by PATCH: accepted, never stored
            continue
        if defn["mutability"] == "readOnly":
            raise Mutability(f"{key} is read-only")
        doc[key] = _value(defn, doc[key], key)
        if doc[key] is None:
            del doc[key]
    required = "userName" if schema.resource_type == "User" else "displayName"
    if not isinstance(doc.get(required), str) or not doc[required].strip():
        raise InvalidValue(f"{required} is required")
    return doc


def schemas_of(schema: ResourceSchema, doc: dict) -> list[str]:
    """The `schemas` of a resource: its core schema and each extension it has values for."""
    return [schema.core, *[u for u in schema.extensions if u in doc]]


def render(schema: ResourceSchema, rid: str, doc: dict, meta: dict, extra: dict | None = None) -> dict:
    """A full SCIM resource: schemas, id, the document, computed attributes, meta."""
    out = {"schemas": schemas_of(schema, doc), "id": rid}
    for k, v in doc.items():
        if k != ENTERPRISE_USER:
            out[k] = v
    if extra:
        out.update(extra)
    if ENTERPRISE_USER in doc:
        out[ENTERPRISE_USER] = doc[ENTERPRISE_USER]
    out["meta"] = meta
    return out
