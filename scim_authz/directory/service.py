"""Users, groups and memberships: every write bumps the tenant revision in the same transaction.

Membership changes touch only the rows they change, so adding one member to a group of 100,000
is one insert (and one update of the group's version), never a rewrite of the list. Who is in
which group is read by membership_reads.py.
"""
from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager
from types import SimpleNamespace

from sqlalchemy import ARRAY, String, bindparam, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from scim_authz.authz.changes import GROUP, MEMBER, MEMBERS, USER, member_ref
from scim_authz.db.extensions import db
from scim_authz.db.models import Group, GroupMember, User, new_id, utcnow
from scim_authz.db.prepared import prepared, run
from scim_authz.directory.errors import (
    Conflict,
    InvalidMembership,
    ResourceNotFound,
    UnknownMembers,
    ValueTooLong,
)
from scim_authz.directory.membership_reads import parent_closure
from scim_authz.pdp.changes import adjust_counts, note

# ---- users -----------------------------------------------------------------------------------

def get_user(tenant_id: int, user_id: str, *, for_update: bool = False) -> User:
    """The tenant's user with this id, or ResourceNotFound; `for_update` locks the row until the
    transaction ends, so concurrent writers take turns and no version is lost."""
    user = db.session.get(User, user_id, with_for_update=for_update or None)
    if user is None or user.tenant_id != tenant_id:
        raise ResourceNotFound(f"User {user_id} not found")
    return user


def read_user(tenant_id: int, user_id: str, *, for_update: bool = False) -> SimpleNamespace:
    """The tenant's user with this id, its columns read into a plain object (to render, or to
    change with replace_user), or ResourceNotFound; `for_update` as for get_user."""
    def build():
        table = User.__table__
        stmt = select(table).where(table.c.id == bindparam("id"), table.c.tenant_id == bindparam("tenant_id"))
        return stmt.with_for_update() if for_update else stmt
    row = run(prepared(("user.by_id", for_update), build), {"id": user_id, "tenant_id": tenant_id}).first()
    if row is None:
        raise ResourceNotFound(f"User {user_id} not found")
    return SimpleNamespace(**row._mapping)


# The longest value each indexed column keeps (db/models.py); the whole document is kept as JSON.
MAX_LENGTH = 256


def _fits(doc: dict, *names: str) -> None:
    for name in names:
        value = doc.get(name)
        if isinstance(value, str) and len(value) > MAX_LENGTH:
            raise ValueTooLong(f"{name} is {len(value)} characters long; at most {MAX_LENGTH} are kept")


def user_columns(doc: dict) -> dict:
    _fits(doc, "userName", "externalId", "displayName")
    name = doc["userName"]
    return {"user_name": name, "user_name_ci": name.lower(), "external_id": doc.get("externalId"),
            "active": doc.get("active", True) is not False, "display_name": doc.get("displayName"), "doc": doc}


def _check_name_free(column, tenant_id: int, name: str, what: str, except_id: str | None = None) -> None:
    """`name` is not another row's in the tenant (a unique *_ci column, compared lowercased)."""
    found = db.session.execute(select(column.table.c.id).where(
        column.table.c.tenant_id == tenant_id, column == name.lower())).scalar_one_or_none()
    if found is not None and found != except_id:
        raise Conflict(f"{what} {name!r} is already in use in this tenant")


@contextmanager
def _unique(what: str = "userName"):
    """Turn a unique-index race (or a name taken, found by the insert itself) into Conflict rather
    than a 500 (the request's transaction is rolled back whole; a bulk operation has a savepoint of
    its own)."""
    try:
        yield
    except IntegrityError as e:
        raise Conflict(f"{what} is already in use in this tenant") from e


def insert_user(tenant_id: int, doc: dict) -> SimpleNamespace:
    """Create a user from a validated document; its columns, to render (not an object of the
    session: `create_user` gives one). A userName in use is found by the unique index on the insert
    itself (no look-up first: one round trip less per create)."""
    now = utcnow()
    row = {"id": new_id(), "tenant_id": tenant_id, "version": 1, "created": now, "last_modified": now,
           "app_attributes": {}, **user_columns(doc)}
    with _unique():
        # A Core INSERT built once: a fifth of the cost of the ORM's unit of work on the most
        # frequent SCIM write.
        run(prepared("user.insert", lambda: insert(User.__table__)), row)
    note(tenant_id, USER, [row["id"]])
    adjust_counts(tenant_id, users=1)
    return SimpleNamespace(**row)


def create_user(tenant_id: int, doc: dict) -> User:
    """Create a user from a validated document, as an object of the session (inserted already)."""
    user = User(**vars(insert_user(tenant_id, doc)))
    make_transient_to_detached(user)
    db.session.add(user)
    return user


def replace_user(user: User | SimpleNamespace, doc: dict) -> bool:
    """Replace a user's document; False (and no version bump) when nothing changed. `user` is an
    object of the session or what read_user gave; either way its fields are updated in place."""
    if doc == user.doc:
        return False
    if doc["userName"].lower() != user.user_name_ci:
        _check_name_free(User.user_name_ci, user.tenant_id, doc["userName"], "userName", except_id=user.id)
    values = {**user_columns(doc), "version": user.version + 1, "last_modified": utcnow()}
    with _unique():
        # A Core UPDATE built once (the columns named by the parameters): what the ORM's flush of
        # the same change would send, without its unit of work.
        run(prepared("user.update", lambda: update(User.__table__).where(User.__table__.c.id == bindparam("user_id"))),
            {"user_id": user.id, **values})
    _set(user, **values)
    note(user.tenant_id, USER, [user.id])
    return True


def delete_user(user: User) -> None:
    """Delete a user and its memberships."""
    db.session.execute(delete(GroupMember).where(GroupMember.member_id == user.id))
    db.session.delete(user)
    db.session.flush()
    note(user.tenant_id, USER, [user.id])
    adjust_counts(user.tenant_id, users=-1)


# ---- groups ----------------------------------------------------------------------------------

def get_group(tenant_id: int, group_id: str, *, for_update: bool = False) -> Group:
    """The tenant's group with this id, or ResourceNotFound (`for_update`: see get_user)."""
    group = db.session.get(Group, group_id, with_for_update=for_update or None)
    if group is None or group.tenant_id != tenant_id:
        raise ResourceNotFound(f"Group {group_id} not found")
    return group


def lock_group(group: Group) -> None:
    """Lock the row of a group read without its lock, reading it again (ResourceNotFound if it was
    deleted meanwhile)."""
    if db.session.get(Group, group.id, with_for_update=True, populate_existing=True) is None:
        raise ResourceNotFound(f"Group {group.id} not found")


def group_columns(doc: dict) -> dict:
    _fits(doc, "displayName", "externalId")
    return {"display_name": doc["displayName"], "display_name_ci": doc["displayName"].lower(),
            "external_id": doc.get("externalId"), "doc": doc}


def create_group(tenant_id: int, doc: dict, members: list[dict] | None = None) -> SimpleNamespace:
    """Create a group, with its initial members; its columns and `members_added` (to render, not
    an object of the session). A displayName in use is found by the unique index on the insert
    itself: group displayNames are unique per tenant, case-insensitively, as Microsoft Entra ID's
    provisioning requires (SCIM itself does not), and a role mapped by name must name one group."""
    now = utcnow()
    row = {"id": new_id(), "tenant_id": tenant_id, "version": 1, "created": now, "last_modified": now,
           **group_columns(doc)}
    with _unique("displayName"):
        run(prepared("group.insert", lambda: insert(Group.__table__)), row)
    group = SimpleNamespace(**row, members_added=0)
    note(tenant_id, GROUP, [group.id])
    adjust_counts(tenant_id, groups=1)
    if members:
        group.members_added = _insert_members(group, members)
    return group


def replace_group(group: Group, doc: dict, members: list[dict] | None) -> bool:
    """Replace a group's attributes, and its members when `members` is not None."""
    changed = False
    if doc != group.doc:
        if doc["displayName"].lower() != group.display_name_ci:
            _check_name_free(Group.display_name_ci, group.tenant_id, doc["displayName"], "displayName",
                             except_id=group.id)
        for k, v in group_columns(doc).items():
            setattr(group, k, v)
        with _unique("displayName"):
            db.session.flush()
        note(group.tenant_id, GROUP, [group.id])
        changed = True
    if members is not None:
        changed = replace_members(group, members, touch=False) or changed
    if changed:
        touch_group(group)
    return changed


def delete_group(group: Group) -> None:
    """Delete a group, its memberships, and its place in other groups."""
    db.session.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
    db.session.execute(delete(GroupMember).where(GroupMember.member_id == group.id))
    db.session.delete(group)
    db.session.flush()
    note(group.tenant_id, GROUP, [group.id])
    adjust_counts(group.tenant_id, groups=-1)


def touch_group(group: Group) -> None:
    """New version and lastModified for a group."""
    group.version += 1
    group.last_modified = utcnow()


def bump_group_version(group: Group) -> None:
    """New version and lastModified for a group whose row this transaction has not locked, in one
    atomic UPDATE: concurrent membership changes each get a version of their own, and the row is
    locked only from here to the commit. ResourceNotFound if the group was deleted meanwhile."""
    def build():
        table = Group.__table__
        return (update(table).where(table.c.id == bindparam("group_id"))
                .values(version=table.c.version + 1, last_modified=bindparam("now"))
                .returning(table.c.version, table.c.last_modified))
    db.session.flush()  # (a change of this transaction to the group's row goes first)
    row = run(prepared("group.bump", build), {"group_id": group.id, "now": utcnow()}).one_or_none()
    if row is None:
        raise ResourceNotFound(f"Group {group.id} not found")
    _set(group, version=row[0], last_modified=row[1])


def _set(obj, **values) -> None:
    """Put what a Core statement wrote on the object it was about: an object of the session (as
    loaded, not as a pending change) or a row read into a plain object."""
    for name, value in values.items():
        if isinstance(obj, (User, Group)):
            set_committed_value(obj, name, value)
        else:
            setattr(obj, name, value)


# ---- memberships -----------------------------------------------------------------------------

# Ids bound in one statement: under SQLite's limit on a statement's parameters (999 before 3.32),
# so a PATCH naming 10,000 members is a dozen set-based statements, not 10,000 nor one too many.
IDS_PER_STATEMENT = 900
# A write that adds or removes more of one group's members than this logs one MEMBERS change for
# the group (each instance re-reads its members) instead of one change per member. Up to it, one
# change per member is cheaper for the instances catching up (they read only those memberships, and
# keep every other member's cached grants), and a batch stays far from the engine's full reload
# (authz/engine.py, 50,000 changes).
MEMBER_CHANGES_LOGGED = 10_000


def _chunks(ids: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), IDS_PER_STATEMENT):
        yield ordered[start:start + IDS_PER_STATEMENT]


def _note_members(group: Group, changed: list[str]) -> None:
    """Log the members of `group` added or removed by one write: one change per member, or one for
    the group when there are many."""
    if len(changed) > MEMBER_CHANGES_LOGGED:
        note(group.tenant_id, MEMBERS, [group.id])
    elif changed:
        note(group.tenant_id, MEMBER, [member_ref(group.id, m) for m in changed])


def _resolve_members(tenant_id: int, ids: Iterable[str]) -> dict[str, str]:
    """member id -> "User" | "Group" for ids of this tenant; UnknownMembers for the rest."""
    ids = set(ids)
    if not ids:
        return {}
    found = {i: "User" for chunk in _chunks(ids) for i in _ids_of(User, tenant_id, chunk)}
    rest = ids - found.keys()
    if rest:
        found.update({i: "Group" for chunk in _chunks(rest) for i in _ids_of(Group, tenant_id, chunk)})
    missing = ids - found.keys()
    if missing:
        raise UnknownMembers(missing)
    return found


def _ids_of(model, tenant_id: int, ids: list[str]) -> list[str]:
    """Which of `ids` are the tenant's users (model User) or groups (Group)."""
    def build():
        table = model.__table__
        return select(table.c.id).where(table.c.tenant_id == bindparam("tenant_id"),
                                        table.c.id.in_(bindparam("ids", expanding=True)))
    return run(prepared(("ids.of", model.__name__), build), {"tenant_id": tenant_id, "ids": ids}).scalars().all()


def _check_no_cycle(group: Group, new_group_members: set[str]) -> None:
    """Refuse a nesting that would make a group (transitively) a member of itself."""
    if group.id in new_group_members:
        raise InvalidMembership("a group cannot be a member of itself")
    if not new_group_members:
        return
    # Walk up from `group`, every level: if any new member is an ancestor, adding it closes a cycle.
    ancestors = parent_closure(group.tenant_id, {group.id}, {}, max_depth=None)
    reachable = set().union(*ancestors.values()) if ancestors else set()
    if reachable & new_group_members:
        raise InvalidMembership("nesting these groups would make a cycle")


def _insert_members(group: Group, members: list[dict]) -> int:
    ids = {m["value"] for m in members}
    kinds = _resolve_members(group.tenant_id, ids)
    _check_no_cycle(group, {i for i, k in kinds.items() if k == "Group"})
    if not ids:
        return 0
    now = utcnow()
    rows = [{"group_id": group.id, "member_id": i, "member_type": kinds[i], "tenant_id": group.tenant_id,
             "added": now} for i in sorted(ids)]
    # Members already in are skipped by the insert itself (no look-up first: one round trip less,
    # and two requests adding the same member at once both succeed); it names those it added.
    dialect = db.session.get_bind().dialect.name
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = prepared(("members.insert", dialect), lambda: insert_(GroupMember.__table__).on_conflict_do_nothing(
        index_elements=["group_id", "member_id"]).returning(GroupMember.__table__.c.member_id))
    try:
        added = sorted(run(stmt, rows).scalars())
    except IntegrityError as e:  # the group itself was deleted by a concurrent request
        raise ResourceNotFound(f"Group {group.id} not found") from e
    _note_members(group, added)
    return len(added)


def add_members(group: Group, members: list[dict], *, touch: bool = True) -> bool:
    """Add members (ignoring those already in); one insert per new member, nothing else loaded."""
    added = _insert_members(group, members) > 0
    if added and touch:
        touch_group(group)
    return added


# PostgreSQL: resolving the new members, inserting those not yet in and bumping the group's version
# (only when something was added) in one statement, for a PATCH that holds no lock on the group.
_PG_ADD_AND_BUMP = text(
    "WITH found AS (SELECT id, 'User' AS member_type FROM users WHERE tenant_id = :t AND id = ANY(:ids) "
    "UNION ALL SELECT id, 'Group' FROM groups WHERE tenant_id = :t AND id = ANY(:ids)), "
    "added AS (INSERT INTO group_members (group_id, member_id, member_type, tenant_id, added) "
    "SELECT :g, id, member_type, :t, :now FROM found ORDER BY id "
    "ON CONFLICT (group_id, member_id) DO NOTHING RETURNING member_id), "
    "bumped AS (UPDATE groups SET version = version + 1, last_modified = :now "
    "WHERE id = :g AND EXISTS (SELECT 1 FROM added) RETURNING version, last_modified) "
    "SELECT 'found', id, member_type, CAST(NULL AS integer), CAST(NULL AS timestamp) FROM found "
    "UNION ALL SELECT 'added', member_id, NULL, NULL, NULL FROM added "
    "UNION ALL SELECT 'bumped', NULL, NULL, version, last_modified FROM bumped").bindparams(
    bindparam("ids", type_=ARRAY(String)))


def add_members_and_bump(group: Group, members: list[dict]) -> bool:
    """Add members to a group this transaction has not locked and, if any was added, bump its
    version (as bump_group_version); True if any was added. On PostgreSQL one round trip."""
    if db.session.get_bind().dialect.name != "postgresql":
        added = add_members(group, members, touch=False)
        if added:
            bump_group_version(group)
        return added
    ids = sorted({m["value"] for m in members})
    if not ids:
        return False
    try:
        rows = db.session.execute(_PG_ADD_AND_BUMP, {"t": group.tenant_id, "g": group.id, "ids": ids,
                                                     "now": utcnow()}).all()
    except IntegrityError as e:  # the group itself was deleted by a concurrent request
        raise ResourceNotFound(f"Group {group.id} not found") from e
    kinds = {r[1]: r[2] for r in rows if r[0] == "found"}
    missing = set(ids) - kinds.keys()
    if missing:
        raise UnknownMembers(missing)  # (the request's transaction, or its /Bulk savepoint, is undone)
    _check_no_cycle(group, {i for i, k in kinds.items() if k == "Group"})
    added = sorted(r[1] for r in rows if r[0] == "added")
    for r in rows:
        if r[0] == "bumped":
            set_committed_value(group, "version", r[3])
            set_committed_value(group, "last_modified", r[4])
    _note_members(group, added)
    return bool(added)


def remove_members(group: Group, ids: Iterable[str], *, touch: bool = True) -> bool:
    """Remove these members (absent ones are ignored): set-based deletes of a few hundred ids each,
    which name the members they removed; one change logged for the whole batch."""
    table = GroupMember.__table__
    removed: list[str] = []
    for chunk in _chunks(set(ids)):
        removed += db.session.execute(
            delete(table).where(table.c.group_id == group.id, table.c.member_id.in_(chunk))
            .returning(table.c.member_id)).scalars()
    _note_members(group, sorted(removed))
    if removed and touch:
        touch_group(group)
    return bool(removed)


def remove_all_members(group: Group, *, touch: bool = True) -> bool:
    """Empty the group."""
    n = db.session.execute(delete(GroupMember).where(GroupMember.group_id == group.id)).rowcount
    if n:
        note(group.tenant_id, MEMBERS, [group.id])
    if n and touch:
        touch_group(group)
    return bool(n)


def replace_members(group: Group, members: list[dict], *, touch: bool = True) -> bool:
    """Make the members exactly these: delete the ones not listed, insert the new ones."""
    want = {m["value"] for m in members}
    have = set(db.session.execute(select(GroupMember.member_id).where(GroupMember.group_id == group.id)).scalars())
    changed = remove_members(group, have - want, touch=False)
    changed = (_insert_members(group, [{"value": i} for i in want - have]) > 0) or changed
    if changed and touch:
        touch_group(group)
    return changed
