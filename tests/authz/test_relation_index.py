"""The compact relationship index: one id, a tuple, then a set per key, and back again."""
from __future__ import annotations

from scim_authz.authz.relation_index import SMALL, RelationIndex


def test_one_subject_many_subjects_and_back():
    ix = RelationIndex()
    ix.add(("document", "d1", "parent", "folder", "f1", ""))
    assert ix.subjects("document", "d1", "parent") == [("folder", "f1", "")]
    assert ix.objects("folder", "f1") == [("document", "d1", "parent", "")]
    viewers = [f"u{n}" for n in range(SMALL + 3)]
    for u in viewers:
        ix.add(("document", "d1", "viewer", "user", u, ""))
    ix.add(("document", "d1", "viewer", "user", "u0", ""))  # a fact twice is one fact
    assert sorted(s for _, s, _ in ix.subjects("document", "d1", "viewer")) == sorted(viewers)
    for u in viewers[1:]:
        ix.remove(("document", "d1", "viewer", "user", u, ""))
    assert ix.subjects("document", "d1", "viewer") == [("user", "u0", "")]
    ix.remove(("document", "d1", "viewer", "user", "u0", ""))
    ix.remove(("document", "d1", "viewer", "user", "u0", ""))  # removing what is gone changes nothing
    assert ix.subjects("document", "d1", "viewer") == []
    assert ix.objects("user", "u0") == []
    assert len(ix) == 1


def test_kinds_are_kept_apart_and_ids_of_a_type_come_from_both_sides():
    ix = RelationIndex()
    ix.add(("folder", "f1", "viewer", "group", "g1", "member"))
    ix.add(("folder", "f1", "viewer", "user", "u1", ""))
    ix.add(("folder", "f2", "parent", "folder", "f1", ""))
    assert sorted(ix.subjects("folder", "f1", "viewer")) == [("group", "g1", "member"), ("user", "u1", "")]
    assert ix.subjects("folder", "f1", "parent") == []
    assert ix.objects("folder", "f1") == [("folder", "f2", "parent", "")]
    assert ix.ids_of_type("folder") == {"f1", "f2"}
    assert ix.ids_of_type("group") == {"g1"}
    tuple_then_one = RelationIndex()
    tuple_then_one.add(("doc", "d", "owner", "user", "a", ""))
    tuple_then_one.add(("doc", "d", "owner", "user", "b", ""))
    tuple_then_one.remove(("doc", "d", "owner", "user", "a", ""))
    assert tuple_then_one.subjects("doc", "d", "owner") == [("user", "b", "")]
    assert tuple_then_one.objects("user", "b") == [("doc", "d", "owner", "")]


def test_adding_in_bulk_is_adding_one_by_one():
    """add_all (a tenant's load) leaves the index add() does, fact for fact: one id, tuples, sets,
    a fact twice, kinds found in any order; and what is read and removed afterwards agrees."""
    import random

    rng = random.Random(7)
    kinds = [("document", "owner", "user", ""), ("document", "parent", "folder", ""),
             ("folder", "viewer", "group", "member"), ("document", "viewer", "user", "")]
    facts = []
    for _ in range(5000):
        rtype, rel, stype, srel = rng.choice(kinds)
        facts.append((rtype, f"{rtype}{rng.randrange(300)}", rel, stype, f"{stype}{rng.randrange(60)}", srel))
    facts += facts[:50]
    one, bulk = RelationIndex(), RelationIndex()
    for t in facts:
        one.add(t)
    bulk.add_all(facts)
    assert bulk._fwd == one._fwd and bulk._rev == one._rev and len(bulk) == len(one)
    for stype, sid in (("user", "user7"), ("group", "group3"), ("folder", "folder11")):
        assert sorted(bulk.objects(stype, sid)) == sorted(one.objects(stype, sid))
    assert sorted(bulk.subjects("document", "document5", "viewer")) == sorted(one.subjects("document", "document5",
                                                                                          "viewer"))
    for t in facts[::3]:
        one.remove(t)
        bulk.remove(t)
    assert bulk._fwd == one._fwd and bulk._rev == one._rev
