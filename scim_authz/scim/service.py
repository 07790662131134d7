"""SCIM operations on Users and Groups: one call per request, inside the request's one transaction.

Views parse and render; this module turns SCIM requests into directory calls and directory
results into SCIM resources, translating directory errors into SCIM errors (RFC 7644 §3.12).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from scim_authz.db.models import Group, User
from scim_authz.directory import membership_reads as memberships
from scim_authz.directory import service as directory
from scim_authz.directory.errors import Conflict, InvalidMembership, ResourceNotFound, UnknownMembers, ValueTooLong
from scim_authz.scim import schemas
from scim_authz.scim.errors import InvalidValue, Mutability, NotFound, PreconditionFailed, Uniqueness
from scim_authz.scim.patch import apply_patch
from scim_authz.scim.paths import matches
from scim_authz.scim.projection import project, wants
from scim_authz.scim.resource import normalise, render, validated
from scim_authz.scim.schema_defs import SCHEMA_FOR


@dataclass(frozen=True)
class Context:
    """Who is asking (the token's tenant) and where resources live (for meta.location)."""

    tenant_id: int
    base_url: str  # absolute, ending in /scim/v2
    tenant_key: str = ""  # for log lines


@contextmanager
def directory_errors():
    """Directory errors as SCIM errors, where the directory is called."""
    try:
        yield
    except ResourceNotFound as e:
        raise NotFound(str(e)) from e
    except Conflict as e:
        raise Uniqueness(str(e)) from e
    except (UnknownMembers, InvalidMembership, ValueTooLong) as e:
        raise InvalidValue(str(e)) from e


def etag(version: int) -> str:
    """A weak entity tag for a resource version (RFC 7644 §3.14)."""
    return f'W/"{version}"'


def _stamp(dt) -> str:
    return dt.isoformat(timespec="milliseconds") + "Z"


def _meta(ctx: Context, rtype: str, row) -> dict:
    return {"resourceType": rtype, "created": _stamp(row.created), "lastModified": _stamp(row.last_modified),
            "location": f"{ctx.base_url}/{rtype}s/{row.id}", "version": etag(row.version)}


def check_if_match(if_match: str | None, row) -> None:
    """RFC 7644 §3.14: a write with If-Match applies only to the version it names."""
    if not if_match or if_match.strip() == "*":
        return
    tags = {t.strip() for t in if_match.split(",")}
    current = etag(row.version)
    if current not in tags and current[2:] not in tags:
        raise PreconditionFailed(f"the resource is at version {current}, not {if_match}")


# ---- rendering -------------------------------------------------------------------------------

def render_users(ctx: Context, users: list[User], attributes=(), excluded=(), *, new: bool = False) -> list[dict]:
    """SCIM Users; `groups` is computed from memberships, only when it will be returned (and a
    user just created has none)."""
    schema = SCHEMA_FOR["User"]
    groups = (memberships.groups_of_users(ctx.tenant_id, [u.id for u in users])
              if not new and wants(schema, list(attributes), list(excluded), "groups") else {})
    out = []
    for u in users:
        extra = {"groups": groups[u.id]} if groups.get(u.id) else None
        out.append(project(schema, render(schema, u.id, u.doc, _meta(ctx, "User", u), extra),
                           list(attributes), list(excluded)))
    return out


def render_groups(ctx: Context, groups: list[Group], attributes=(), excluded=(), *, new: bool = False) -> list[dict]:
    """SCIM Groups; members are read only when they will be returned (and a group just created
    without any has none)."""
    wanted = [g.id for g in groups if not (new and getattr(g, "members_added", None) == 0)]
    members = (memberships.members_of_groups(wanted)
               if wanted and wants(SCHEMA_FOR["Group"], list(attributes), list(excluded), "members") else {})
    return [render_group(ctx, g, members.get(g.id), attributes, excluded) for g in groups]


def member_value(ctx: Context, member_id: str, member_type: str) -> dict:
    """A group's member as its `members` attribute shows it (RFC 7643 §4.2)."""
    return {"value": member_id, "type": member_type, "$ref": f"{ctx.base_url}/{member_type}s/{member_id}"}


def render_group(ctx: Context, group, members: list[dict] | None, attributes=(), excluded=()) -> dict:
    """One SCIM Group with these members ({value, type} each, in order; none: no `members`)."""
    schema = SCHEMA_FOR["Group"]
    extra = {"members": [member_value(ctx, m["value"], m["type"]) for m in members]} if members else None
    return project(schema, render(schema, group.id, group.doc, _meta(ctx, "Group", group), extra),
                   list(attributes), list(excluded))


RENDER = {"User": render_users, "Group": render_groups}
GET = {"User": directory.get_user, "Group": directory.get_group}


def render_one(ctx: Context, rtype: str, row, attributes=(), excluded=(), *, new: bool = False) -> dict:
    return RENDER[rtype](ctx, [row], attributes, excluded, new=new)[0]


# ---- operations ------------------------------------------------------------------------------

def get(ctx: Context, rtype: str, rid: str, *, for_update: bool = False):
    """The row of a resource of the caller's tenant, or 404; locked when it is about to change."""
    with directory_errors():
        return GET[rtype](ctx.tenant_id, rid, for_update=for_update)


def read_user(ctx: Context, rid: str, *, for_update: bool = False):
    """A user of the caller's tenant, its columns (to render, or to change: directory.replace_user), or 404."""
    with directory_errors():
        return directory.read_user(ctx.tenant_id, rid, for_update=for_update)


def create(ctx: Context, rtype: str, body):
    """POST /Users, POST /Groups (RFC 7644 §3.3): what was created, to render."""
    schema = SCHEMA_FOR[rtype]
    members: list[dict] = []
    doc = normalise(schema, body, members=members)
    with directory_errors():
        if rtype == "User":
            return directory.insert_user(ctx.tenant_id, doc)
        return directory.create_group(ctx.tenant_id, doc, members)


def replace(ctx: Context, rtype: str, rid: str, body, if_match: str | None = None):
    """PUT (RFC 7644 §3.5.1): the body replaces every writable attribute; an id in it must be this one."""
    schema = SCHEMA_FOR[rtype]
    row = read_user(ctx, rid, for_update=True) if rtype == "User" else get(ctx, rtype, rid, for_update=True)
    check_if_match(if_match, row)
    if isinstance(body, dict) and body.get("id") not in (None, rid):
        raise Mutability("id is read-only and cannot be changed")
    members: list[dict] = []
    has_members = isinstance(body, dict) and any(k.lower() == "members" for k in body)
    doc = normalise(schema, body, members=members)
    with directory_errors():
        if rtype == "User":
            directory.replace_user(row, doc)
        else:
            directory.replace_group(row, doc, members if has_members else None)
    return row


def patch(ctx: Context, rtype: str, rid: str, body, if_match: str | None = None):
    """PATCH (RFC 7644 §3.5.2): all operations apply, or none does."""
    schema = SCHEMA_FOR[rtype]
    message = schemas.load(schemas.PATCH, body)
    # Adding and removing a group's members by id commute with each other and read nothing of the
    # group's document: such a PATCH takes no lock on the group while it is worked out, only for its
    # version bump at the end, so an IdP's concurrent PATCHes to one big group do not queue behind
    # each other for the whole request. Anything else reads, changes and writes back the document:
    # under the row's lock from the start.
    unlocked = rtype == "Group" and not if_match
    row = read_user(ctx, rid, for_update=True) if rtype == "User" else get(ctx, rtype, rid, for_update=not unlocked)
    check_if_match(if_match, row)
    result = apply_patch(schema, row.doc, message["Operations"], resource_id=rid)
    if unlocked and (result.doc != row.doc or any(c.kind not in ("add", "remove") for c in result.members)):
        with directory_errors():
            directory.lock_group(row)
        result = apply_patch(schema, row.doc, message["Operations"], resource_id=rid)
        unlocked = False
    doc = validated(schema, result.doc)
    with directory_errors():
        if rtype == "User":
            directory.replace_user(row, doc)
            return row
        if unlocked:
            if len(result.members) == 1 and result.members[0].kind == "add":  # (the common case)
                directory.add_members_and_bump(row, result.members[0].members)
                return row
            member_changed = False
            for change in result.members:
                member_changed = _apply_member_change(row, change, schema) or member_changed
            if member_changed:
                directory.bump_group_version(row)
            return row
        changed = False
        if doc != row.doc:
            changed = directory.replace_group(row, doc, None)
        member_changed = False
        for change in result.members:
            member_changed = _apply_member_change(row, change, schema) or member_changed
        if member_changed and not changed:
            directory.touch_group(row)
    return row


def _apply_member_change(group: Group, change, schema) -> bool:
    kind = change.kind
    if kind == "add":
        return directory.add_members(group, change.members, touch=False)
    if kind == "replace":
        return directory.replace_members(group, change.members, touch=False)
    if kind == "remove":
        return directory.remove_members(group, [m["value"] for m in change.members], touch=False)
    if kind == "remove_all":
        return directory.remove_all_members(group, touch=False)
    if kind == "remove_where":
        # A filter on something other than the member id: one group's members, matched in memory.
        defn = schema.lookup(None, "members")
        ids = [m["value"] for m in memberships.member_ids_matching(group) if matches(m, change.filter, defn)]
        return directory.remove_members(group, ids, touch=False)
    raise ValueError(f"unknown member change {kind}")


def delete(ctx: Context, rtype: str, rid: str, if_match: str | None = None) -> None:
    """DELETE (RFC 7644 §3.6)."""
    row = get(ctx, rtype, rid, for_update=True)
    check_if_match(if_match, row)
    if rtype == "User":
        directory.delete_user(row)
    else:
        directory.delete_group(row)
