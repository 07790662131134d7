"""AuthZEN Authorization API 1.0 requests read into this product's checks.

The 1.0 information model: a subject and a resource are `{type, id, properties?}`, an action is
`{name, properties?}`, a context is an object. A missing or mistyped required member is the
caller's error (400); members this API does not know are ignored, as the specification requires.
An entity that is well formed but names nothing this product could grant (an action that is not a
name, a resource type with a dash) is not an error: the answer is a deny.
"""
from __future__ import annotations

from scim_authz.api.errors import InvalidRequest
from scim_authz.policy.vocabulary import ACTION, NAME, OBJECT_ID_MAX, USER_KEY_MAX

ENTITIES = ("subject", "action", "resource", "context")
SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")


class BadItem(ValueError):
    """One evaluation of a batch that is not a valid request (the others are still answered)."""


def _entity(raw: dict, key: str, errors: dict, *, need_id: bool = True) -> dict | None:
    v = raw.get(key)
    if v is None:
        errors[key] = ["Missing data for required field."]
        return None
    if not isinstance(v, dict):
        errors[key] = ["must be an object"]
        return None
    wanted = ("type", "id") if need_id else ("type",)
    for member in wanted:
        if not isinstance(v.get(member), str) or not v[member]:
            errors[key] = [f"{key}.{member} must be a non-empty string"]
            return None
    props = v.get("properties")
    if props is not None and not isinstance(props, dict):
        errors[key] = [f"{key}.properties must be an object"]
        return None
    return {"type": v["type"], "id": v.get("id") if need_id else None, "properties": props or {}}


def _action(raw: dict, errors: dict) -> dict | None:
    v = raw.get("action")
    if v is None:
        errors["action"] = ["Missing data for required field."]
        return None
    if not isinstance(v, dict) or not isinstance(v.get("name"), str) or not v["name"]:
        errors["action"] = ["action.name must be a non-empty string"]
        return None
    props = v.get("properties")
    if props is not None and not isinstance(props, dict):
        errors["action"] = ["action.properties must be an object"]
        return None
    return {"name": v["name"], "properties": props or {}}


def _context(raw: dict, errors: dict) -> dict:
    v = raw.get("context")
    if v is None:
        return {}
    if not isinstance(v, dict):
        errors["context"] = ["must be an object"]
        return {}
    return v


def evaluation(raw) -> dict:
    """A whole evaluation request {subject, action, resource, context?}, or 400."""
    errors: dict = {}
    req = _evaluation(raw, errors)
    if errors:
        raise InvalidRequest("the request is not a valid AuthZEN evaluation", details=errors)
    return req


def _evaluation(raw, errors: dict) -> dict:
    if not isinstance(raw, dict):
        errors["_schema"] = ["must be an object"]
        return {}
    return {"subject": _entity(raw, "subject", errors), "action": _action(raw, errors),
            "resource": _entity(raw, "resource", errors), "context": _context(raw, errors)}


def batch(raw: dict) -> tuple[list, str, dict]:
    """An evaluations request: (its items, each a request or a BadItem; the semantic; the options).
    An absent or empty `evaluations` is one evaluation of the top level, and is returned as None."""
    options = raw.get("options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequest("the request is not valid", details={"options": ["must be an object"]})
    options = options or {}
    semantic = options.get("evaluations_semantic", "execute_all")
    if semantic not in SEMANTICS:
        raise InvalidRequest("the request is not valid", details={
            "options": [f"evaluations_semantic must be one of {', '.join(SEMANTICS)}"]})
    items = raw.get("evaluations")
    if items is None or items == []:
        return None, semantic, options
    if not isinstance(items, list):
        raise InvalidRequest("the request is not valid", details={"evaluations": ["must be an array"]})
    errors: dict = {}
    defaults = {}
    for key in ENTITIES:  # a default present must itself be well formed: the whole payload is wrong
        if key in raw and raw[key] is not None:
            check = {key: raw[key]}
            if key == "action":
                _action(check, errors)
            elif key == "context":
                _context(check, errors)
            else:
                _entity(check, key, errors)
            defaults[key] = raw[key]
    if errors:
        raise InvalidRequest("the request is not valid", details=errors)
    out = []
    for item in items:
        if not isinstance(item, dict):
            out.append(BadItem("each evaluation must be an object"))
            continue
        # An item's entity replaces the default whole (no merging of members).
        merged = {**defaults, **{k: item[k] for k in ENTITIES if k in item}}
        item_errors: dict = {}
        req = _evaluation(merged, item_errors)
        out.append(BadItem("; ".join(f"{k}: {' '.join(v)}" for k, v in item_errors.items()))
                   if item_errors else req)
    return out, semantic, options


def checkable(req: dict) -> str | None:
    """Why the engine could never grant this request (a deny, not an error), or None."""
    if not ACTION.match(req["action"]["name"]):
        return f"the action {req['action']['name']!r} is not a name any permission can hold"
    res = req["resource"]
    if not NAME.match(res["type"]):
        return f"the resource type {res['type']!r} is not a name any permission can hold"
    if len(res["id"]) > OBJECT_ID_MAX or any(c.isspace() or c == "#" for c in res["id"]):
        return "the resource id is longer than 300 characters or holds a space or '#'"
    if len(req["subject"]["id"]) > USER_KEY_MAX:
        return "the subject id is longer than 300 characters"
    return None


def search(raw, searched: str) -> dict:
    """A search request: the searched-for entity needs only its type (its id is ignored); every
    other entity is whole. Action search has no action."""
    errors: dict = {}
    if not isinstance(raw, dict):
        raise InvalidRequest("the request is not valid", details={"_schema": ["must be an object"]})
    out = {"context": _context(raw, errors)}
    out["subject"] = _entity(raw, "subject", errors, need_id=searched != "subject")
    out["resource"] = _entity(raw, "resource", errors, need_id=searched != "resource")
    if searched != "action":
        out["action"] = _action(raw, errors)
    page = raw.get("page")
    if page is not None:
        if not isinstance(page, dict):
            errors["page"] = ["must be an object"]
        else:
            token, limit = page.get("token"), page.get("limit")
            if token is not None and not isinstance(token, str):
                errors["page"] = ["page.token must be a string"]
            if limit is not None and (type(limit) is not int or limit < 0):
                errors["page"] = ["page.limit must be a non-negative integer"]
    if errors:
        raise InvalidRequest("the request is not a valid AuthZEN search", details=errors)
    out["page"] = page or {}
    return out
