"""The words policy is written in, defined once for every edge: names, role keys, permissions and
the actions a check may ask about, object and subject references, role modes.

marshmallow schemas (`/v1`) and the console's forms both validate with these patterns, so what can
be saved is exactly what the engine can be asked about."""
from __future__ import annotations

import re

from scim_authz.authz.model import ROLE_MODES

__all__ = ["ACTION", "NAME", "OBJECT", "PERMISSION", "ROLE_KEY", "ROLE_MODES", "SUBJECT", "permission_problem",
           "role_problems"]

# Names and ids are bounded by the columns that keep them (and the decision log keeps every check's).
_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,99}"
OBJECT_ID_MAX = 300  # a resource's or subject's id
USER_KEY_MAX = 300  # how a check names its user: an id, externalId or userName
# A resource type, a relation, an entity or a schema permission.
NAME = re.compile(rf"^{_NAME}$")
# What a check asks: the same words as names, so every permission a role holds can be asked about.
ACTION = NAME
ROLE_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}$")
# "resource_type:action", "resource_type:*" or "*": the action part is an ACTION or *.
PERMISSION = re.compile(rf"^(\*|{_NAME}:(\*|{_NAME}))$")
OBJECT = re.compile(rf"^{_NAME}:[^\s#]{{1,{OBJECT_ID_MAX}}}$")
SUBJECT = re.compile(rf"^{_NAME}:[^\s#]{{1,{OBJECT_ID_MAX}}}(#{_NAME})?$")

_DASHED = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
PERMISSION_HINT = 'must be "resource_type:action", "resource_type:*" or "*"'
ROLE_KEY_HINT = "letters, digits, _ and -"
ROLE_NAME_MAX, ROLE_DESCRIPTION_MAX, CONDITION_MAX = 200, 1000, 4096


def permission_problem(permission: str) -> str | None:
    """Why a permission could never be checked, or None when it can."""
    if PERMISSION.match(permission):
        return None
    rtype, _, action = permission.partition(":")
    if NAME.match(rtype) and _DASHED.match(action):  # what was accepted before actions were names
        return f"the action {action!r} can never be checked: an action is letters, digits and _ only"
    return PERMISSION_HINT


def role_problems(role: dict) -> dict[str, list[str] | dict[int, list[str]]]:
    """The fields of a role (key, name, description, permissions, extends, condition) that are not
    valid, with messages; permissions by their index in the list."""
    errors: dict = {}
    if "key" in role and not (isinstance(role["key"], str) and ROLE_KEY.match(role["key"])):
        errors["key"] = [ROLE_KEY_HINT]
    for field, limit in (("name", ROLE_NAME_MAX), ("description", ROLE_DESCRIPTION_MAX),
                         ("condition", CONDITION_MAX)):
        if isinstance(role.get(field), str) and len(role[field]) > limit:
            errors[field] = [f"Longer than maximum length {limit}."]
    bad = {i: [p] for i, perm in enumerate(role.get("permissions") or []) if (p := permission_problem(perm))}
    if bad:
        errors["permissions"] = bad
    bad_extends = {i: [ROLE_KEY_HINT] for i, k in enumerate(role.get("extends") or []) if not ROLE_KEY.match(k)}
    if bad_extends:
        errors["extends"] = bad_extends
    return errors
