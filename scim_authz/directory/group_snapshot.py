"""One group and its members as of one snapshot, the members read a chunk at a time: what
GET /Groups/{id} streams, since a group can have 100,000 members and they are never all in memory.

The reads run on a connection of their own, in a transaction that outlives the request's (a
streamed body is written after the view has returned and the request's transaction has ended), and
every read sees the same commit: PostgreSQL at repeatable read, SQLite in one read transaction of
its WAL. The members come from one query in the order they joined, through a server-side cursor on
PostgreSQL (SQLite's cursor steps through its result as it is fetched).
"""
from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Row, select

from scim_authz.db.extensions import db
from scim_authz.db.models import Group, GroupMember
from scim_authz.db.txn import read_only
from scim_authz.directory.errors import ResourceNotFound

_GROUPS = Group.__table__
_MEMBERS = GroupMember.__table__


class GroupSnapshot:
    """`group` is the group's row (id, doc, version, created, last_modified, ...); `chunks()` its
    members as (id, "User" | "Group") in lists of at most `chunk`; `close()` ends the snapshot
    and must be called, however the reading ends."""

    def __init__(self, tenant_id: int, group_id: str, chunk: int):
        self.chunk = chunk
        self._result = None
        self._conn = db.engine.connect()
        try:
            if self._conn.dialect.name == "postgresql":
                self._conn.execution_options(isolation_level="REPEATABLE READ")
            with read_only():  # SQLite: a plain BEGIN, never the write lock
                self._conn.begin()
                row = self._conn.execute(select(_GROUPS).where(_GROUPS.c.id == group_id)).first()
            if row is None or row.tenant_id != tenant_id:
                raise ResourceNotFound(f"Group {group_id} not found")
            self.group: Row = row
        except BaseException:
            self.close()
            raise

    def chunks(self) -> Iterator[list[tuple[str, str]]]:
        """The members, in the order they joined (as members_of_groups gives them), chunk by chunk."""
        result = self._result = self._conn.execute(
            select(_MEMBERS.c.member_id, _MEMBERS.c.member_type).where(_MEMBERS.c.group_id == self.group.id)
            .order_by(_MEMBERS.c.added, _MEMBERS.c.member_id),
            execution_options={"stream_results": True, "yield_per": self.chunk})
        yield from result.partitions()

    def close(self) -> None:
        """End the snapshot's transaction and give its connection back (idempotent)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if self._result is not None:
                self._result.close()  # (PostgreSQL: the server-side cursor)
        finally:
            conn.close()
