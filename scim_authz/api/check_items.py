"""Validation of check requests, written out by hand because it runs once per check: a bulk
request of 10,000 checks must not spend more validating than deciding. The rules are those the
rest of /v1 states with marshmallow (scim_authz/api/schemas.py), and errors have the same shape."""
from __future__ import annotations

from scim_authz.api.errors import InvalidRequest
from scim_authz.policy.vocabulary import ACTION, NAME, OBJECT, OBJECT_ID_MAX, USER_KEY_MAX

FIELDS = {"user", "action", "resource", "context", "consistency", "explain", "schema_version"}
_NO_ATTRS: dict = {}
# marshmallow's own words, so every /v1 error reads alike.
UNKNOWN, REQUIRED = "Unknown field.", "Missing data for required field."


def parse_user(v, errors: dict):
    """A check's user, or None with the reason in errors["user"]."""
    if type(v) is str and v.strip() and len(v.strip()) <= USER_KEY_MAX:
        return {"key": v.strip()}
    if isinstance(v, dict):
        if isinstance(v.get("jwt"), str) and v["jwt"]:
            return {"jwt": v["jwt"]}
        for k in ("id", "userName"):
            if isinstance(v.get(k), str) and v[k] and len(v[k]) <= USER_KEY_MAX:
                return {"key": v[k]}
    errors["user"] = [f'must be a user id or userName (at most {USER_KEY_MAX} characters), or {{"jwt": "<token>"}}']
    return None


def parse_resource(v, errors: dict):
    """A check's resource, or None with the reason in errors["resource"]."""
    if type(v) is str and OBJECT.match(v):
        t, _, i = v.partition(":")
        return {"type": t, "id": i, "attributes": _NO_ATTRS}
    if isinstance(v, dict) and isinstance(v.get("type"), str) and isinstance(v.get("id"), (str, int)) \
            and not isinstance(v.get("id"), bool) and NAME.match(v["type"]) \
            and 0 < len(str(v["id"])) <= OBJECT_ID_MAX:
        attrs = v.get("attributes") or {}
        if isinstance(attrs, dict):
            return {"type": v["type"], "id": str(v["id"]), "attributes": attrs}
    errors["resource"] = ['must be "type:id" or {"type": …, "id": …, "attributes": {…}}']
    return None


def _at_least(v, errors: dict) -> int | None:
    if v is None:
        return None
    if not isinstance(v, dict) or set(v) - {"at_least"}:
        errors["consistency"] = ['must be {"at_least": <revision>}']
        return None
    n = v.get("at_least")
    if n is None:
        return None
    if type(n) is not int or n < 0:
        errors["consistency"] = ["at_least must be a revision number (an integer ≥ 0)"]
        return None
    return n


def parse_check(raw, errors: dict) -> dict | None:
    """One check: {user, action, resource, context?, consistency?, explain?, schema_version?}.
    Problems are added to `errors` by field; returns None when there were any."""
    if type(raw) is dict and len(raw) == 3:  # most checks: three strings, nothing else
        user, action, resource = raw.get("user"), raw.get("action"), raw.get("resource")
        if type(user) is str and type(action) is str and type(resource) is str and ACTION.match(action) \
                and OBJECT.match(resource):
            key = user.strip()
            if key and len(key) <= USER_KEY_MAX:
                t, _, i = resource.partition(":")
                return {"user": {"key": key}, "action": action,
                        "resource": {"type": t, "id": i, "attributes": _NO_ATTRS}, "context": _NO_ATTRS,
                        "at_least": None, "explain": False, "schema_version": None}
    if not isinstance(raw, dict):
        errors["_schema"] = ["each check must be an object"]
        return None
    unknown = raw.keys() - FIELDS
    for k in unknown:
        errors[k] = [UNKNOWN]
    user = parse_user(raw.get("user"), errors) if "user" in raw else errors.setdefault("user", [REQUIRED]) and None
    action = raw.get("action")
    if type(action) is not str or not ACTION.match(action):
        errors["action"] = [REQUIRED] if "action" not in raw else ["must be a name such as edit"]
    resource = parse_resource(raw.get("resource"), errors) if "resource" in raw else \
        errors.setdefault("resource", [REQUIRED]) and None
    context = raw.get("context")
    if context is None:
        context = _NO_ATTRS
    elif not isinstance(context, dict):
        errors["context"] = ["must be an object"]
    at_least = _at_least(raw.get("consistency"), errors)
    explain = raw.get("explain", False)
    if type(explain) is not bool:
        errors["explain"] = ["must be true or false"]
    version = raw.get("schema_version")
    if version is not None and (type(version) is not int or version < 1):
        errors["schema_version"] = ["must be a schema version (an integer ≥ 1)"]
    if errors:
        return None
    return {"user": user, "action": action, "resource": resource, "context": context, "at_least": at_least,
            "explain": explain, "schema_version": version}


def load_check(raw) -> dict:
    """A single check request, or 400 with details by field."""
    errors: dict = {}
    item = parse_check(raw, errors)
    if item is None:
        raise InvalidRequest("the request is not valid", details=errors)
    return item


def load_bulk(raw, max_checks: int) -> tuple[list[dict], int | None]:
    """{"checks": [...], "consistency"?}: the checks, and the request-wide at_least."""
    if not isinstance(raw, dict) or set(raw) - {"checks", "consistency"}:
        raise InvalidRequest("the request is not valid", details={"_schema": [
            'must be {"checks": [...], "consistency": {...}}']})
    checks = raw.get("checks")
    if not isinstance(checks, list) or not checks:
        raise InvalidRequest("the request is not valid", details={"checks": ["a non-empty list of checks"]})
    if len(checks) > max_checks:
        raise InvalidRequest(f"at most {max_checks} checks per request", details={"checks": [f"{len(checks)} given"]})
    errors: dict = {}
    at_least = _at_least(raw.get("consistency"), errors)
    items, problems = [], {}
    for n, c in enumerate(checks):
        e: dict = {}
        item = parse_check(c, e)
        if e:
            problems[n] = e
        items.append(item)
    if problems:
        errors["checks"] = problems
    if errors:
        raise InvalidRequest("the request is not valid", details=errors)
    return items, at_least
