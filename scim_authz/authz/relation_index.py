"""One tenant's relationships in memory, forward (object -> subjects) and in reverse (subject ->
objects), at about a hundred bytes a fact.

A relationship is (resource type, resource id, relation, subject type, subject id, subject
relation). The types and relations of a tenant come in a handful of combinations ("kinds"), so
each kind gets a plain dict from an id to the ids on the other side: no tuple is made per fact for
a key or for an item. The other side is one id while there is one (most resources have one parent,
one owner), a tuple up to SMALL ids, then a set. Ids are interned, so an id is one string however
many facts name it.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable

SMALL = 8

Kind = tuple[str, str, str, str]


class RelationIndex:
    __slots__ = ("_fwd", "_rev", "_fwd_by", "_rev_by")

    def __init__(self) -> None:
        self._fwd: dict[Kind, dict] = {}   # (rtype, rel, stype, srel) -> {rid: sid | ids}
        self._rev: dict[Kind, dict] = {}   # (stype, srel, rtype, rel) -> {sid: rid | ids}
        self._fwd_by: dict[tuple[str, str], list[tuple[str, str, dict]]] = {}  # (rtype, rel) -> [(stype, srel, d)]
        self._rev_by: dict[str, list[tuple[str, str, str, dict]]] = {}          # stype -> [(srel, rtype, rel, d)]

    # ---- reading --------------------------------------------------------------------------

    def subjects(self, rtype: str, rid: str, rel: str) -> list[tuple[str, str, str]]:
        """(subject type, subject id, subject relation) of every fact rtype:rid#rel."""
        kinds = self._fwd_by.get((rtype, rel))
        if not kinds:
            return []
        out = []
        for stype, srel, d in kinds:
            v = d.get(rid)
            if v is None:
                continue
            if type(v) is str:
                out.append((stype, v, srel))
            else:
                out.extend((stype, s, srel) for s in v)
        return out

    def objects(self, stype: str, sid: str) -> list[tuple[str, str, str, str]]:
        """(resource type, resource id, relation, subject relation) of every fact naming stype:sid."""
        out = []
        for srel, rtype, rel, d in self._rev_by.get(stype, ()):
            v = d.get(sid)
            if v is None:
                continue
            if type(v) is str:
                out.append((rtype, v, rel, srel))
            else:
                out.extend((rtype, r, rel, srel) for r in v)
        return out

    def ids_of_type(self, t: str) -> set[str]:
        """Every id of type t that some fact names, on either side."""
        out: set[str] = set()
        for (rtype, _rel, _stype, _srel), d in self._fwd.items():
            if rtype == t:
                out.update(d)
        for (stype, _srel, _rtype, _rel), d in self._rev.items():
            if stype == t:
                out.update(d)
        return out

    def __len__(self) -> int:
        return sum(1 if type(v) is str else len(v) for d in self._fwd.values() for v in d.values())

    # ---- writing --------------------------------------------------------------------------

    def add(self, t: Iterable[str]) -> None:
        rtype, rid, rel, stype, sid, srel = map(sys.intern, t)
        _put(self._kind(self._fwd, (rtype, rel, stype, srel)), rid, sid)
        _put(self._kind(self._rev, (stype, srel, rtype, rel)), sid, rid)

    def add_all(self, facts: Iterable[tuple[str, str, str, str, str, str]]) -> None:
        """add() of each fact, in bulk (a tenant's load: a million facts before it serves). The
        kind's two dicts are found once per kind, and a first item is stored without a call."""
        intern, fwd, rev = sys.intern, self._fwd, self._rev
        dicts: dict[tuple, tuple[dict, dict]] = {}
        for rtype, rid, rel, stype, sid, srel in facts:
            pair = dicts.get((rtype, rel, stype, srel))
            if pair is None:
                rtype, rel, stype, srel = map(intern, (rtype, rel, stype, srel))
                pair = dicts[(rtype, rel, stype, srel)] = (self._kind(fwd, (rtype, rel, stype, srel)),
                                                           self._kind(rev, (stype, srel, rtype, rel)))
            f, r = pair
            rid, sid = intern(rid), intern(sid)
            if f.get(rid) is None:
                f[rid] = sid
            else:
                _put(f, rid, sid)
            if r.get(sid) is None:
                r[sid] = rid
            else:
                _put(r, sid, rid)

    def remove(self, t: Iterable[str]) -> None:
        rtype, rid, rel, stype, sid, srel = t
        d = self._fwd.get((rtype, rel, stype, srel))
        if d is not None:
            _take(d, rid, sid)
        d = self._rev.get((stype, srel, rtype, rel))
        if d is not None:
            _take(d, sid, rid)

    def _kind(self, index: dict[Kind, dict], kind: Kind) -> dict:
        d = index.get(kind)
        if d is None:
            d = index[kind] = {}
            if index is self._fwd:
                self._fwd_by.setdefault((kind[0], kind[1]), []).append((kind[2], kind[3], d))
            else:
                self._rev_by.setdefault(kind[0], []).append((kind[1], kind[2], kind[3], d))
        return d


def _put(d: dict, key: str, item: str) -> None:
    v = d.get(key)
    if v is None:
        d[key] = item
    elif type(v) is str:
        if v != item:
            d[key] = (v, item)
    elif type(v) is tuple:
        if item not in v:
            d[key] = v + (item,) if len(v) < SMALL else set(v) | {item}
    else:
        v.add(item)


def _take(d: dict, key: str, item: str) -> None:
    v = d.get(key)
    if v is None:
        return
    if type(v) is str:
        if v == item:
            del d[key]
        return
    rest = [x for x in v if x != item] if type(v) is tuple else None
    if rest is None:  # a set
        v.discard(item)
        rest = v
    if not rest:
        del d[key]
    elif len(rest) == 1:
        d[key] = next(iter(rest))
    elif type(v) is tuple:
        d[key] = tuple(rest)
