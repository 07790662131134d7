"""GET /Groups/{id} for a group of any size (RFC 7644 §3.4.1): the group and its members read from
one snapshot; a group with more members than one read brings is streamed as it is read, a chunk of
members at a time, so 100,000 members are never all in memory.

The streamed body is the document `render_group` makes, byte for byte: the group is rendered and
projected (`attributes`, `excludedAttributes`) with one stand-in member, which tells whether
`members` is returned, where it falls in the document and which of each member's sub-attributes
remain; the document is serialised with a unique marker in place of the list, and the members are
written between its two halves. Whatever can fail before the first byte (no such group, the
first read) fails while the view still answers, as a SCIM error.
"""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator

from scim_authz.directory.group_snapshot import GroupSnapshot
from scim_authz.scim.projection import wants
from scim_authz.scim.schema_defs import SCHEMA_FOR
from scim_authz.scim.service import Context, directory_errors, member_value, render_group

log = logging.getLogger("scim_authz.scim")


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))  # as http_errors.scim_response writes bodies


class GroupRead:
    """One group as of one snapshot (`row`); `body()` renders it; `close()` ends the snapshot
    (done by `body()` when the whole body was read at once, else when the stream is closed)."""

    def __init__(self, ctx: Context, rid: str, chunk: int):
        self.ctx = ctx
        with directory_errors():
            self.snapshot = GroupSnapshot(ctx.tenant_id, rid, chunk)
        self.row = self.snapshot.group

    def body(self, attributes=(), excluded=()) -> dict | Iterator[bytes]:
        """The resource as a dict when its members came in one read (or are not returned), else
        the parts of its serialised body, to be sent as they come."""
        try:
            attributes, excluded = list(attributes), list(excluded)
            if not wants(SCHEMA_FOR["Group"], attributes, excluded, "members"):
                return self._whole(None, attributes, excluded)
            chunks = self.snapshot.chunks()
            first = next(chunks, [])
            if len(first) < self.snapshot.chunk:
                return self._whole([{"value": m, "type": t} for m, t in first], attributes, excluded)
            doc = render_group(self.ctx, self.row, [{"value": "stand-in", "type": "User"}], attributes, excluded)
            if "members" not in doc:  # projected away whole: none of their sub-attributes was asked for
                return self._whole(None, attributes, excluded)
            kept = list(doc["members"][0])  # the sub-attributes each member keeps, in their order
            marker = f"\0{uuid.uuid4().hex}"
            doc["members"] = marker
            head, _, tail = _dumps(doc).partition(_dumps(marker))
            return self._stream(head, tail, first, chunks, kept)
        except BaseException:
            self.close()
            raise

    def _whole(self, members: list[dict] | None, attributes: list[str], excluded: list[str]) -> dict:
        self.close()
        return render_group(self.ctx, self.row, members, attributes, excluded)

    def _stream(self, head: str, tail: str, first, chunks, kept: list[str]) -> Iterator[bytes]:
        ctx, whole = self.ctx, kept == list(member_value(self.ctx, "", "User"))

        def encoded(rows) -> bytes:
            values = [member_value(ctx, m, t) for m, t in rows]
            if not whole:
                values = [{k: v[k] for k in kept} for v in values]
            return _dumps(values)[1:-1].encode()

        sent = len(first)
        try:
            yield (head + "[").encode() + encoded(first)
            for rows in chunks:
                if rows:
                    yield b"," + encoded(rows)
                    sent += len(rows)
            yield ("]" + tail).encode()
        except Exception as e:
            # Past the first byte no error body can be sent: the server cuts the response short.
            log.error("GET /Groups/%s: the read failed after %d members were sent: %s", self.row.id, sent, e)
            raise
        finally:  # read to the end, or abandoned (the response's close does it too, if never started)
            self.close()

    def close(self) -> None:
        """End the snapshot (idempotent)."""
        self.snapshot.close()
