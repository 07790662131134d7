"""Form input → the dicts the services take, with messages per field a person can act on.

No Flask here: functions take a mapping of form values (a MultiDict or a dict of lists)."""
from __future__ import annotations

import json

from scim_authz.policy.vocabulary import ACTION, OBJECT, ROLE_KEY, role_problems
from scim_authz.web.requests import json_problem, no_constant

MAX_CONTEXT_DEPTH = 64
RESOURCE_HINT = 'Write it as type:id, e.g. document:42, or leave it empty for every resource.'


def _getlist(form, name: str) -> list[str]:
    return form.getlist(name) if hasattr(form, "getlist") else list(form.get(name) or [])


def role_input(form, key: str | None = None) -> dict:
    """The role form as typed (for re-rendering) and as the service wants it."""
    raw_permissions = form.get("permissions", "")
    return {
        "key": (key if key is not None else form.get("key", "")).strip(),
        "name": form.get("name", "").strip(),
        "description": form.get("description", "").strip(),
        "permissions_text": raw_permissions,
        "extends": [k for k in _getlist(form, "extends") if k],
        "condition": form.get("condition", "").strip(),
    }


def validate_role(data: dict) -> tuple[dict, dict[str, list[str]]]:
    """(the service's role dict, errors per field); permission errors name the line they are on."""
    errors: dict[str, list[str]] = {}
    lines = [(n, text.strip()) for n, text in enumerate(data["permissions_text"].splitlines(), 1) if text.strip()]
    role = {"key": data["key"], "name": data["name"] or None, "description": data["description"],
            "permissions": [p for _, p in lines], "extends": data["extends"], "condition": data["condition"] or None}
    if not data["key"]:
        errors["key"] = ["Enter a key, e.g. editor. Applications and mappings refer to the role by it."]
    elif not ROLE_KEY.match(data["key"]):
        errors["key"] = ["Use letters, digits, _ and - only (at most 100), e.g. billing-admin."]
    for field, msgs in role_problems({k: v for k, v in role.items() if v is not None and k != "key"}).items():
        if field == "permissions":
            errors[field] = [f"line {lines[i][0]}: “{lines[i][1]}” {m}" for i, ms in msgs.items() for m in ms]
        else:
            errors[field] = [m for ms in (msgs.values() if isinstance(msgs, dict) else [msgs]) for m in ms]
    return role, errors


def parse_resource(text: str) -> tuple[tuple[str, str] | None, str | None]:
    """("type", "id") from "type:id", None for an empty field; or an error message."""
    text = (text or "").strip()
    if not text:
        return None, None
    if not OBJECT.match(text):
        return None, RESOURCE_HINT
    t, _, i = text.partition(":")
    return (t, i), None


def check_input(form) -> tuple[dict, dict[str, list[str]]]:
    """The playground's question: user, action, resource and optional JSON context."""
    data = {k: form.get(k, "").strip() for k in ("user", "action", "resource", "context")}
    errors: dict[str, list[str]] = {}
    if not data["user"]:
        errors["user"] = ["Choose a user: type part of a userName and pick one."]
    if not data["action"]:
        errors["action"] = ["Enter an action, e.g. view."]
    elif not ACTION.match(data["action"]):
        errors["action"] = ["An action is a name: letters, digits and _ (e.g. view, edit)."]
    if not data["resource"]:
        errors["resource"] = ["Enter a resource as type:id, e.g. document:42."]
    elif not OBJECT.match(data["resource"]):
        errors["resource"] = ["Write the resource as type:id, e.g. document:42."]
    context = {}
    if data["context"]:
        try:
            context = json.loads(data["context"], parse_constant=no_constant)
            problem = json_problem(context, MAX_CONTEXT_DEPTH)
            if problem:
                raise ValueError(problem)
        except RecursionError:
            errors["context"] = [f"Nested too deep: at most {MAX_CONTEXT_DEPTH} levels."]
        except ValueError as e:
            errors["context"] = [f"Not valid JSON: {e}"]
        else:
            if not isinstance(context, dict):
                errors["context"] = ['The context must be a JSON object, e.g. {"ip": "10.0.0.1"}.']
    return {**data, "context_obj": context if isinstance(context, dict) else {}}, errors
