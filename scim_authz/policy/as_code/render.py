"""A policy document written out: YAML as a person would write it (a role's permissions and extends
on one line, the schema as a block of text), or JSON. Reading either back gives the same document."""
from __future__ import annotations

import json

import yaml

_Base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_FLOW = ("permissions", "extends")
HEADER = "# scim-authz policy of tenant {key} at revision {revision}: docs/policy-as-code.md\n"


class _Flow(list):
    """A list written on one line: [document:view, document:edit]."""


class _Dumper(_Base):
    pass


def _text(dumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(_Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
_Dumper.add_representer(str, _text)


def _shaped(value, key: str | None = None):
    if isinstance(value, dict):
        return {k: _shaped(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_shaped(v) for v in value]
        return _Flow(items) if key in _FLOW else items
    return value


def to_yaml(doc: dict, header: str = "") -> str:
    """The document as YAML text."""
    body = yaml.dump(_shaped(doc), Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                     width=120)
    return header + body


def to_json(doc: dict) -> str:
    """The document as JSON text (indented, one item a line)."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
