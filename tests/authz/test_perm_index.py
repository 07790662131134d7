"""The tenant's permission index (role bits) and the check's use of it."""
from __future__ import annotations

from scim_authz.authz import grants
from scim_authz.authz.engine import Engine
from scim_authz.authz.model import RoleDef
from scim_authz.authz.perm_index import PermIndex
from scim_authz.authz.snapshot_reader import SnapshotReader
from scim_authz.authz.store import RoleRow, TenantStore
from tests.authz.builders import snapshot


def _role(key: str, *perms: str) -> RoleDef:
    return RoleDef(1, key, key, frozenset(perms))


def test_granting_names_the_roles_that_give_a_permission_by_name_type_wildcard_or_star():
    bits: dict[str, int] = {}
    idx = PermIndex({"reader": _role("reader", "doc:read"), "docs": _role("docs", "doc:*"),
                     "admin": _role("admin", "*"), "other": _role("other", "report:read")}, bits)
    r, d, a, o = (bits[k] for k in ("reader", "docs", "admin", "other"))
    assert len({r, d, a, o}) == 4 and all(b & (b - 1) == 0 for b in (r, d, a, o))  # one bit each
    assert idx.granting("doc", "doc:read") == r | d | a
    assert idx.granting("doc", "doc:write") == d | a  # no role names it: the wildcards still count
    assert idx.granting("report", "report:read") == o | a
    assert idx.granting("report", "report:write") == a
    # The type is what comes before the first colon of the check's resource, not of the permission.
    assert idx.granting("doc:x", "doc:x:read") == a


def test_a_tenant_without_wildcards_grants_only_what_roles_name():
    idx = PermIndex({"reader": _role("reader", "doc:read")}, {})
    assert idx.granting("doc", "doc:write") == 0
    assert idx.granting("doc", "doc:read") == 1


def test_role_bits_are_never_reused_while_the_store_lives():
    case = {"users": [{"id": "u1", "userName": "ann"}],
            "roles": [{"key": "a", "permissions": ["doc:read"]}, {"key": "b", "permissions": ["doc:edit"]}],
            "assignments": [{"user": "u1", "role": "b"}]}
    st = TenantStore(snapshot(case))
    before = grants.of(st, "u1")  # made with the old index: role b's bit only
    bit_a, bit_b = st.perm_index.bit("a"), st.perm_index.bit("b")

    class Reader:
        rows = {"c": RoleRow(3, "c", "c", ("doc:delete",), (), None)}

        def role(self, tid, key):
            return self.rows.get(key)

    st.apply([(2, "role", "a")], Reader())  # role a deleted
    st.apply([(3, "role", "c")], Reader())  # role c created: a new bit, not a's
    assert st.perm_index.bit("b") == bit_b
    assert st.perm_index.bit("c") not in (bit_a, bit_b)
    assert st.perm_index.granting("doc", "doc:delete") == st.perm_index.bit("c")
    # A user's grants made before the change still read against the index they were made with.
    assert before.index.granting("doc", "doc:edit") & before.allow_mask == bit_b
    assert before.index.granting("doc", "doc:delete") & before.allow_mask == 0


def test_the_first_role_of_the_user_that_grants_it_is_the_reason_and_denials_name_the_user_only_when_explaining():
    case = {"users": [{"id": "u1", "userName": "ann@example.com"}],
            "groups": [{"id": "g1", "name": "Engineering", "users": ["u1"]}],
            "roles": [{"key": "viewer", "permissions": ["doc:read"]}, {"key": "editor", "permissions": ["doc:*"]}],
            "assignments": [{"user": "u1", "role": "viewer"}],
            "mappings": [{"group": "g1", "role": "editor"}]}
    eng = Engine(SnapshotReader([snapshot(case)]))
    eng.load_all()
    assert eng.check(1, "u1", "read", "doc", "1").reason == "allowed: role viewer assigned by tests (app)"
    assert eng.check(1, "u1", "edit", "doc", "1").reason == "allowed: role editor via group Engineering (IdP)"
    denied = eng.check(1, "u1", "read", "report", "1")
    assert not denied.allowed
    assert denied.reason == "denied: no role grants report:read, and the schema has no rule report.read"
    explained = eng.check(1, "u1", "read", "report", "1", explain=True)
    assert explained.reason.startswith("denied: no role of ann@example.com grants report:read")


def test_a_users_grants_cache_entry_holds_what_a_check_reads_in_one_flat_tuple():
    case = {"users": [{"id": "u1", "userName": "ann"}, {"id": "u2", "userName": "bob"},
                      {"id": "u3", "userName": "cy"}, {"id": "u4", "userName": "di"},
                      {"id": "u5", "userName": "ed"}],
            "groups": [{"id": "g1", "name": "Engineering", "users": ["u1"]}],
            # ten roles first, so the roles below have bits above 256 (not ints CPython shares anyway)
            "roles": [{"key": f"filler{i}", "permissions": ["misc:read"]} for i in range(10)] +
                     [{"key": "viewer", "permissions": ["doc:read"]}, {"key": "editor", "permissions": ["doc:*"]},
                      {"key": "night", "permissions": ["doc:delete"], "condition": "context.hour >= 20"}],
            "assignments": [{"user": "u1", "role": "viewer"}, {"user": "u2", "role": "viewer"},
                            {"user": "u5", "role": "viewer"},
                            {"user": "u3", "role": "night"}, {"user": "u4", "role": "editor", "resource": "doc:7"}],
            "mappings": [{"group": "g1", "role": "editor"}]}
    eng = Engine(SnapshotReader([snapshot(case)]))
    eng.load_all()
    st = eng.stores[1]
    viewer, editor = st.perm_index.bit("viewer"), st.perm_index.bit("editor")

    h = grants.hot_of(st, "u1")
    assert h[grants.HOT_MASK] == viewer | editor and h[grants.HOT_INDEX] is st.perm_index
    assert h[grants.HOT_GRANTS] is grants.of(st, "u1") and h[grants.HOT_SLOW] is False
    assert h[grants.HOT_ALLOW:] == (viewer, "allowed: role viewer assigned by tests (app)",
                                    editor, "allowed: role editor via group Engineering (IdP)")
    # One role: the mask is that role's bit itself, shared by every user holding it alone.
    assert viewer > 256
    assert grants.hot_of(st, "u2")[grants.HOT_MASK] is viewer
    assert grants.hot_of(st, "u5")[grants.HOT_MASK] is viewer
    # Conditional and instance roles are not in the mask; the entry says the check must look further.
    for uid in ("u3", "u4"):
        assert grants.hot_of(st, uid)[grants.HOT_MASK] == 0 and grants.hot_of(st, uid)[grants.HOT_SLOW] is True
    assert eng.check(1, "u3", "delete", "doc", "1", context={"hour": 21}).allowed
    assert not eng.check(1, "u3", "delete", "doc", "1", context={"hour": 9}).allowed
    assert eng.check(1, "u4", "edit", "doc", "7").reason == "allowed: role editor on doc:7 assigned by tests (app)"
    assert not eng.check(1, "u4", "edit", "doc", "8").allowed
