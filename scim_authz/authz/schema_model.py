"""The compiled relationship schema: immutable, hashable data the evaluator pattern-matches on, and its JSON form.

schema_dsl.py produces these from source text; nothing here parses or validates the language itself.
Every mapping is a FrozenMap, so a CompiledSchema can be shared between threads, cached and hashed.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")

RELATION = "relation"
PERMISSION = "permission"
JSON_VERSION = 1
# from_json walks expressions recursively; the parser allows 64 levels, so anything far deeper is not ours.
_MAX_JSON_DEPTH = 512


class FrozenMap(Mapping[K, V]):
    """A read-only, hashable mapping that keeps insertion order (equality ignores order, like dict)."""

    __slots__ = ("_data", "_hash")

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()):
        self._data = dict(items)
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


def _freeze(obj: Any, name: str, value: Any, convert) -> None:
    """Coerce a field in __post_init__, so callers may pass dicts and lists and still get immutable data."""
    if not isinstance(value, convert):
        object.__setattr__(obj, name, convert(value))


# --- expressions: a closed set; `a not b` is And((a, Not(b))) --------------------------------------------


@dataclass(frozen=True)
class Or:
    """True when any argument is (at least two, never nested Or)."""
    args: tuple[Expr, ...]

    def __post_init__(self):
        _freeze(self, "args", self.args, tuple)


@dataclass(frozen=True)
class And:
    """True when every argument is (at least two, never nested And)."""
    args: tuple[Expr, ...]

    def __post_init__(self):
        _freeze(self, "args", self.args, tuple)


@dataclass(frozen=True)
class Not:
    """True when the argument is not."""
    arg: Expr


@dataclass(frozen=True)
class Ref:
    """A relation or permission of the same object; kind is RELATION or PERMISSION."""
    name: str
    kind: str


@dataclass(frozen=True)
class Arrow:
    """Tuple-to-userset: `target` evaluated on every object reached through `relation`."""
    relation: str
    target: str


@dataclass(frozen=True)
class TenantRole:
    """The subject holds this tenant-wide role."""
    role: str


@dataclass(frozen=True)
class InstanceRole:
    """The subject holds this role on the very object being checked."""
    role: str


Expr = Or | And | Not | Ref | Arrow | TenantRole | InstanceRole


# --- definitions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubjectType:
    """An allowed subject of a relation: `@type` (relation None) or the userset `@type#relation`."""
    type: str
    relation: str | None = None


@dataclass(frozen=True)
class RelationDef:
    """A stored relation and the subject types it accepts, in declaration order."""
    name: str
    subjects: tuple[SubjectType, ...]

    def __post_init__(self):
        _freeze(self, "subjects", self.subjects, tuple)


@dataclass(frozen=True)
class EntityDef:
    """An entity type: its relations (data) and permissions (expressions), sharing one namespace."""
    name: str
    relations: Mapping[str, RelationDef]
    permissions: Mapping[str, Expr]

    def __post_init__(self):
        _freeze(self, "relations", self.relations, FrozenMap)
        _freeze(self, "permissions", self.permissions, FrozenMap)


@dataclass(frozen=True)
class CompiledSchema:
    """A validated schema: every entity (built-in user and group included) and the source it came from."""
    entities: Mapping[str, EntityDef]
    source: str

    def __post_init__(self):
        _freeze(self, "entities", self.entities, FrozenMap)

    def relation(self, entity: str, name: str) -> RelationDef | None:
        """The relation `name` of `entity`, or None."""
        ent = self.entities.get(entity)
        return ent.relations.get(name) if ent else None

    def permission(self, entity: str, name: str) -> Expr | None:
        """The expression of permission `name` of `entity`, or None."""
        ent = self.entities.get(entity)
        return ent.permissions.get(name) if ent else None

    def to_json(self) -> dict:
        """A JSON-serialisable dict, in declaration order (same schema, same JSON)."""
        return {
            "version": JSON_VERSION,
            "source": self.source,
            "entities": {
                name: {
                    "relations": {r.name: [_subject_json(s) for s in r.subjects] for r in ent.relations.values()},
                    "permissions": {p: expr_to_json(e) for p, e in ent.permissions.items()},
                }
                for name, ent in self.entities.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> CompiledSchema:
        """The schema to_json produced; ValueError when `data` does not have that shape."""
        try:
            if data.get("version") != JSON_VERSION:
                raise ValueError(f"unsupported version {data.get('version')!r}")
            entities = {}
            for name, ent in _items(data["entities"]):
                relations = {r: RelationDef(r, tuple(_subject_from_json(s) for s in _list(subjects)))
                             for r, subjects in _items(ent["relations"])}
                permissions = {p: expr_from_json(e) for p, e in _items(ent["permissions"])}
                entities[_str(name)] = EntityDef(name, relations, permissions)
            return cls(entities, _str(data["source"]))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"not a compiled schema: {exc}") from None


def _subject_json(s: SubjectType) -> dict:
    return {"type": s.type, "relation": s.relation}


def _subject_from_json(d: dict) -> SubjectType:
    rel = d["relation"]
    return SubjectType(_str(d["type"]), None if rel is None else _str(rel))


def expr_to_json(e: Expr) -> dict:
    """One expression as a tagged dict: {"op": "or", "args": [...]}, {"op": "ref", "name":..., "kind":...}..."""
    match e:
        case Or(args) | And(args):
            return {"op": "or" if isinstance(e, Or) else "and", "args": [expr_to_json(a) for a in args]}
        case Not(arg):
            return {"op": "not", "arg": expr_to_json(arg)}
        case Ref(name, kind):
            return {"op": "ref", "name": name, "kind": kind}
        case Arrow(relation, target):
            return {"op": "arrow", "relation": relation, "target": target}
        case TenantRole(role):
            return {"op": "tenant_role", "role": role}
        case InstanceRole(role):
            return {"op": "instance_role", "role": role}
    raise TypeError(f"not an expression: {e!r}")


def expr_from_json(d: dict, depth: int = 0) -> Expr:
    """The inverse of expr_to_json; ValueError on anything else."""
    if depth > _MAX_JSON_DEPTH:
        raise ValueError("expression nested too deeply")
    op = d["op"]
    if op in ("or", "and"):
        return (Or if op == "or" else And)(tuple(expr_from_json(a, depth + 1) for a in _list(d["args"])))
    if op == "not":
        return Not(expr_from_json(d["arg"], depth + 1))
    if op == "ref":
        if d["kind"] not in (RELATION, PERMISSION):
            raise ValueError(f"unknown reference kind {d['kind']!r}")
        return Ref(_str(d["name"]), d["kind"])
    if op == "arrow":
        return Arrow(_str(d["relation"]), _str(d["target"]))
    if op == "tenant_role":
        return TenantRole(_str(d["role"]))
    if op == "instance_role":
        return InstanceRole(_str(d["role"]))
    raise ValueError(f"unknown expression op {op!r}")


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected a string, got {v!r}")
    return v


def _list(v: Any) -> list:
    if not isinstance(v, list):
        raise ValueError(f"expected a list, got {type(v).__name__}")
    return v


def _items(v: Any):
    if not isinstance(v, dict):
        raise ValueError(f"expected an object, got {type(v).__name__}")
    return v.items()
