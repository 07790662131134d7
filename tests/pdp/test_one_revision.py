"""pdp.changes.one_revision(): every write recorded inside goes in under one revision, advanced
once at the commit, and each `record` returns that revision; a rollback advances nothing."""
from __future__ import annotations

from sqlalchemy import select

from scim_authz.db.extensions import db
from scim_authz.db.models import Change, Relationship, Tenant
from scim_authz.db.txn import intent
from scim_authz.pdp.changes import committed_revisions, current_revision, one_revision, record
from scim_authz.policy import relationships, roles


def _revision(tenant_id: int) -> int:
    return db.session.execute(select(Tenant.revision).where(Tenant.id == tenant_id)).scalar_one()


def test_records_inside_share_the_revision_the_commit_makes(app, tenant):
    tid = tenant[0]
    with app.app_context(), intent(True):
        before = _revision(tid)
        with one_revision() as coming:
            _, a = roles.create_role(tid, {"key": "viewer", "permissions": ["document:view"]})
            _, b = roles.create_role(tid, {"key": "editor", "permissions": ["document:edit"], "extends": ["viewer"]})
            relationships.write_schema(tid, "entity doc {\n  relation owner @user\n}\n", "tests")
            _, c = relationships.write_relationships(tid, [{"resource": "doc:1", "relation": "owner",
                                                            "subject": "user:ann"}])
            assert a == b == c == before + 1 == coming[tid]
            assert current_revision(tid) == before + 1  # noted, not yet advanced
        assert _revision(tid) == before  # nothing advanced before the commit
        db.session.commit()
        assert committed_revisions() == {tid: before + 1}
        assert _revision(tid) == before + 1
        logged = db.session.execute(select(Change.revision, Change.kind).where(
            Change.tenant_id == tid, Change.revision > before)).all()
        assert {r for r, _ in logged} == {before + 1}
        assert sorted(k for _, k in logged) == ["relationship", "role", "role", "schema"]
        # the rows that keep the revision that wrote them keep the one that was made
        assert db.session.execute(select(Relationship.revision).where(Relationship.tenant_id == tid)).scalar() \
            == before + 1


def test_outside_the_block_each_record_advances(app, tenant):
    tid = tenant[0]
    with app.app_context(), intent(True):
        before = _revision(tid)
        assert record(tid, "role", ["a"]) == before + 1
        assert record(tid, "role", ["b"]) == before + 2
        db.session.commit()
        assert _revision(tid) == before + 2


def test_a_rolled_back_block_advances_nothing(app, tenant):
    tid = tenant[0]
    with app.app_context(), intent(True):
        before = _revision(tid)
        with one_revision():
            roles.create_role(tid, {"key": "viewer", "permissions": ["document:view"]})
        db.session.rollback()
        db.session.commit()
        assert _revision(tid) == before
        assert not db.session.execute(select(Change).where(Change.tenant_id == tid, Change.revision > before)).first()


def test_nested_blocks_are_the_outer_one(app, tenant):
    tid = tenant[0]
    with app.app_context(), intent(True):
        before = _revision(tid)
        with one_revision() as outer:
            first = record(tid, "role", ["a"])
            with one_revision() as inner:
                assert inner is outer
                assert record(tid, "role", ["b"]) == first
            assert record(tid, "role", ["c"]) == first == before + 1
        db.session.commit()
        assert _revision(tid) == before + 1
