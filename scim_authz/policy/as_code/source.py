"""A policy file's text -> plain dicts and lists that remember the line each value came from, so a
finding can say `policy.yaml:12`. YAML is read with PyYAML's safe loader (libyaml's when built);
JSON is YAML too. Values no store can keep (NUL, lone surrogates, integers past 64 bits, NaN) and
anchors shared between lists or mappings (a "billion laughs" file) are refused here, with their line."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import yaml

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
INT64 = 2**63 - 1
MAX_DEPTH = 64


class LineDict(dict):
    """A mapping read from the file: `line` where it starts, `lines[key]` where each key is, and
    `blocks[key]` the first line of a block scalar's text (`schema: |`)."""

    __slots__ = ("line", "lines", "blocks")

    def __init__(self, line: int | None = None):
        super().__init__()
        self.line, self.lines, self.blocks = line, {}, {}


class LineList(list):
    """A sequence read from the file: `line` where it starts, `lines[i]` where each item is."""

    __slots__ = ("line", "lines")

    def __init__(self, line: int | None = None):
        super().__init__()
        self.line, self.lines = line, []


@dataclass(frozen=True)
class Finding:
    """One problem in a policy file: where (a path such as roles[2].permissions[0], and its line
    when the file had lines) and what."""

    path: str
    message: str
    line: int | None = None

    def render(self, filename: str) -> str:
        where = f"{filename}:{self.line}" if self.line else filename
        return f"{where}: {self.path + ': ' if self.path else ''}{self.message}"

    def to_dict(self) -> dict:
        return {"line": self.line, "path": self.path, "message": self.message}


class SourceError(Exception):
    """The text is not YAML (or JSON) this reader takes; `finding` says where and why."""

    def __init__(self, finding: Finding):
        super().__init__(finding.message)
        self.finding = finding


class _Loader(_Base):
    pass


def _mapping(loader, node) -> LineDict:
    loader.flatten_mapping(node)  # merge keys (<<) first
    out = LineDict(node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is not text; quote it",
                                                    key_node.start_mark)
        if key in out:
            raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} appears twice",
                                                    key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.ScalarNode) and value_node.style in ("|", ">"):
            out.blocks[key] = value_node.start_mark.line + 2  # the text starts under the indicator
    return out


def _sequence(loader, node) -> LineList:
    out = LineList(node.start_mark.line + 1)
    for item in node.value:
        out.append(loader.construct_object(item, deep=True))
        out.lines.append(item.start_mark.line + 1)
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _sequence)
# A date stays the text it was written as: it is JSON's string, not a Python datetime.
_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def parse(text: str) -> Any:
    """The file's data; SourceError when it is not YAML or holds what cannot be kept."""
    try:
        data = yaml.load(text, Loader=_Loader)  # safe: plain data only
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        message = " ".join(str(p) for p in (e.context, e.problem) if p) or str(e)
        raise SourceError(Finding("", f"not valid YAML: {message}", mark.line + 1 if mark else None)) from e
    except yaml.YAMLError as e:
        raise SourceError(Finding("", f"not valid YAML: {e}")) from e
    except RecursionError as e:
        raise SourceError(Finding("", f"the file nests deeper than {MAX_DEPTH} levels")) from e
    problem = storable_problem(data)
    if problem:
        raise SourceError(problem)
    return data


def storable_problem(data: Any) -> Finding | None:
    """The first value no store can keep, or a list or mapping reached twice (through an alias)."""
    seen: set[int] = set()
    stack: list[tuple[Any, tuple, int]] = [(data, (), 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if id(value) in seen:
                return _at(data, path, "an alias of a list or mapping: write it out, anchors are not supported here")
            seen.add(id(value))
            if depth > MAX_DEPTH:
                return _at(data, path, f"nests deeper than {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for k, v in items:
                if isinstance(k, str) and _UNSTORABLE.search(k):
                    return _at(data, path, "a key holds a NUL or an unpaired surrogate, which nothing can store")
                stack.append((v, (*path, k), depth + 1))
        elif isinstance(value, str):
            if _UNSTORABLE.search(value):
                return _at(data, path, "holds a NUL or an unpaired surrogate, which nothing can store")
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not -INT64 - 1 <= value <= INT64:
                return _at(data, path, f"a number out of range (integers are at most {INT64})")
        elif isinstance(value, float) and not math.isfinite(value):
            return _at(data, path, "not a number JSON can hold (NaN or infinity)")
    return None


def _at(data: Any, path: tuple, message: str) -> Finding:
    return Finding(dotted(path), message, line_of(data, path))


def dotted(path: tuple) -> str:
    """("roles", 2, "permissions", 0) -> "roles[2].permissions[0]"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_of(data: Any, path: tuple) -> int | None:
    """The line of the deepest value along `path` the file says where it is."""
    line = getattr(data, "line", None)
    node = data
    for part in path:
        if isinstance(node, LineDict) and isinstance(part, str) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lines[part]
            node = node[part]
        else:
            break
    return line


def block_line(data: Any, key: str) -> int | None:
    """Where the text of a top-level block scalar starts (a schema's line 1), or the key's line."""
    if isinstance(data, LineDict):
        return data.blocks.get(key) or data.lines.get(key)
    return None
