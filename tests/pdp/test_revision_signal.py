"""The shared signal that lets a check skip reading the revision: moved by every commit that
advances a revision, and by nothing else."""
from __future__ import annotations

import pytest

from scim_authz import pdp
from scim_authz.db.extensions import db
from scim_authz.pdp import changes, revision_signal
from tests.conftest import DATABASE_URL, make_tenant

pytestmark = pytest.mark.skipif(DATABASE_URL.startswith("postgresql"),
                                reason="the signal is SQLite's: PostgreSQL reads the revision per check")


def test_a_committed_change_moves_the_signal_and_a_rolled_back_one_does_not(app):
    tid, _ = make_tenant(app, "signal")
    with app.app_context():
        sig = revision_signal.for_engine(db.engine)
        assert sig is not None and sig.path.endswith("-revision")
        before = sig.token()
        changes.record(tid, "tenant", [])
        db.session.rollback()
        assert sig.token() == before
        db.session.execute(db.text("SELECT 1"))
        db.session.commit()  # a commit that changed no revision
        assert sig.token() == before
        changes.record(tid, "tenant", [])
        db.session.commit()
        assert sig.token() != before


def test_a_check_reads_the_revision_only_when_the_signal_moved(app, api, tenant):
    """The engine trusts its store while the signal stands still, and catches up once it moves."""
    from tests.api._api_helpers import check

    tid = tenant[0]
    check(api, "nobody", "view", "doc:1")
    with app.app_context():
        eng = pdp.engine(app)
        reads = []
        real = eng.reader.revision
        eng.reader.revision = lambda t: reads.append(t) or real(t)
        try:
            check(api, "nobody", "view", "doc:1")
            assert reads == []
            changes.record(tid, "tenant", [])
            db.session.commit()
            check(api, "nobody", "view", "doc:1")
            assert reads == [tid]
            assert eng.stores[tid].revision == real(tid)
        finally:
            eng.reader.revision = real


def test_the_signal_can_be_turned_off(app):
    from scim_authz import create_app
    from tests.conftest import app_config

    off = create_app({**app_config(app.config["SQLALCHEMY_DATABASE_URI"]), "AUTHZ_REVISION_SIGNAL": "none"})
    with off.app_context():
        assert pdp.engine(off).signal is None
    bad = create_app({**app_config(app.config["SQLALCHEMY_DATABASE_URI"]), "AUTHZ_REVISION_SIGNAL": "mmap"})
    with bad.app_context(), pytest.raises(ValueError):
        pdp.engine(bad)
    for a in (off, bad):
        with a.app_context():
            db.engine.dispose()
