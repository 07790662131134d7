"""A policy file's assertions, run against the real engine in memory: the file's policy (roles,
role mode, mappings, assignments, schema, relationships, resources) over the sample directory its
`fixtures` describe (users with groups and attributes, nested groups, more relationships), as an
engine Snapshot read through SnapshotReader. No database, no server.

Fixture users and groups take their ids from `id`, else their userName / displayName, which is how
fixture relationships name them (`document:1#owner@user:ann@example.com`). Mappings find fixture
groups, and assignments fixture users, the way apply finds them in a tenant: by displayName
(case-insensitively) or externalId, by userName (case-insensitively) or externalId; one that finds
none is not part of the sample."""
from __future__ import annotations

from dataclasses import dataclass

from scim_authz.authz.engine import Engine
from scim_authz.authz.model import GroupInfo, UserInfo
from scim_authz.authz.schema_dsl import parse_schema
from scim_authz.authz.snapshot_reader import SnapshotReader
from scim_authz.authz.store_rows import AssignmentRow, MappingRow, RoleRow, Snapshot, TenantRow
from scim_authz.policy.as_code.document import Policy
from scim_authz.policy.as_code.source import Finding

TENANT_ID = 1


@dataclass(frozen=True)
class Outcome:
    """One assertion as the engine decided it."""

    index: int
    label: str
    expected: str
    allowed: bool
    reason: str
    held: bool


def _scope(resource: str | None) -> tuple[str, str]:
    rtype, _, rid = (resource or "").partition(":")
    return rtype, rid


def snapshot(policy: Policy) -> Snapshot:
    """The file's policy over its fixtures, as the engine loads a tenant."""
    s, fx = policy.sections, policy.fixtures
    settings = {"default_role": s.get("default_role")}
    snap = Snapshot(TenantRow(id=TENANT_ID, key="policy-file", role_mode=s.get("role_mode") or "hybrid",
                              settings=settings, revision=1))
    groups = {g["displayName"].lower(): g.get("id") or g["displayName"] for g in fx.get("groups") or []}
    by_group_ext = {g["externalId"]: groups[g["displayName"].lower()] for g in fx.get("groups") or []
                    if g.get("externalId")}
    users = {u["userName"].lower(): u.get("id") or u["userName"] for u in fx.get("users") or []}
    by_user_ext = {u["externalId"]: users[u["userName"].lower()] for u in fx.get("users") or [] if u.get("externalId")}
    for u in fx.get("users") or []:
        uid = users[u["userName"].lower()]
        snap.users.append(UserInfo(uid, u["userName"], u.get("externalId"), u["active"], u.get("displayName")))
        snap.user_attributes[uid] = {"userName": u["userName"], "active": u["active"],
                                     **({"externalId": u["externalId"]} if u.get("externalId") else {}),
                                     **({"displayName": u["displayName"]} if u.get("displayName") else {}),
                                     **u["attributes"]}
        snap.memberships += [(groups[g.lower()], uid, "User") for g in u["groups"] if g.lower() in groups]
    for g in fx.get("groups") or []:
        gid = groups[g["displayName"].lower()]
        snap.groups.append(GroupInfo(gid, g["displayName"], g.get("externalId")))
        snap.memberships += [(groups[p.lower()], gid, "Group") for p in g["groups"] if p.lower() in groups]
    snap.roles = [RoleRow(n + 1, r["key"], r["name"], tuple(r["permissions"]), tuple(r["extends"]), r["condition"])
                  for n, r in enumerate(s["roles"])]
    for n, m in enumerate(s.get("group_mappings") or []):
        kind, value = m["group"]
        gid = groups.get(value.lower()) if kind == "displayName" else by_group_ext.get(value)
        if gid is not None:
            snap.mappings.append(MappingRow(n + 1, gid, m["role"], *_scope(m["resource"]), "policy file"))
    for n, a in enumerate(s.get("assignments") or []):
        kind, value = a["user"]
        uid = users.get(value.lower()) if kind == "userName" else by_user_ext.get(value)
        if uid is not None:
            snap.assignments.append(AssignmentRow(n + 1, uid, a["role"], *_scope(a["resource"]), "policy file", ""))
    if s.get("schema") is not None:
        snap.schema, snap.schema_version = parse_schema(s["schema"]), 1
    snap.relationships = list(dict.fromkeys([*(s.get("relationships") or []), *(fx.get("relationships") or [])]))
    held = {(r["type"], r["id"]): r["attributes"] for r in [*(s.get("resources") or []), *(fx.get("resources") or [])]}
    snap.resources = [(t, i, attrs) for (t, i), attrs in held.items()]
    return snap


def label(a: dict) -> str:
    """How an assertion reads: its name, or 'ann@example.com may edit document:1'."""
    verb = "may" if a["expect"] == "allow" else "may not"
    return a.get("name") or f"{a['user']} {verb} {a['action']} {a['resource']}"


def run_assertions(policy: Policy) -> list[Outcome]:
    """Every assertion of the file, decided by the engine over the file's snapshot."""
    if not policy.assertions:
        return []
    engine = Engine(SnapshotReader([snapshot(policy)]))
    out = []
    for i, a in enumerate(policy.assertions):
        rtype, rid = _scope(a["resource"])
        d = engine.check(TENANT_ID, a["user"], a["action"], rtype, rid, resource_attrs=a.get("resource_attributes"),
                         context=a.get("context") or {}, explain=True)
        held = d.allowed is (a["expect"] == "allow")
        if held and a.get("reason_contains"):
            held = a["reason_contains"] in d.reason
        out.append(Outcome(i, label(a), a["expect"], d.allowed, d.reason, held))
    return out


def assertion_findings(policy: Policy, outcomes: list[Outcome]) -> list[Finding]:
    """A finding per assertion that did not hold, saying what was expected and what the engine said."""
    out = []
    for o in outcomes:
        if o.held:
            continue
        got = "allow" if o.allowed else "deny"
        if got == o.expected:
            why = f"expected the reason to contain {policy.assertions[o.index]['reason_contains']!r}"
        else:
            why = f"expected {o.expected}, got {got}"
        out.append(policy.finding(("assertions", o.index), f"assertion failed: {o.label}: {why} ({o.reason})"))
    return out
