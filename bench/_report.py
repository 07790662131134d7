"""How every benchmark reports: progress to stderr, a table to stdout, and as the last line of
stdout one JSON object (`tail -1 | jq`), which records the code that was measured."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from _paths import ROOT


def log(*parts: Any) -> None:
    """Progress: stderr, flushed at once (stdout is kept for the table and the JSON line)."""
    print(*parts, file=sys.stderr, flush=True)


def fmt(x: Any, spec: str = "") -> str:
    """A table cell: "-" for a figure that was not measured."""
    return "-" if x is None else format(x, spec)


def print_table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns left-aligned to their widest cell, a rule under the header."""
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    print("  ".join(str(h).ljust(w) for h, w in zip(head, widths, strict=False)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())


def emit_json(obj: dict) -> None:
    """The last line of stdout: one JSON object, compact."""
    sys.stdout.flush()
    print(json.dumps(obj, separators=(",", ":"), sort_keys=False), flush=True)


def read_json_line(stdout: str) -> dict | None:
    """The object `emit_json` wrote as the last line of a worker's stdout; None when it printed nothing."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    return json.loads(lines[-1]) if lines else None


def product_state(diff_hash: bool = False) -> dict:
    """Which code was measured: the commit, and whether the product's files differ from it. With
    `diff_hash`, also a short hash of that difference, so that states with the same number of
    changed files but different edits compare unequal."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    paths = ("scim_authz", "migrations", "config", "wsgi.py")
    changed = git("status", "--porcelain", "--", *paths).splitlines()
    state = {"git_head": git("rev-parse", "--short", "HEAD") or None, "uncommitted_product_files": len(changed)}
    if diff_hash:
        diff = git("diff", "HEAD", "--", *paths)
        state["uncommitted_diff_sha256"] = hashlib.sha256(diff.encode()).hexdigest()[:12] if diff else None
    return state


def note_product_change(result: dict) -> None:
    """Compare the product's state now with `result["product"]` (taken at the start, with
    diff_hash): `product_changed_during_run`, and `product_at_end` with a warning when it changed."""
    end_state = product_state(diff_hash=True)
    result["product_changed_during_run"] = end_state != result["product"]
    if result["product_changed_during_run"]:
        result["product_at_end"] = end_state
        log(f"!! the product's files changed during the run: {result['product']} -> {end_state}")
