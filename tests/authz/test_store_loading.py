"""Loading a tenant in bulk: the store read from the SQL database is the store built from the same
policy in memory, users in the same groups share one set of them, and a membership changed after
the load changes only the user it names."""
from __future__ import annotations

from scim_authz.authz import grants
from scim_authz.authz.engine import Engine
from scim_authz.authz.snapshot_reader import SnapshotReader
from scim_authz.authz.sql_store import SQLReader
from scim_authz.db.extensions import db
from tests.authz.builders import into_database, snapshot

CASE = {
    "users": [{"id": "u1", "userName": "Ann@Example.com", "externalId": "x1"},
              {"id": "u2", "userName": "bob@example.com"},
              {"id": "u3", "userName": "cy@example.com", "active": False},
              {"id": "u4", "userName": "di@example.com"},
              {"id": "u5", "userName": "ed@example.com"}],
    "groups": [{"id": "g1", "name": "Engineering", "users": ["u1", "u2", "u3"], "subgroups": ["g3"]},
               {"id": "g2", "name": "Sales", "users": ["u1", "u2", "u4", "gone"]},
               {"id": "g3", "name": "Platform", "users": ["u5"]},
               {"id": "g4", "name": "Empty"}],
    "roles": [{"key": "viewer", "permissions": ["doc:read"]}, {"key": "seller", "permissions": ["deal:*"]},
              {"key": "night", "permissions": ["doc:delete"], "condition": "context.hour >= 20"}],
    "assignments": [{"user": "u4", "role": "night"}, {"user": "u2", "role": "viewer", "resource": "doc:7"}],
    "mappings": [{"group": "g1", "role": "viewer"}, {"group": "g2", "role": "seller"}],
}


def _grants(st, uid: str) -> tuple:
    """A user's grants as plain values (roles' bits by role key: they follow the order roles were read in;
    when an assignment was made is left out: the in-memory case has none)."""
    ug, h = grants.of(st, uid), grants.hot_of(st, uid)
    key_of = {bit: key for key, bit in st._role_bit.items()}
    return (sorted(ug.groups), [(g.role, g.scope, g.source, g.via, g.via_name) for g in ug.grants],
            [r.key for r, _ in ug.unconditional], [r.key for r, _ in ug.conditional], sorted(ug.instance),
            [(key_of[h[k]], h[k + 1]) for k in range(grants.HOT_ALLOW, len(h), 2)])


def _shape(st) -> dict:
    """What a store holds of the directory and each user's grants, as plain values."""
    return {
        "users": {uid: (u.user_name, u.external_id, u.active, sorted(u.groups)) for uid, u in st.users.items()},
        "groups": {gid: (g.name, sorted(g.users), sorted(g.subgroups), sorted(g.parents))
                   for gid, g in st.groups.items()},
        "by_name": dict(st.by_name), "by_external": dict(st.by_external), "inactive": sorted(st.inactive),
        "grants": {uid: _grants(st, uid) for uid in st.users},
    }


def test_the_store_read_from_sql_is_the_store_built_in_memory(app):
    memory = Engine(SnapshotReader([snapshot(CASE)]))
    memory.load_all()
    with app.app_context():
        tid = into_database(CASE)
        sql = Engine(SQLReader(db.engine))
        sql.load_all()
    expected, got = _shape(memory.stores[1]), _shape(sql.stores[tid])
    assert got == expected
    assert got["groups"]["g2"][1] == ["gone", "u1", "u2", "u4"]  # a member that is no user is kept
    assert got["users"]["u5"][3] == ["g3"] and got["grants"]["u5"][0] == ["g1", "g3"]  # through nesting
    assert got["by_name"]["ann@example.com"] == "u1"


def test_users_in_the_same_groups_share_one_set_and_a_change_touches_only_its_user():
    eng = Engine(SnapshotReader([snapshot(CASE)]))
    eng.load_all()
    st = eng.stores[1]
    u1, u2 = st.users["u1"], st.users["u2"]
    assert u1.groups == {"g1", "g2"} and u1.groups is u2.groups
    # u1's grants are those of its groups, shared; u2's instance role gives it an entry of its own.
    assert grants.hot_of(st, "u1") is st.groupset_cache[u1.groups]
    assert grants.hot_of(st, "u2") is not grants.hot_of(st, "u1")
    assert grants.of(st, "u1").groups is u1.groups and grants.of(st, "u2").groups is u1.groups

    st._remove_member("g2", "u1")
    assert u1.groups == {"g1"} and u2.groups == {"g1", "g2"}
    st._add_member("g4", "u2", "User")
    assert u2.groups == {"g1", "g2", "g4"} and u1.groups == {"g1"}
    assert st.groups["g4"].users == {"u2"} and "u1" not in st.groups["g2"].users
    st._drop_group("g1")
    assert u1.groups == frozenset() and u2.groups == {"g2", "g4"} and st.users["u3"].groups == frozenset()
