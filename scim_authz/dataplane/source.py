"""The control plane's side of the sync: a tenant's snapshot, and its changes after a revision with
what each change now reads, from the database, for a decision point (wire.py says the format).

Each change is answered as this instance's own engine catches up (authz/sql_store.py): with the
rows as they are when read, which may be newer than the change; the later change that made them
so follows in the log, and applying it again changes nothing.
"""
from __future__ import annotations

import itertools
import json
import zlib
from collections.abc import Iterator

import orjson
from sqlalchemy import bindparam, text

from scim_authz.authz import changes as ch
from scim_authz.authz.conditions import compile_condition
from scim_authz.authz.sql_store import SQLReader
from scim_authz.dataplane import wire

CHUNK = 500  # ids per IN (...) list
BATCH = 20_000  # changes per answer at most (whole revisions: a longer one is sent as a snapshot)
ROWS_PER_PIECE = 5_000  # a snapshot's rows per orjson.dumps


def _dumpb(v) -> bytes:
    return orjson.dumps(v, default=str)


class SyncSource:
    """Reads what decision points are sent, through an engine's SQLReader."""

    def __init__(self, reader: SQLReader):
        self.reader = reader
        self.engine = reader.engine

    def _rows(self, sql: str, **params) -> list:
        return self.reader._rows(sql, **params)

    def _rows_in(self, sql: str, name: str, values: list, **params) -> list:
        out = []
        for i in range(0, len(values), CHUNK):
            stmt = text(sql).bindparams(bindparam(name, expanding=True))
            with self.reader.read_guard(), self.engine.connect() as conn:
                out += conn.execute(stmt, {**params, name: values[i:i + CHUNK]}).all()
        return out

    # ---- what every answer carries ----------------------------------------------------------

    def attribute_names(self, tenant_id: int) -> list[str]:
        """The user attributes the tenant's role conditions read."""
        conds = [compile_condition(r[0]) for r in self._rows(
            "SELECT condition FROM roles WHERE tenant_id = :t AND condition IS NOT NULL", t=tenant_id) if r[0]]
        return wire.attributes_read(conds)

    def credentials(self, tenant_id: int, ids: list[int] | None = None) -> dict[str, list | None]:
        """The tenant's application keys a decision point accepts: {id: [sha256 hex, label]};
        with `ids`, each of them, None for one that is not (any more) a usable application key."""
        sql = "SELECT id, secret_hash, prefix, name, kind, revoked_at FROM credentials WHERE tenant_id = :t"
        rows = self._rows(sql + " AND kind = 'app' AND revoked_at IS NULL", t=tenant_id) if ids is None \
            else self._rows_in(sql + " AND id IN :ids", "ids", ids, t=tenant_id)
        out: dict[str, list | None] = {str(i): None for i in ids or ()}
        for cid, digest, prefix, name, kind, revoked in rows:
            if kind == "app" and revoked is None:
                out[str(cid)] = [digest, f"key {prefix}… ({name})" if name else f"key {prefix}…"]
        return out

    def user_attributes(self, tenant_id: int, names: list[str], user_ids: list[str] | None = None) -> dict:
        """{user id: the named attributes of its document and app attributes} ({} when none are read)."""
        if not names:
            return {}
        sql = "SELECT id, doc, app_attributes FROM users WHERE tenant_id = :t"
        rows = self._rows(sql, t=tenant_id) if user_ids is None \
            else self._rows_in(sql + " AND id IN :ids", "ids", user_ids, t=tenant_id)
        out = {}
        for uid, doc, app in rows:
            merged = {**(_json(doc) or {}), **(_json(app) or {})}
            out[uid] = wire.only(merged, names)
        return out

    # ---- a snapshot ----------------------------------------------------------------------------

    def snapshot_gzip(self, tenant_id: int) -> Iterator[bytes]:
        """The tenant's snapshot as gzip'd JSON, in pieces: read whole (one transaction) when the
        first piece is asked for, then written out and compressed as it is sent. Rows are written a
        few thousand at a time (one orjson.dumps each) and compressed at level 1: a snapshot of a
        million relationships is made as fast as it can be sent."""
        snap = self.reader.snapshot(tenant_id)
        names = self.attribute_names(tenant_id)
        head = wire.snapshot_head(snap, names, self.credentials(tenant_id))
        attrs = self.user_attributes(tenant_id, names)

        def pieces() -> Iterator[bytes]:
            yield _dumpb(head)[:-1]
            for name in wire.SECTIONS:
                yield b',"' + name.encode() + b'":['
                rows = wire.section_rows(snap, name)
                first = True
                while True:
                    part = list(itertools.islice(rows, ROWS_PER_PIECE))
                    if not part:
                        break
                    yield (b"" if first else b",") + _dumpb(part)[1:-1]
                    first = False
                yield b"]"
            yield b',"user_attributes":' + _dumpb(attrs) + b"}"

        z = zlib.compressobj(1, zlib.DEFLATED, 31)  # 31: a gzip stream
        buf: list[bytes] = []
        size = 0
        for piece in pieces():
            buf.append(piece)
            size += len(piece)
            if size >= 1024 * 1024:
                out = z.compress(b"".join(buf))
                buf, size = [], 0
                if out:
                    yield out
        yield z.compress(b"".join(buf)) + z.flush()

    # ---- changes -------------------------------------------------------------------------------

    def changes(self, tenant_id: int, after: int, limit: int = BATCH) -> dict | None:
        """The changes after revision `after` (whole revisions, at most `limit` changes) with what
        each one reads now; None when the log no longer holds them all (pruned) or one revision
        alone is longer than `limit`: the decision point takes a snapshot instead."""
        newest = self.reader.revision(tenant_id)
        if newest <= after:  # nothing new: what a decision point asks most often, answered from one read
            return {"format": wire.FORMAT, "after": after, "revision": after, "newest": newest, "more": False,
                    "changes": [], "data": {}}
        rows = self.reader.changes_since(tenant_id, after, limit + 1)
        if not rows or rows[0][0] != after + 1:
            return None
        more = len(rows) > limit
        if more:
            last = rows[limit][0]
            rows = [r for r in rows[:limit] if r[0] != last]
            if not rows:
                return None
        names = self.attribute_names(tenant_id)
        return {"format": wire.FORMAT, "after": after, "revision": rows[-1][0], "newest": newest, "more": more,
                "changes": [list(r) for r in rows], "user_attributes_read": names,
                "data": self._answers(tenant_id, rows, names)}

    def _answers(self, tid: int, rows: list, names: list[str]) -> dict:
        r = self.reader
        by_kind: dict[str, list[str]] = {}
        for _, kind, ref in rows:
            by_kind.setdefault(kind, [])
            if ref not in by_kind[kind]:
                by_kind[kind].append(ref)
        data: dict = {}
        if ch.USER in by_kind:
            ids = by_kind[ch.USER]
            found = {}
            for i in range(0, len(ids), CHUNK):
                found.update(r.users(tid, ids[i:i + CHUNK]))
            data["users"] = {u: wire.user_json(found[u]) if u in found else None for u in ids}
            if names:
                data["user_attributes"] = self.user_attributes(tid, names, ids)
        if ch.MEMBER in by_kind:
            pairs = [ch.parse_member_ref(ref) for ref in by_kind[ch.MEMBER]]
            found = {}
            for i in range(0, len(pairs), CHUNK):
                found.update(r.memberships(pairs[i:i + CHUNK]))
            data["memberships"] = {ch.member_ref(g, m): found.get((g, m)) for g, m in pairs}
        if ch.MEMBERS in by_kind:
            data["members"] = {g: [list(m) for m in r.group_members(g)] for g in by_kind[ch.MEMBERS]}
        if ch.GROUP in by_kind:
            data["groups"] = {g: _or_none(r.group(tid, g), wire.group_json) for g in by_kind[ch.GROUP]}
        if ch.ROLE in by_kind:
            data["roles"] = {k: _or_none(r.role(tid, k), wire.role_json) for k in by_kind[ch.ROLE]}
        if ch.ASSIGNMENT in by_kind:
            data["assignments"] = {u: [wire.assignment_json(a) for a in r.assignments_of(tid, u)]
                                   for u in by_kind[ch.ASSIGNMENT]}
        if ch.MAPPING in by_kind:
            data["mappings"] = {g: [wire.mapping_json(m) for m in r.mappings_of(tid, g)] for g in by_kind[ch.MAPPING]}
        if ch.SCHEMA in by_kind:
            data["schema"] = wire.schema_json(r.schema(tid, None))
        if ch.RELATIONSHIP in by_kind:
            data["relationships"] = self._relationships(tid, by_kind[ch.RELATIONSHIP])
        if ch.TENANT in by_kind:
            data["tenant"] = _or_none(r.tenant(tid), wire.tenant_json)
        if ch.CREDENTIAL in by_kind:
            data["credentials"] = self.credentials(tid, [int(c) for c in by_kind[ch.CREDENTIAL] if c.isdigit()])
        if ch.RESOURCE in by_kind:
            keys = [ch.parse_object_ref(ref) for ref in by_kind[ch.RESOURCE]]
            held = {}
            for i in range(0, len(keys), CHUNK):
                held.update(r.resources_held(tid, keys[i:i + CHUNK]))
            data["resources"] = {ch.object_ref(t, i): held.get((t, i)) for t, i in keys}
        return data

    def _relationships(self, tid: int, refs: list[str]) -> dict[str, bool]:
        """Whether each relationship named exists, read by resource (through the relationships'
        index by tenant, resource type and id: one query per CHUNK resources of a type)."""
        wanted = [ch.parse_relationship_ref(ref) for ref in refs]
        by_type: dict[str, set[str]] = {}
        for t in wanted:
            by_type.setdefault(t[0], set()).add(t[1])
        held: set[tuple] = set()
        stmt = text("SELECT resource_type, resource_id, relation, subject_type, subject_id, subject_relation "
                    "FROM relationships WHERE tenant_id = :t AND resource_type = :rt AND resource_id IN :ids"
                    ).bindparams(bindparam("ids", expanding=True))
        for rtype, ids in by_type.items():
            ordered = sorted(ids)
            for i in range(0, len(ordered), CHUNK):
                with self.reader.read_guard(), self.engine.connect() as conn:
                    held.update(tuple(row) for row in conn.execute(
                        stmt, {"t": tid, "rt": rtype, "ids": ordered[i:i + CHUNK]}))
        return {ref: t in held for ref, t in zip(refs, wanted, strict=False)}


def _or_none(v, fn):
    return None if v is None else fn(v)


def _json(v):
    return json.loads(v) if isinstance(v, str) else v
