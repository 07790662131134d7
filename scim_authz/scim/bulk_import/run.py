"""An import from start to end: records validated in Python as they are read, users written in
batches of `batch_size` rows, each batch one transaction (its own revision and change log entry),
then the groups the input holds and their members. A row that fails is reported through
`on_problem` and left out; the rest go on. Committed batches stay committed whatever comes after,
so a run stopped half-way is finished by running it again: what is in is skipped.

Users come first, so that groups can name them; a group's members are found by userName, by
externalId, or (other groups) by displayName, in the tenant as it stands after the users went in.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from scim_authz.db.txn import transaction
from scim_authz.scim.bulk_import import writer
from scim_authz.scim.bulk_import.errors import Problem, RowError
from scim_authz.scim.bulk_import.sources import GROUP, Record
from scim_authz.scim.bulk_import.validate import group_document, group_named, user_document
from scim_authz.scim.bulk_import.writer import GroupRow, UserRow, Written

DEFAULT_BATCH = 5000
log = logging.getLogger("scim_authz.directory.import")


@dataclass(frozen=True)
class Options:
    replace: bool = False  # --update: a user (or group) already present gets the input's document
    batch_size: int = DEFAULT_BATCH
    source: str = ""  # the input's name, in the change log


@dataclass
class Summary:
    """Counts of a run."""

    users_created: int = 0
    users_updated: int = 0
    users_present: int = 0
    users_failed: int = 0
    groups_created: int = 0
    groups_updated: int = 0
    groups_present: int = 0
    groups_failed: int = 0
    memberships_added: int = 0
    memberships_present: int = 0
    memberships_failed: int = 0
    unreadable: int = 0
    transactions: int = 0

    def add(self, w: Written) -> None:
        for k, v in vars(w).items():
            if k != "names":
                setattr(self, k, getattr(self, k) + v)

    @property
    def users(self) -> int:
        return self.users_created + self.users_updated + self.users_present + self.users_failed

    @property
    def failed(self) -> int:
        return self.users_failed + self.groups_failed + self.memberships_failed + self.unreadable


@dataclass
class _Batch:
    """User rows validated, and what was wrong with the others read for them."""

    rows: list[UserRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    read: int = 0
    failed: int = 0
    unreadable: int = 0


class Importer:
    """One run into one tenant."""

    def __init__(self, tenant_id: int, options: Options, *, on_progress: Callable[[int], None] | None = None,
                 on_problem: Callable[[Problem], None] | None = None):
        self.tenant_id, self.options = tenant_id, options
        self.on_progress = on_progress or (lambda n: None)
        self.on_problem = on_problem or (lambda p: None)
        self.summary = Summary()
        self._seen: dict[str, str] = {}  # lowercased userName -> where it first was
        self._group_columns: dict[str, dict] = {}  # lowercased displayName -> columns, for CSV's groups
        self._unanalyzed = 0  # rows created since the planner's statistics were last refreshed

    def run(self, records: Iterable[Record]) -> Summary:
        """Import `records`: users batch by batch, then groups. (Validating the next batch in a
        thread while one is written was measured: no faster, the GIL being held by both.)"""
        groups: list[Record] = []
        for batch in self._batches(records, groups):
            for p in batch.problems:
                self.on_problem(p)
            self.summary.users_failed += batch.failed
            self.summary.unreadable += batch.unreadable
            if batch.rows:
                self._write_users(batch.rows)
            self.on_progress(batch.read)
        if groups:
            self._refresh_statistics()  # (the members are looked up among the users just created)
            self._import_groups(groups)
        self._refresh_statistics()
        return self.summary

    def _refresh_statistics(self) -> None:
        """After a batch's worth of new rows, let PostgreSQL's planner see them
        (writer.refresh_statistics), in a transaction of its own; an import goes on without when
        the database user may not (it does not own the tables)."""
        if self._unanalyzed < self.options.batch_size:
            return
        self._unanalyzed = 0
        try:
            with transaction(write=True):
                writer.refresh_statistics()
        except SQLAlchemyError as e:
            log.warning("the planner's statistics were not refreshed after the import: %s", e)

    # ---- users -----------------------------------------------------------------------------

    def _batches(self, records: Iterable[Record], groups: list[Record]) -> Iterator[_Batch]:
        """Batches of validated user rows, each with the problems of the rows read for it; group
        records are set aside in `groups` (written after every user)."""
        batch = _Batch()
        for rec in records:
            if rec.kind == GROUP and rec.unreadable is None:
                groups.append(rec)  # (counted as progress when they are written, after the users)
                continue
            batch.read += 1
            if rec.unreadable is not None:
                batch.unreadable += 1
                batch.problems.append(Problem(rec.location, rec.kind, "", rec.unreadable))
                continue
            row = self._user_row(rec, batch)
            if row is not None:
                batch.rows.append(row)
                if len(batch.rows) >= self.options.batch_size:
                    yield batch
                    batch = _Batch()
        yield batch

    def _user_row(self, rec: Record, batch: _Batch) -> UserRow | None:
        name = rec.body.get("userName") if isinstance(rec.body, dict) else None
        name = name if isinstance(name, str) else ""
        try:
            doc, columns = user_document(rec.body)
            groups = {g.lower(): self._group(g) for g in rec.groups}
            ci = columns["user_name_ci"]
            if ci in self._seen:
                raise RowError(f"userName is also on {self._seen[ci]}; one user each")
        except RowError as e:
            batch.failed += 1
            batch.problems.append(Problem(rec.location, "User", name, str(e)))
            return None
        self._seen[ci] = rec.location
        return UserRow(rec.location, doc, columns, groups)

    def _group(self, name: str) -> dict:
        ci = name.lower()
        if ci not in self._group_columns:
            try:
                self._group_columns[ci] = group_named(name)[1]
            except RowError as e:
                raise RowError(f"group {name!r}: {e}") from e
        return self._group_columns[ci]

    def _write_users(self, batch: list[UserRow]) -> None:
        span = _span(batch)

        def work() -> Written:
            w = writer.write_users(self.tenant_id, batch, replace=self.options.replace)
            writer.log_batch(self.tenant_id, self.options.source, span, w)
            return w
        self.summary.add(self._transaction(work))

    def _transaction(self, work: Callable[[], Written]) -> Written:
        """`work` in one write transaction, committed. On PostgreSQL a concurrent writer can create
        a group of the same displayName between this transaction's look-up and its insert: it is
        rolled back and run once more, when the look-up finds that group. (Users need no second
        run: their insert skips a userName taken meanwhile.)"""
        for attempt in (1, 2):
            try:
                with transaction(write=True):
                    written = work()
                self.summary.transactions += 1
                self._unanalyzed += written.users_created + written.groups_created + written.memberships_added
                return written
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # ---- groups ----------------------------------------------------------------------------

    def _import_groups(self, records: list[Record]) -> None:
        rows: list[GroupRow] = []
        seen: dict[str, str] = {}
        for rec in records:
            name = rec.body.get("displayName") if isinstance(rec.body, dict) else None
            name = name if isinstance(name, str) else ""
            try:
                doc, columns, members = group_document(rec.body)
            except RowError as e:
                self.summary.groups_failed += 1
                self._problem(rec.location, "Group", name, str(e))
                continue
            ci = columns["display_name_ci"]
            if ci in seen:
                self.summary.groups_failed += 1
                self._problem(rec.location, "Group", name, f"displayName is also on {seen[ci]}; one group each")
                continue
            seen[ci] = rec.location
            rows.append(GroupRow(rec.location, doc, columns, members))
        ids: dict[str, str] = {}
        for i in range(0, len(rows), self.options.batch_size):
            chunk = rows[i:i + self.options.batch_size]
            span = _span(chunk)

            def work(chunk=chunk, span=span) -> Written:
                found, w = writer.write_groups(self.tenant_id, chunk, replace=self.options.replace)
                ids.update(found)
                writer.log_batch(self.tenant_id, self.options.source, span, w)
                return w
            self.summary.add(self._transaction(work))
        pairs = self._resolve_members(rows, ids)
        for i in range(0, len(pairs), self.options.batch_size):
            chunk = pairs[i:i + self.options.batch_size]
            span = _span([loc for loc, _ in chunk])

            def add(chunk=chunk, span=span) -> Written:
                w = Written()
                w.memberships_added, w.memberships_present = writer.add_memberships(
                    self.tenant_id, [p for _, p in chunk], set())
                writer.log_batch(self.tenant_id, self.options.source, span, w)
                return w
            self.summary.add(self._transaction(add))
        self.on_progress(len(records))

    def _resolve_members(self, rows: list[GroupRow], ids: dict[str, str]) -> list[tuple[str, tuple]]:
        """(the group's location, (group id, member id, type)) for each member that names a user
        (userName, then externalId) or a group (displayName) of the tenant; a problem for each other."""
        keys = {m["value"] for r in rows for m in r.members if m.get("type") != "Group"}
        names = {m["value"].lower() for r in rows for m in r.members if m.get("type") != "User"} - ids.keys()
        with transaction(write=False):
            by_name, by_external = writer.users_by_keys(self.tenant_id, keys)
            groups = {**writer.groups_by_name(self.tenant_id, names), **ids}
            edges = writer.group_edges(self.tenant_id)
        out = []
        for r in rows:
            gid = ids[r.columns["display_name_ci"]]
            for m in r.members:
                value, kind = m["value"], m.get("type")
                try:
                    mid, mtype = _member(value, kind, by_name, by_external, groups)
                    if mtype == "Group":
                        _no_cycle(edges, gid, mid)
                        edges.setdefault(gid, set()).add(mid)
                except RowError as e:
                    self.summary.memberships_failed += 1
                    self._problem(r.location, "Member", value, f"of group {r.doc['displayName']!r}: {e}")
                    continue
                out.append((r.location, (gid, mid, mtype)))
        return out

    def _problem(self, location: str, kind: str, name: str, error: str) -> None:
        self.on_problem(Problem(location, kind, name, error))


def _member(value: str, kind: str | None, by_name: dict, by_external: dict, groups: dict) -> tuple[str, str]:
    if kind != "Group":
        if value.lower() in by_name:
            return by_name[value.lower()], "User"
        found = by_external.get(value, [])
        if len(found) == 1:
            return found[0], "User"
        if len(found) > 1:
            raise RowError(f"externalId {value!r} names {len(found)} users; name the member by userName")
    if kind != "User" and value.lower() in groups:
        return groups[value.lower()], "Group"
    what = {"User": "userName or externalId", "Group": "group displayName"}.get(kind, "userName, externalId or "
                                                                                      "group displayName")
    raise RowError(f"no {what} {value!r} in this tenant")


def _no_cycle(edges: dict[str, set[str]], group: str, member: str) -> None:
    """Refuse nesting `member` in `group` when `group` is `member` or is nested, at any depth, in it."""
    frontier, seen = [member], set()
    while frontier:
        g = frontier.pop()
        if g == group:
            raise RowError("a group cannot be a member of itself" if member == group
                           else "nesting these groups would make a cycle")
        if g not in seen:
            seen.add(g)
            frontier.extend(edges.get(g, ()))


def _span(items: list) -> str:
    first, last = (getattr(x, "location", x) for x in (items[0], items[-1]))
    return first if first == last else f"{first} to {last}"
