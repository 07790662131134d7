"""The input, as a stream of records: CSV (a row per user, columns mapped by columns.py), a JSON
document (a list of SCIM documents, or {"Users": [...], "Groups": [...]}, or a ListResponse's
{"Resources": [...]}), or JSON Lines (a document per line). Each record says where it is in the
input, so a row that fails is reported by its line or position.

The file is read as it is imported (CSV and JSON Lines never whole in memory), except JSON, which
is one document.
"""
from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from scim_authz.scim.bulk_import.columns import ColumnMap, column_map
from scim_authz.scim.bulk_import.errors import UnusableInput
from scim_authz.scim.bulk_import.validate import is_group

FORMATS = ("csv", "json", "jsonl")
EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
USER, GROUP = "User", "Group"


@dataclass
class Record:
    """One document of the input: a User or Group body, the group displayNames a CSV row names,
    or the reason it could not even be read."""

    location: str
    kind: str
    body: object = None
    groups: list[str] = field(default_factory=list)
    unreadable: str | None = None


def detect_format(path: str, forced: str | None) -> str:
    """The format asked for, or the one the file's extension says; UnusableInput otherwise."""
    if forced:
        if forced not in FORMATS:
            raise UnusableInput(f"unknown format {forced!r}; the formats are {', '.join(FORMATS)}")
        return forced
    ext = os.path.splitext(path)[1].lower()
    if ext not in EXTENSIONS:
        raise UnusableInput(f"cannot tell the format of {path} from its extension; "
                            f"give --format {'|'.join(FORMATS)}")
    return EXTENSIONS[ext]


def _open(path: str, newline: str | None = None):
    if not os.path.isfile(path):
        raise UnusableInput(f"no file {path}" if not os.path.exists(path) else f"{path} is not a file")
    try:
        return open(path, encoding="utf-8-sig", newline=newline)  # (a spreadsheet's byte-order mark dropped)
    except OSError as e:
        raise UnusableInput(f"cannot read {path}: {e.strerror}") from e


def count_lines(path: str) -> int:
    """Lines in the file (a cheap upper bound on its records, for the progress bar)."""
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
    return n


class Source:
    """An opened input: its records, and about how many there are."""

    def __init__(self, path: str, fmt: str, *, maps: dict[str, str] | None = None, delimiter: str | None = None):
        self.path, self.format = path, fmt
        if maps and fmt != "csv":
            raise UnusableInput("--map applies to CSV files only")
        self._file = _open(path, newline="" if fmt == "csv" else None)
        try:
            if fmt == "csv":
                self._prepare_csv(maps or {}, delimiter or ("\t" if path.lower().endswith(".tsv") else ","))
            elif fmt == "json":
                self._prepare_json()
            else:
                self.total = count_lines(path) + 1
        except BaseException:
            self._file.close()
            raise

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def records(self) -> Iterator[Record]:
        if self.format == "csv":
            return self._csv_records()
        if self.format == "json":
            return iter(self._json)
        return self._jsonl_records()

    # ---- CSV ---------------------------------------------------------------------------------

    def _prepare_csv(self, maps: dict[str, str], delimiter: str) -> None:
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise UnusableInput(f"the delimiter is one character (or tab), not {delimiter!r}")
        self._csv = csv.reader(self._file, delimiter=delimiter)
        try:
            header = next(self._csv, None)
        except (csv.Error, UnicodeDecodeError) as e:
            raise UnusableInput(f"cannot read the header of {self.path}: {e}") from e
        if not header:
            raise UnusableInput(f"{self.path} is empty: a CSV file starts with a header of column names")
        self.columns: ColumnMap = column_map(header, maps)
        self._width = len(header)
        self.total = max(count_lines(self.path) - 1, 0)

    def _csv_records(self) -> Iterator[Record]:
        reader, end = self._csv, self._csv.line_num
        while True:
            start = end + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as e:
                end = reader.line_num
                yield Record(f"line {start}", USER, unreadable=f"not CSV: {e}")
                if isinstance(e, UnicodeDecodeError):
                    return  # the decoder cannot go on past bytes that are not UTF-8
                continue
            end = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # a blank line
            if any(c.strip() for c in cells[self._width:]):
                yield Record(f"line {start}", USER, unreadable=f"{len(cells)} cells under a header of "
                                                                f"{self._width} columns (a value with an unquoted "
                                                                f"delimiter?)")
                continue
            body, groups = self.columns.body(cells)
            yield Record(f"line {start}", USER, body, groups)

    # ---- JSON --------------------------------------------------------------------------------

    def _prepare_json(self) -> None:
        try:
            doc = json.load(self._file)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UnusableInput(f"{self.path} is not JSON: {e}") from e
        self._json = list(_documents(doc))
        self.total = len(self._json)

    # ---- JSON Lines ----------------------------------------------------------------------------

    def _jsonl_records(self) -> Iterator[Record]:
        n = 0
        while True:
            n += 1
            try:
                line = self._file.readline()
            except UnicodeDecodeError as e:
                yield Record(f"line {n}", USER, unreadable=f"not UTF-8: {e}")
                return
            if not line:
                return
            if not line.strip():
                continue
            try:
                body = json.loads(line)
            except json.JSONDecodeError as e:
                yield Record(f"line {n}", USER, unreadable=f"not JSON: {e}")
                continue
            yield Record(f"line {n}", GROUP if is_group(body) else USER, body)


def _documents(doc) -> Iterator[Record]:
    """The records of a JSON document: a list of documents, one document, or an object of lists
    by resource type."""
    if isinstance(doc, list):
        for i, body in enumerate(doc):
            yield Record(f"[{i}]", GROUP if is_group(body) else USER, body)
        return
    if not isinstance(doc, dict):
        raise UnusableInput("a JSON import is a list of SCIM documents or an object {\"Users\": [...], "
                            "\"Groups\": [...]}")
    sections = {k.lower(): k for k in doc}
    if not {"users", "groups", "resources"} & sections.keys():
        if "username" in (k.lower() for k in doc) or is_group(doc):
            yield Record("[0]", GROUP if is_group(doc) else USER, doc)  # a single document
            return
        raise UnusableInput("a JSON object to import holds \"Users\" and/or \"Groups\" (lists of SCIM documents)")
    for name, kind in (("users", USER), ("groups", GROUP), ("resources", None)):
        if name not in sections:
            continue
        key = sections[name]
        items = doc[key]
        if not isinstance(items, list):
            raise UnusableInput(f"{key!r} must be a list of SCIM documents")
        for i, body in enumerate(items):
            yield Record(f"{key}[{i}]", kind or (GROUP if is_group(body) else USER), body)
