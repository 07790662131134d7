"""The groups a file's mappings name and the users its assignments name, found in one tenant the
way every environment knows them (ids differ between environments): a group by displayName
(case-insensitively, exactly one) or externalId, a user by userName (case-insensitively) or
externalId. What a tenant lacks, or holds twice, is refused all at once, listing each, with its line."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from scim_authz.db.extensions import db
from scim_authz.db.models import Group, User
from scim_authz.policy.as_code.document import Policy
from scim_authz.policy.as_code.validate import PolicyFileInvalid

CHUNK = 500


class UnresolvedReferences(PolicyFileInvalid):
    """Mappings or assignments name groups or users the tenant does not have (or has twice)."""

    code = "unresolved_references"


def _ids(model, column, tenant_id: int, values: set[str]) -> dict[str, list[str]]:
    """value -> the ids of the rows whose `column` holds it."""
    found: dict[str, list[str]] = defaultdict(list)
    values = sorted(values)
    for n in range(0, len(values), CHUNK):
        for rid, value in db.session.execute(select(model.id, column).where(
                model.tenant_id == tenant_id, column.in_(values[n:n + CHUNK]))).all():
            found[value].append(rid)
    return found


def _lookup(tenant_id: int, refs: set[tuple[str, str]], model, name_ci, ext) -> dict[tuple[str, str], list[str]]:
    """(kind, value) -> the ids it finds: by the name's lowercased column, or exactly by externalId."""
    by_name = _ids(model, name_ci, tenant_id, {v.lower() for k, v in refs if k != "externalId"})
    by_ext = _ids(model, ext, tenant_id, {v for k, v in refs if k == "externalId"})
    return {(k, v): (by_ext.get(v, []) if k == "externalId" else by_name.get(v.lower(), [])) for k, v in refs}


def resolve(tenant_id: int, tenant_key: str, policy: Policy) -> tuple[dict, dict]:
    """({group ref: group id}, {user ref: user id}) for every mapping and assignment of the file;
    UnresolvedReferences listing every one the tenant lacks or cannot tell apart."""
    mappings = policy.sections.get("group_mappings") or []
    assignments = policy.sections.get("assignments") or []
    groups = _lookup(tenant_id, {m["group"] for m in mappings}, Group, Group.display_name_ci, Group.external_id)
    users = _lookup(tenant_id, {a["user"] for a in assignments}, User, User.user_name_ci, User.external_id)
    findings, missing = [], []
    for section, key, what, found in (("group_mappings", "group", "group", groups),
                                      ("assignments", "user", "user", users)):
        for i, item in enumerate(policy.sections.get(section) or []):
            kind, value = item[key]
            ids = found[item[key]]
            if len(ids) == 1:
                continue
            missing.append(f"{what} {value!r}" if kind != "externalId" else f"{what} with externalId {value!r}")
            problem = (f"no {what} with {kind} {value!r} in tenant {tenant_key}" if not ids else
                       f"{len(ids)} {what}s of tenant {tenant_key} have {kind} {value!r}; name it by externalId")
            findings.append(policy.finding((section, i, key), problem))
    if findings:
        names = ", ".join(dict.fromkeys(missing))
        raise UnresolvedReferences(f"tenant {tenant_key} does not have (exactly one of) {names}; nothing was applied",
                                   details=[f.to_dict() for f in findings])
    return ({ref: ids[0] for ref, ids in groups.items()}, {ref: ids[0] for ref, ids in users.items()})
