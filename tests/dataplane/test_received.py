"""Decisions a decision point sends, checked a column at a time: the rows are those a check row by
row builds, whatever the batch holds; a batch with a row that is not a decision names that row."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from scim_authz.api.errors import InvalidRequest
from scim_authz.dataplane.received import _by_column, decision_row, decision_rows


def batch(n: int = 300) -> list[list]:
    """As a decision point sends them: orjson's JSON of its rows, times aware and in UTC."""
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    rows = [(f"a1b2c3-{i:012x}", 1, now + timedelta(microseconds=7 * i), "app key sk_1", None if i % 3 else f"user-{i}",
             f"user{i}@acme.example", "read", "invoice", str(i), i % 2 == 0, "role reader", 4) for i in range(n)]
    return orjson.loads(orjson.dumps({"decisions": rows}))["decisions"]


def row_by_row(raw: list, tid: int) -> list[tuple]:
    return [decision_row(r, tid, i) for i, r in enumerate(raw)]


def test_a_batch_as_decision_points_send_it_is_read_by_column_into_the_same_rows():
    raw = batch()
    rows = _by_column(raw, 9)
    assert rows is not None and rows == row_by_row(raw, 9)
    assert rows[1][:4] == ("a1b2c3-000000000001", 9, datetime(2026, 12, 7, 12, 0, 0, 7), "pdp: app key sk_1")
    assert decision_rows(raw, 9) == rows and decision_rows([], 9) == []


@pytest.mark.parametrize("change", [
    {3: "k" * 400, 6: "a" * 150, 8: "r" * 500, 10: "why " * 300},  # text longer than its column: cut alike
    {4: "u" * 40},  # a user id longer than 36
    {2: "2026-12-07T13:00:00.000001+01:00"},  # a time in another offset
    {2: "2026-12-07T12:00:00"},  # a time without one
    {4: 17},  # a user id that is not text: none
])
def test_whatever_the_batch_holds_the_rows_are_those_of_a_check_row_by_row(change):
    raw = batch()
    for column, value in change.items():
        raw[5][column] = value
    assert decision_rows(raw, 9) == row_by_row(raw, 9)


@pytest.mark.parametrize("i, column, value, words", [
    (7, 9, 1, "decision 7 is not a decision row"),
    (8, 11, "4", "decision 8 is not a decision row"),
    (9, 0, "", "decision 9 is not a decision row"),
    (10, 2, "2026-12-07T13:00:00+01:00+00:00", "decision 10: at must be an ISO 8601 time"),
    (11, None, None, "decision 11 must be a list of 12 values"),
])
def test_a_row_that_is_not_a_decision_is_named(i, column, value, words):
    raw = batch()
    if column is None:
        raw[i] = raw[i][:5]
    else:
        raw[i][column] = value
    with pytest.raises(InvalidRequest, match=words):
        decision_rows(raw, 9)
