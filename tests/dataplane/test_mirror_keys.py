"""A decision point finds the tenant of an application key in one look-up, however many tenants a
key of every tenant brings, and the look-up follows keys issued and revoked as changes arrive."""
from __future__ import annotations

from scim_authz.authz.store_rows import Snapshot, TenantRow
from scim_authz.dataplane.mirror import Mirror


def install(mirror: Mirror, tid: int, credentials: dict) -> None:
    mirror.install(Snapshot(TenantRow(tid, f"t{tid}", "hybrid", {}, 1)), {}, [], credentials)


def credentials_changed(mirror: Mirror, tid: int, revision: int, credentials: dict) -> None:
    mirror.receive(tid, {"revision": revision, "newest": revision, "changes": [[revision, "credential", cid]
                                                                                for cid in credentials],
                         "data": {"credentials": credentials}})


def test_every_tenants_keys_are_found_by_digest():
    m = Mirror()
    for tid in range(1, 301):
        install(m, tid, {str(10 * tid): [f"d{tid}a", f"key a of {tid}"], str(10 * tid + 1): [f"d{tid}b", "b"]})
    copy, (cid, label) = m.holder("d217b")
    assert (copy.id, copy.key, cid, label) == (217, "t217", 2171, "b")
    assert m.holder("d5a")[0].id == 5 and m.holder("d5a")[1] == (50, "key a of 5")
    assert m.holder("nobody") is None
    assert len(m.key_holders) == 600


def test_keys_issued_and_revoked_are_followed_as_changes_arrive():
    m = Mirror()
    install(m, 1, {"10": ["d1", "first"]})
    install(m, 2, {"20": ["d2", "other tenant's"]})
    credentials_changed(m, 1, 2, {"11": ["d1-new", "issued later"]})
    assert m.holder("d1-new")[0].id == 1 and m.holder("d1")[0].id == 1
    credentials_changed(m, 1, 3, {"10": None})  # revoked: no longer a usable key
    assert m.holder("d1") is None and m.holder("d1-new")[1] == (11, "issued later")
    assert m.holder("d2")[0].id == 2
    # a look-up that finds an index made before a revocation still refuses the key
    stale = dict(m.key_holders)
    credentials_changed(m, 2, 2, {"20": None})
    m.key_holders = stale
    assert m.holder("d2") is None
