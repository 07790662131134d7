"""The schema comes from Alembic migrations only; they must build exactly what the models describe."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from scim_authz import create_app
from scim_authz.db.extensions import db
from tests import conftest
from tests.conftest import DATABASE_URL, app_config


@pytest.fixture
def bare_app(tmp_path):
    url = DATABASE_URL if DATABASE_URL.startswith("postgresql") else f"sqlite:///{tmp_path / 'm.db'}"
    app = create_app(app_config(url))
    with app.app_context():
        db.drop_all()
        db.session.execute(db.text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    conftest._pg_schema_ready = False  # the tables are gone: the next test builds them again


def test_upgrade_matches_models_and_downgrade_empties(bare_app):
    with bare_app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}


def test_decision_log_migration_keeps_monthly_active_users(bare_app):
    """0004 drops the per-user index of the decision log: the months' active users it counted
    from are carried into active_users, so usage reads the same before and after."""
    with bare_app.app_context():
        upgrade(revision="0003_admins")
        with db.engine.begin() as conn:
            conn.execute(db.text("INSERT INTO tenants (id, key, name, role_mode, settings, revision, created) "
                                 "VALUES (1, 't', 'T', 'hybrid', '{}', 0, '2026-01-01 00:00:00')"))
            for n, (at, user) in enumerate([("2026-09-30 23:59:59", "u1"), ("2026-10-01 00:00:00", "u1"),
                                            ("2026-10-15 10:00:00", "u2"), ("2026-10-16 10:00:00", "u2"),
                                            ("2026-10-17 10:00:00", None)]):
                conn.execute(db.text(
                    "INSERT INTO decisions (id, tenant_id, at, asked_by, user_id, user_key, action, resource_type, "
                    "resource_id, allowed, reason, revision) VALUES (:id, 1, :at, 'k', :u, 'x', 'a', 'r', '1', "
                    "true, 'why', 1)"), {"id": f"d{n}", "at": at, "u": user})
        upgrade()
        with db.engine.connect() as conn:
            got = conn.execute(db.text("SELECT month, user_id FROM active_users ORDER BY month, user_id")).all()
        assert [tuple(r) for r in got] == [("2026-09", "u1"), ("2026-10", "u1"), ("2026-10", "u2")]
        assert "ix_decisions_tenant_user_at" not in {i["name"] for i in inspect(db.engine).get_indexes("decisions")}
        downgrade(revision="base")


def test_uncheckable_permissions_are_reported_by_the_migration_and_kept(bare_app, capfd):
    """0005 names each saved permission whose action no check can ask about, and changes nothing."""
    with bare_app.app_context():
        upgrade(revision="0004_decision_log")
        with db.engine.begin() as conn:
            conn.execute(db.text("INSERT INTO tenants (id, key, name, role_mode, settings, revision, created) "
                                 "VALUES (1, 'acme', 'A', 'hybrid', '{}', 0, '2026-01-01 00:00:00')"))
            conn.execute(db.text(
                "INSERT INTO roles (id, tenant_id, key, name, description, permissions, extends, created, updated) "
                "VALUES (1, 1, 'signer', 'signer', '', :p, '[]', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"),
                {"p": '["document:view", "document:sign-off"]'})
        capfd.readouterr()
        upgrade()  # alembic.ini sends the migration log to stderr
        said = capfd.readouterr().err
        assert "tenant acme, role signer: permission 'document:sign-off' can never be checked" in said
        assert "document:view'" not in said
        with db.engine.connect() as conn:
            kept = conn.execute(db.text("SELECT permissions FROM roles WHERE id = 1")).scalar_one()
        assert "document:sign-off" in (kept if isinstance(kept, str) else str(kept))
        downgrade(revision="base")


def test_directory_counts_are_filled_from_the_rows(bare_app):
    """0011 keeps each tenant's user and group counts on its row, filled from the rows that exist."""
    with bare_app.app_context():
        upgrade(revision="0010_group_name_unique")
        with db.engine.begin() as conn:
            for tid, key in ((1, "acme"), (2, "empty")):
                conn.execute(db.text("INSERT INTO tenants (id, key, name, role_mode, settings, revision, created) "
                                     "VALUES (:id, :k, :k, 'hybrid', '{}', 0, '2026-01-01 00:00:00')"),
                             {"id": tid, "k": key})
            for i in range(3):
                conn.execute(db.text(
                    "INSERT INTO users (id, tenant_id, user_name, user_name_ci, active, doc, app_attributes, version, "
                    "created, last_modified) VALUES (:id, 1, :n, :n, true, '{}', '{}', 1, '2026-01-01 00:00:00', "
                    "'2026-01-01 00:00:00')"), {"id": f"u{i}", "n": f"user{i}"})
            conn.execute(db.text(
                "INSERT INTO groups (id, tenant_id, display_name, display_name_ci, doc, version, created, "
                "last_modified) VALUES ('g1', 1, 'G', 'g', '{}', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        upgrade()
        with db.engine.connect() as conn:
            got = conn.execute(db.text("SELECT id, user_count, group_count FROM tenants ORDER BY id")).all()
        assert [tuple(r) for r in got] == [(1, 3, 1), (2, 0, 0)]
        downgrade(revision="0010_group_name_unique")
        assert "user_count" not in {c["name"] for c in inspect(db.engine).get_columns("tenants")}
        downgrade(revision="base")
