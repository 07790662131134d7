"""`attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9)."""
from __future__ import annotations

from scim_authz.scim.schema_defs import ResourceSchema

ALWAYS = {"id", "schemas"}


def parse_list(raw) -> list[str]:
    """A comma-separated query parameter or a JSON list of attribute names, as a list."""
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return [str(i).strip() for i in items if str(i).strip()]


def _resolve(schema: ResourceSchema, name: str) -> tuple[str | None, str, str | None] | None:
    """(extension URN or None, canonical attribute, canonical sub-attribute or None), None if unknown."""
    urn, rest = schema.split_urn(name)
    if urn is not None and rest == "":
        return (urn, "", None) if urn != schema.core else None
    top, _, sub = rest.partition(".")
    urn_key = None if urn in (None, schema.core) else urn
    defn = schema.lookup(urn_key, top)
    if defn is None:
        return None
    if sub:
        sdef = ResourceSchema.sub_attribute(defn, sub)
        return (urn_key, defn["name"], sdef["name"]) if sdef else None
    return urn_key, defn["name"], None


def wants(schema: ResourceSchema, attributes: list[str], excluded: list[str], name: str) -> bool:
    """Whether a top-level core attribute will be in the response (to skip computing it when not)."""
    if attributes:
        return any((r := _resolve(schema, a)) and r[0] is None and r[1] == name for a in attributes)
    return not any((r := _resolve(schema, a)) and r[0] is None and r[1] == name and r[2] is None for a in excluded)


def project(schema: ResourceSchema, resource: dict, attributes: list[str], excluded: list[str]) -> dict:
    """The resource with only the asked-for attributes (always `id` and `schemas`)."""
    if attributes:
        wanted: dict[tuple[str | None, str], set[str] | None] = {}
        for a in attributes:
            r = _resolve(schema, a)
            if r is None:
                continue
            urn, top, sub = r
            key = (urn, top)
            if sub is None or wanted.get(key, set()) is None:
                wanted[key] = None
            else:
                wanted.setdefault(key, set()).add(sub)
        out = {k: v for k, v in resource.items() if k in ALWAYS}
        for (urn, top), subs in wanted.items():
            if top == "":
                if urn in resource:
                    out[urn] = resource[urn]
                continue
            src = resource.get(urn, {}) if urn else resource
            if top not in src:
                continue
            value = src[top] if subs is None else _pick(src[top], subs)
            if value in (None, [], {}):
                continue
            (out.setdefault(urn, {}) if urn else out)[top] = value
        return out
    out = dict(resource)
    for a in excluded:
        r = _resolve(schema, a)
        if r is None:
            continue
        urn, top, sub = r
        if top == "":
            out.pop(urn, None)
            continue
        container = out.get(urn) if urn else out
        if not isinstance(container, dict) or top not in container or (urn is None and top in ALWAYS):
            continue
        if urn:
            container = out[urn] = dict(container)
        if sub is None:
            container.pop(top)
        elif isinstance(container[top], list):
            container[top] = [{k: v for k, v in e.items() if k != sub} for e in container[top]]
        elif isinstance(container[top], dict):
            container[top] = {k: v for k, v in container[top].items() if k != sub}
    return out


def _pick(value, subs: set[str]):
    """Only the named sub-attributes of a complex value, or of each element of a multi-valued one."""
    if isinstance(value, list):
        picked = [{k: v for k, v in e.items() if k in subs} for e in value if isinstance(e, dict)]
        return [p for p in picked if p]
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k in subs}
    return value
