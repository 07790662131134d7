"""Decisions a decision point sends (POST /v1/pdp/tenants/<key>/decisions), checked and turned into
rows of the decision log (pdp/decision_log.COLUMNS).

A batch is thousands of rows a second per decision point, on the control plane's CPU: it is checked
a column at a time with the interpreter's own loops (`map`, `set`, `zip`), not a row at a time in
Python. A batch those checks do not pass (a row that is not a decision, a time not in UTC, a text
longer than its column) goes row by row, which names the first bad row or builds the same rows.
"""
from __future__ import annotations

from datetime import UTC, datetime
from itertools import repeat
from operator import attrgetter, itemgetter

from scim_authz.api.errors import InvalidRequest
from scim_authz.pdp.decision_log import COLUMNS

# Text longer than its column is cut to it: (column, length), in COLUMNS order.
_LIMITS = {"asked_by": 190, "user_id": 36, "user_key": 300, "action": 100, "resource_type": 100,
           "resource_id": 300, "reason": 1000}
_UTC = "+00:00"  # how a decision point writes its times (orjson's form of an aware UTC time)
_without_utc = itemgetter(slice(None, -len(_UTC)))
_utc_suffix = itemgetter(slice(-len(_UTC), None))
_tzinfo = attrgetter("tzinfo")
_NONE = type(None)


def decision_rows(raw: list, tid: int) -> list[tuple]:
    """`raw` (a JSON array of 12-value arrays) as decision-log rows of tenant `tid`; raises
    InvalidRequest naming the first row that is not a decision."""
    rows = _by_column(raw, tid) if raw else []
    return rows if rows is not None else [decision_row(r, tid, i) for i, r in enumerate(raw)]


def decision_row(r, tid: int, i: int) -> tuple:
    """One decision in COLUMNS order, checked: ids are the decision point's, the tenant the key's."""
    if type(r) is not list or len(r) != 12:
        raise InvalidRequest(f"decision {i} must be a list of {len(COLUMNS)} values ({', '.join(COLUMNS)})")
    did, _, at, asked_by, user_id, user_key, action, rtype, rid, allowed, reason, revision = r
    try:
        when = datetime.fromisoformat(at)
    except (TypeError, ValueError) as e:
        raise InvalidRequest(f"decision {i}: at must be an ISO 8601 time") from e
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    if type(did) is not str or not 0 < len(did) <= 36 or type(allowed) is not bool or type(revision) is not int \
            or not (type(asked_by) is str and type(user_key) is str and type(action) is str
                    and type(rtype) is str and type(rid) is str and type(reason) is str):
        raise InvalidRequest(f"decision {i} is not a decision row")
    cut = _LIMITS
    return (did, tid, when, "pdp: " + asked_by[:cut["asked_by"]],
            user_id[:cut["user_id"]] if type(user_id) is str else None, user_key[:cut["user_key"]],
            action[:cut["action"]], rtype[:cut["resource_type"]], rid[:cut["resource_id"]], allowed,
            reason[:cut["reason"]], revision)


def _by_column(raw: list, tid: int) -> list[tuple] | None:
    """The rows decision_row would build, or None when a column is not what decision points send
    (then decision_row decides, row by row)."""
    if set(map(type, raw)) != {list} or set(map(len, raw)) != {12}:
        return None
    columns = zip(*raw, strict=True)
    ids, _, ats, asked_by, user_ids, user_keys, actions, rtypes, rids, allowed, reasons, revisions = columns
    texts = (ids, ats, asked_by, user_keys, actions, rtypes, rids, reasons)
    if not (all(set(map(type, column)) == {str} for column in texts)
            and min(map(len, ids)) > 0 and max(map(len, ids)) <= 36
            and set(map(type, allowed)) == {bool} and set(map(type, revisions)) == {int}
            and set(map(type, user_ids)) <= {str, _NONE}
            and max(map(len, filter(None, user_ids)), default=0) <= _LIMITS["user_id"]
            and set(map(_utc_suffix, ats)) == {_UTC}):
        return None
    try:
        when = list(map(datetime.fromisoformat, map(_without_utc, ats)))
    except ValueError:
        return None
    if set(map(_tzinfo, when)) != {None}:  # (an offset of its own before "+00:00")
        return None
    return list(zip(ids, repeat(tid), when, map("pdp: ".__add__, _cut(asked_by, "asked_by")), user_ids,
                    _cut(user_keys, "user_key"), _cut(actions, "action"), _cut(rtypes, "resource_type"),
                    _cut(rids, "resource_id"), allowed, _cut(reasons, "reason"), revisions))


def _cut(column: tuple, name: str):
    limit = _LIMITS[name]
    return column if max(map(len, column)) <= limit else map(itemgetter(slice(None, limit)), column)
