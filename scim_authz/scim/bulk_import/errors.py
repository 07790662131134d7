"""What can go wrong in an import: the whole input (nothing is written), or one row (it alone is
skipped, the rest go on)."""
from __future__ import annotations

from dataclasses import dataclass


class BulkImportError(Exception):
    """Root of import errors."""


class UnusableInput(BulkImportError):
    """The input cannot be imported at all: no such file, an unknown format, a header or a column
    map that cannot be read, a JSON document of the wrong shape."""


class RowError(BulkImportError):
    """One row (a user or group document) cannot be imported; the message says why."""


@dataclass(frozen=True)
class Problem:
    """A row that was not imported (or a member that was not added): where it is in the input
    ("line 17", "Users[3]"), what it is, its userName or displayName if known, and why."""

    location: str
    kind: str  # User | Group | Member
    name: str
    error: str

    def __str__(self) -> str:
        what = f"{self.kind} {self.name!r}" if self.name else self.kind
        return f"{self.location}: {what}: {self.error}"
