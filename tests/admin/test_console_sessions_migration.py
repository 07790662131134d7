"""0006 gives existing admins the columns finding 3's fix reads: enabled, at session epoch 0."""
from __future__ import annotations

from flask_migrate import downgrade, upgrade

from scim_authz.db.extensions import db
from tests import test_migrations

bare_app = test_migrations.bare_app  # an empty database, built by the migrations alone


def test_finding_3_migration_keeps_admins_enabled_and_downgrades(bare_app):
    with bare_app.app_context():
        upgrade(revision="0005_report_uncheckable")
        with db.engine.begin() as conn:
            conn.execute(db.text("INSERT INTO admins (id, email, password_hash, tenant_id, created) "
                                 "VALUES (1, 'ada@acme.test', 'x', NULL, '2026-01-01 00:00:00')"))
        upgrade()
        with db.engine.connect() as conn:
            got = conn.execute(db.text("SELECT disabled_at, session_epoch FROM admins WHERE id = 1")).one()
        assert tuple(got) == (None, 0)
        downgrade(revision="0005_report_uncheckable")
        with db.engine.connect() as conn:
            assert conn.execute(db.text("SELECT email FROM admins")).scalar_one() == "ada@acme.test"
        downgrade(revision="base")
