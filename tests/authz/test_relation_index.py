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
