"""The import's writes, in the current transaction: a batch of users (with the memberships their
rows name) or of groups, as a few statements over many rows (SQLAlchemy Core executemany, never an
ORM object per row), and what every directory write does besides:

- the changes noted for the tenant (pdp/changes.py `note`): one revision advance per transaction,
  whose change-log rows (`user`, `group`, and `member` per membership or `members` for a group
  that gained more than MEMBER_CHANGES_LOGGED, as directory/service.py writes them) let each
  instance's engine catch up with what the batch touched;
- the tenant's user and group counts, changed by the rows created (`adjust_counts`);
- one entry in the administrative change log (`directory.import`), by the current actor;
- access history, which the database's triggers write for every inserted or changed row.

Rows are stamped as the directory's create_user and create_group stamp them: a uuid4 id, version
1, created and lastModified now.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from scim_authz.authz.changes import GROUP, MEMBER, MEMBERS, USER, member_ref
from scim_authz.db.extensions import db
from scim_authz.db.models import Group, GroupMember, User, utcnow
from scim_authz.directory.service import MEMBER_CHANGES_LOGGED
from scim_authz.governance import changelog
from scim_authz.pdp.changes import adjust_counts, note

USERS, GROUPS, MEMBERSHIPS = User.__table__, Group.__table__, GroupMember.__table__
CHUNK = 1000  # values per IN list: well under every driver's limit on bound parameters
ACTION = "directory.import"
SAMPLE = 20  # names an entry of the change log lists; it counts them all


@dataclass
class UserRow:
    """A validated user row: its document and columns, and the groups it names (by lowercased
    displayName, with the columns of the group to create if it is missing)."""

    location: str
    doc: dict
    columns: dict
    groups: dict[str, dict] = field(default_factory=dict)


@dataclass
class GroupRow:
    """A validated group document, and its members as the input names them."""

    location: str
    doc: dict
    columns: dict
    members: list[dict]


@dataclass
class Written:
    """What one transaction wrote (and found already there)."""

    users_created: int = 0
    users_updated: int = 0
    users_present: int = 0
    groups_created: int = 0
    groups_updated: int = 0
    groups_present: int = 0
    memberships_added: int = 0
    memberships_present: int = 0
    names: list[str] = field(default_factory=list)  # userNames or displayNames written, the first SAMPLE

    def counts(self) -> dict:
        return {k: v for k, v in vars(self).items() if k != "names" and v}


def new_ids(n: int) -> Iterator[str]:
    """n ids as models.new_id makes them (random UUIDs, version 4), from one read of the system's
    random source rather than one each."""
    random = os.urandom(16 * n)
    for i in range(0, 16 * n, 16):
        yield str(uuid.UUID(bytes=random[i:i + 16], version=4))


def _chunks(items: list, n: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _insert_new(table, unique: list[str] | None = None):
    """INSERT that skips the rows whose key (`unique`'s columns, else the primary key) is taken."""
    insert_ = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert_(table).on_conflict_do_nothing(index_elements=unique)


def log_batch(tenant_id: int, source: str, span: str, written: Written) -> None:
    """The transaction's one entry in the administrative change log: what it wrote, the rows it
    came from, the first names it wrote (none when it wrote nothing)."""
    counts = written.counts()
    if not any(v for k, v in counts.items() if not k.endswith("_present")):
        return
    changelog.record(tenant_id, ACTION, f"{source} {span}".strip(),
                     after={**counts, "rows": span, "first": written.names[:SAMPLE]})


# ---- users -----------------------------------------------------------------------------------

def write_users(tenant_id: int, rows: list[UserRow], *, replace: bool) -> Written:
    """Create the rows' users that are missing (by userName, case-insensitively), replace the
    documents of those present when `replace` and they differ, create the groups the rows name that
    are missing (by displayName), and add the memberships that are missing. One statement per kind
    of write, whatever the batch's size.

    Users are inserted first and the unique index on (tenant, lowercased userName) skips those
    there already (ON CONFLICT DO NOTHING): no look-up by name precedes the insert, so a first
    import depends on no planner statistics, and a user a concurrent writer created meanwhile is
    simply one already present. Only those present are looked up (for their memberships)."""
    now, out = utcnow(), Written()
    names = [r.columns["user_name_ci"] for r in rows]
    found = _users_by_name(tenant_id, names, with_docs=True) if replace else {}
    candidates = [r for r in rows if r.columns["user_name_ci"] not in found]
    fresh = new_ids(len(candidates))
    rows_in = [{"id": next(fresh), "tenant_id": tenant_id, **r.columns, "app_attributes": {}, "version": 1,
                "created": now, "last_modified": now} for r in candidates]
    created: dict[str, str] = {}  # lowercased userName -> id, of the users this batch created
    if rows_in:
        db.session.execute(_insert_new(USERS, ["tenant_id", "user_name_ci"]), rows_in)
        # Which went in: those of our fresh ids the table holds (by primary key; RETURNING would
        # make PostgreSQL's driver send multi-row statements instead of one pipelined insert).
        ids_in = _existing_ids([u["id"] for u in rows_in])
        created = {u["user_name_ci"]: u["id"] for u in rows_in if u["id"] in ids_in}
        adjust_counts(tenant_id, users=len(created))
    missed = [ci for ci in names if ci not in created and ci not in found]
    if missed:  # present (a re-run), or created by a concurrent writer since `found` was read
        found.update(_users_by_name(tenant_id, missed, with_docs=replace))
    changed = [{f"b_{k}": v for k, v in r.columns.items() if k != "user_name_ci"} | {"b_id": found[ci].id}
               for r in rows if (ci := r.columns["user_name_ci"]) in found and replace and found[ci].doc != r.doc]
    if changed:
        db.session.execute(update(USERS).where(USERS.c.id == bindparam("b_id")).values(
            {c: bindparam(f"b_{c}", type_=USERS.c[c].type) for c in ("user_name", "external_id", "active",
                                                                       "display_name", "doc")}
            | {"version": USERS.c.version + 1, "last_modified": now}), changed)
    new_ids_in_order = [u["id"] for u in rows_in if created.get(u["user_name_ci"]) == u["id"]]
    if new_ids_in_order or changed:  # (before the memberships: an engine catching up meets the user first)
        note(tenant_id, USER, new_ids_in_order + [c["b_id"] for c in changed])
    out.users_created, out.users_updated = len(created), len(changed)
    out.users_present = len(rows) - len(created) - len(changed)
    out.names = [u["user_name"] for u in rows_in if u["user_name_ci"] in created][:SAMPLE] + \
        [c["b_user_name"] for c in changed[:SAMPLE]]

    wanted = {}
    for r in rows:
        wanted.update(r.groups)
    if wanted:
        ids = {**{ci: row.id for ci, row in found.items()}, **created}
        group_ids, new_groups = ensure_groups(tenant_id, wanted, now)
        out.groups_created = len(new_groups)
        pairs = [(group_ids[g], ids[ci], "User") for r in rows if (ci := r.columns["user_name_ci"]) in ids
                 for g in r.groups]  # (a user deleted by a concurrent writer since it was found: none)
        out.memberships_added, out.memberships_present = add_memberships(
            tenant_id, pairs, set(new_groups), known_new=set(created.values()), now=now)
    return out


def _existing_ids(ids: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(ids):
        found.update(db.session.execute(select(USERS.c.id).where(USERS.c.id.in_(chunk))).scalars())
    return found


def _users_by_name(tenant_id: int, names_ci: list[str], *, with_docs: bool) -> dict:
    cols = [USERS.c.id, USERS.c.user_name_ci] + ([USERS.c.doc] if with_docs else [])
    found = {}
    for chunk in _chunks(sorted(set(names_ci))):
        for row in db.session.execute(select(*cols).where(USERS.c.tenant_id == tenant_id,
                                                          USERS.c.user_name_ci.in_(chunk))):
            found[row.user_name_ci] = row
    return found


# ---- groups ----------------------------------------------------------------------------------

def ensure_groups(tenant_id: int, wanted: dict[str, dict], now) -> tuple[dict[str, str], list[str]]:
    """The ids of the groups named (lowercased displayName -> the columns to create it with),
    creating the missing ones; ({name: id}, the ids created)."""
    ids = groups_by_name(tenant_id, wanted)
    created = []
    fresh = new_ids(len(wanted) - len(ids))
    for ci, columns in wanted.items():
        if ci not in ids:
            ids[ci] = next(fresh)
            created.append({"id": ids[ci], "tenant_id": tenant_id, **columns, "version": 1, "created": now,
                            "last_modified": now})
    if created:
        db.session.execute(insert(GROUPS), created)
        adjust_counts(tenant_id, groups=len(created))
        note(tenant_id, GROUP, [c["id"] for c in created])
    return ids, [c["id"] for c in created]


def groups_by_name(tenant_id: int, names_ci: Iterable[str]) -> dict[str, str]:
    """Lowercased displayName -> id, for those of `names_ci` the tenant has."""
    out = {}
    for chunk in _chunks(sorted(set(names_ci))):
        out.update(tuple(r) for r in db.session.execute(select(GROUPS.c.display_name_ci, GROUPS.c.id).where(
            GROUPS.c.tenant_id == tenant_id, GROUPS.c.display_name_ci.in_(chunk))))
    return out


def write_groups(tenant_id: int, rows: list[GroupRow], *, replace: bool) -> tuple[dict[str, str], Written]:
    """Create the groups that are missing (by displayName), replace the documents of those present
    when `replace` and they differ; ({lowercased displayName: id}, what was written)."""
    now, out = utcnow(), Written()
    found = {}
    names = [r.columns["display_name_ci"] for r in rows]
    for chunk in _chunks(sorted(set(names))):
        for row in db.session.execute(select(GROUPS.c.id, GROUPS.c.display_name_ci, GROUPS.c.doc).where(
                GROUPS.c.tenant_id == tenant_id, GROUPS.c.display_name_ci.in_(chunk))):
            found[row.display_name_ci] = row
    ids, created, changed = {}, [], []
    fresh = new_ids(len(rows) - len(found))
    for r in rows:
        ci = r.columns["display_name_ci"]
        row = found.get(ci)
        if row is None:
            ids[ci] = next(fresh)
            created.append({"id": ids[ci], "tenant_id": tenant_id, **r.columns, "version": 1, "created": now,
                            "last_modified": now})
        else:
            ids[ci] = row.id
            if replace and row.doc != r.doc:
                changed.append({f"b_{k}": v for k, v in r.columns.items() if k != "display_name_ci"} | {"b_id": row.id})
    if created:
        db.session.execute(insert(GROUPS), created)
        adjust_counts(tenant_id, groups=len(created))
    if changed:
        db.session.execute(update(GROUPS).where(GROUPS.c.id == bindparam("b_id")).values(
            {c: bindparam(f"b_{c}", type_=GROUPS.c[c].type) for c in ("display_name", "external_id", "doc")}
            | {"version": GROUPS.c.version + 1, "last_modified": now}), changed)
    if created or changed:
        note(tenant_id, GROUP, [c["id"] for c in created] + [c["b_id"] for c in changed])
    out.groups_created, out.groups_updated = len(created), len(changed)
    out.groups_present = len(rows) - len(created) - len(changed)
    out.names = [c["display_name"] for c in created[:SAMPLE]] + [c["b_display_name"] for c in changed[:SAMPLE]]
    return ids, out


# ---- memberships -----------------------------------------------------------------------------

def add_memberships(tenant_id: int, pairs: list[tuple[str, str, str]], created_groups: set[str], *,
                    known_new: set[str] = frozenset(), now=None) -> tuple[int, int]:
    """Add the memberships (group id, member id, "User" | "Group") that are missing; members in
    `known_new` (created by this transaction) have none yet, so only the others are looked up.
    Each group that gains a member gets a new version, as a SCIM PATCH gives it, unless this
    transaction created it. Returns (added, already present)."""
    now = now or utcnow()
    pairs = list(dict.fromkeys(pairs))
    present = set()  # (by member: the index on member_id finds each one's few groups)
    for chunk in _chunks(sorted({m for _, m, _ in pairs if m not in known_new})):
        present.update(tuple(r) for r in db.session.execute(select(
            MEMBERSHIPS.c.group_id, MEMBERSHIPS.c.member_id).where(MEMBERSHIPS.c.member_id.in_(chunk))))
    new = [p for p in pairs if (p[0], p[1]) not in present]
    if new:
        # A member this transaction created has no membership anyone else could have added: a plain
        # insert. Others skip duplicates all the same: a concurrent PATCH may add one meanwhile.
        for plain in (True, False):
            rows = [{"group_id": g, "member_id": m, "member_type": t, "tenant_id": tenant_id, "added": now}
                    for g, m, t in new if (m in known_new) is plain]
            if rows:
                db.session.execute(insert(MEMBERSHIPS) if plain else _insert_new(MEMBERSHIPS), rows)
        bumped = sorted({g for g, _, _ in new} - created_groups)
        for chunk in _chunks(bumped):
            db.session.execute(update(GROUPS).where(GROUPS.c.id.in_(chunk))
                               .values(version=GROUPS.c.version + 1, last_modified=now))
        _note_members(tenant_id, new)
    return len(new), len(pairs) - len(new)


def _note_members(tenant_id: int, added: list[tuple[str, str, str]]) -> None:
    """One `member` change per membership added, or one `members` change for a group that gained
    more than MEMBER_CHANGES_LOGGED (each instance then re-reads that group's members), as the
    directory service logs a write's members."""
    by_group: dict[str, list[str]] = {}
    for g, m, _ in added:
        by_group.setdefault(g, []).append(m)
    many = sorted(g for g, ms in by_group.items() if len(ms) > MEMBER_CHANGES_LOGGED)
    if many:
        note(tenant_id, MEMBERS, many)
    few = [member_ref(g, m) for g, ms in by_group.items() if len(ms) <= MEMBER_CHANGES_LOGGED for m in ms]
    if few:
        note(tenant_id, MEMBER, few)


def group_edges(tenant_id: int) -> dict[str, set[str]]:
    """group id -> the ids of the groups that are its direct members (nesting)."""
    edges: dict[str, set[str]] = {}
    for g, m in db.session.execute(select(MEMBERSHIPS.c.group_id, MEMBERSHIPS.c.member_id).where(
            MEMBERSHIPS.c.tenant_id == tenant_id, MEMBERSHIPS.c.member_type == "Group")):
        edges.setdefault(g, set()).add(m)
    return edges


def users_by_keys(tenant_id: int, keys: set[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Users a group's members name: (lowercased userName -> id, externalId -> ids) for `keys`."""
    by_name: dict[str, str] = {}
    for chunk in _chunks(sorted({k.lower() for k in keys})):
        by_name.update(tuple(r) for r in db.session.execute(select(USERS.c.user_name_ci, USERS.c.id).where(
            USERS.c.tenant_id == tenant_id, USERS.c.user_name_ci.in_(chunk))))
    by_external: dict[str, list[str]] = {}
    for chunk in _chunks(sorted(keys)):
        for ext, uid in db.session.execute(select(USERS.c.external_id, USERS.c.id).where(
                USERS.c.tenant_id == tenant_id, USERS.c.external_id.in_(chunk))):
            by_external.setdefault(ext, []).append(uid)
    return by_name, by_external


def refresh_statistics() -> bool:
    """PostgreSQL: ANALYZE the directory's tables, so the planner sees the rows an import has added
    at once. Without it, until autovacuum's own analyze (a minute later, if it is on at all),
    look-ups by userName in a tenant that was empty when the statistics were taken read all of its
    rows instead of using the unique index: a second run of the import, or SCIM filters. False on
    SQLite, which needs none."""
    if db.session.get_bind().dialect.name != "postgresql":
        return False
    db.session.execute(text("ANALYZE users, groups, group_members"))
    return True
