"""The engine's Reader over the SQL database (SQLite or PostgreSQL), in plain SQL through
SQLAlchemy Core: no Flask, no ORM session, its own short connections."""
from __future__ import annotations

import contextlib
import json
import os
import threading
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine as SAEngine

from scim_authz.authz.model import GroupInfo, UserInfo
from scim_authz.authz.schema_model import CompiledSchema
from scim_authz.authz.store import AssignmentRow, MappingRow, RoleRow, Snapshot, TenantRow


def _json(v):
    return json.loads(v) if isinstance(v, str) else v


class SQLReader:
    """Reads tenants' policy for the engine."""

    def __init__(self, engine: SAEngine, read_guard=None):
        self.engine = engine
        # A context manager factory wrapped around every read, e.g. one that tells SQLite to take
        # no write lock even when the request around it is a write.
        self.read_guard = read_guard or contextlib.nullcontext
        self._local = threading.local()
        paramstyle = engine.dialect.paramstyle
        self._revision_sql = "SELECT revision FROM tenants WHERE id = " + ("?" if paramstyle == "qmark" else "%s")

    def _rows(self, sql: str, **params):
        with self.read_guard(), self.engine.connect() as conn:
            return conn.execute(text(sql), params).all()

    def tenant_ids(self) -> list[int]:
        return [r[0] for r in self._rows("SELECT id FROM tenants ORDER BY id")]

    def revision(self, tenant_id: int) -> int:
        """The tenant's newest revision: read on every check, so it goes straight to the driver on a
        connection this thread keeps (in autocommit, so it never holds a snapshot or a lock)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = self.engine.raw_connection()
            driver = conn.driver_connection
            conn.detach()  # ours alone: its autocommit setting must never reach the pool
            if self.engine.dialect.name == "sqlite":
                driver.isolation_level = None
            else:
                driver.autocommit = True
            conn = driver
            self._local.conn, self._local.pid = conn, os.getpid()
        try:
            cur = conn.cursor()
            cur.execute(self._revision_sql, (tenant_id,))
            row = cur.fetchone()
            cur.close()
        except Exception:
            self._local.conn = None
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - the connection is being thrown away anyway
                pass
            raise
        return row[0] if row else 0

    def tenant(self, tenant_id: int) -> TenantRow | None:
        rows = self._rows("SELECT id, key, role_mode, settings, revision FROM tenants WHERE id = :t", t=tenant_id)
        if not rows:
            return None
        r = rows[0]
        return TenantRow(r[0], r[1], r[2], _json(r[3]) or {}, r[4])

    def snapshot(self, tenant_id: int) -> Snapshot:
        """Everything of one tenant, read in one transaction so it is one revision's state."""
        with self.read_guard(), self.engine.connect() as conn:
            q = lambda sql: conn.execute(text(sql), {"t": tenant_id})  # noqa: E731
            t = q("SELECT id, key, role_mode, settings, revision FROM tenants WHERE id = :t").first()
            if t is None:
                raise KeyError(f"no tenant {tenant_id}")
            snap = Snapshot(TenantRow(t[0], t[1], t[2], _json(t[3]) or {}, t[4]))
            snap.users = [UserInfo(r[0], r[1], r[2], bool(r[3]), r[4]) for r in q(
                "SELECT id, user_name, external_id, active, display_name FROM users WHERE tenant_id = :t")]
            snap.groups = [GroupInfo(r[0], r[1], r[2]) for r in q(
                "SELECT id, display_name, external_id FROM groups WHERE tenant_id = :t")]
            snap.memberships = [tuple(r) for r in q(
                "SELECT group_id, member_id, member_type FROM group_members WHERE tenant_id = :t")]
            roles = {r[0]: RoleRow(r[0], r[1], r[2], tuple(_json(r[3]) or ()), tuple(_json(r[4]) or ()), r[5])
                     for r in q("SELECT id, key, name, permissions, extends, condition FROM roles "
                                "WHERE tenant_id = :t")}
            snap.roles = list(roles.values())
            snap.assignments = [AssignmentRow(r[0], r[1], roles[r[2]].key, r[3], r[4], r[5], _iso(r[6])) for r in q(
                "SELECT id, user_id, role_id, resource_type, resource_id, assigned_by, created "
                "FROM role_assignments WHERE tenant_id = :t") if r[2] in roles]
            snap.mappings = [MappingRow(r[0], r[1], roles[r[2]].key, r[3], r[4], r[5]) for r in q(
                "SELECT id, group_id, role_id, resource_type, resource_id, created_by "
                "FROM group_role_mappings WHERE tenant_id = :t") if r[2] in roles]
            s = q("SELECT version, compiled FROM authz_schemas WHERE tenant_id = :t "
                  "ORDER BY version DESC LIMIT 1").first()
            if s is not None:
                snap.schema_version, snap.schema = s[0], CompiledSchema.from_json(_json(s[1]))
            snap.relationships = [tuple(r) for r in conn.execution_options(yield_per=50_000).execute(text(
                "SELECT resource_type, resource_id, relation, subject_type, subject_id, subject_relation "
                "FROM relationships WHERE tenant_id = :t"), {"t": tenant_id})]
        return snap

    def changes_since(self, tenant_id: int, revision: int, limit: int) -> list[tuple[int, str, str]]:
        return [tuple(r) for r in self._rows(
            "SELECT revision, kind, ref FROM changes WHERE tenant_id = :t AND revision > :r "
            "ORDER BY revision, id LIMIT :n", t=tenant_id, r=revision, n=limit)]

    def user(self, tenant_id: int, user_id: str) -> UserInfo | None:
        rows = self._rows("SELECT id, user_name, external_id, active, display_name FROM users "
                          "WHERE tenant_id = :t AND id = :u", t=tenant_id, u=user_id)
        return UserInfo(rows[0][0], rows[0][1], rows[0][2], bool(rows[0][3]), rows[0][4]) if rows else None

    def user_attributes(self, tenant_id: int, user_id: str) -> dict:
        rows = self._rows("SELECT doc, app_attributes FROM users WHERE tenant_id = :t AND id = :u",
                          t=tenant_id, u=user_id)
        return {**(_json(rows[0][0]) or {}), **(_json(rows[0][1]) or {})} if rows else {}

    def group(self, tenant_id: int, group_id: str) -> GroupInfo | None:
        rows = self._rows("SELECT id, display_name, external_id FROM groups WHERE tenant_id = :t AND id = :g",
                          t=tenant_id, g=group_id)
        return GroupInfo(*rows[0]) if rows else None

    def membership(self, group_id: str, member_id: str) -> str | None:
        rows = self._rows("SELECT member_type FROM group_members WHERE group_id = :g AND member_id = :m",
                          g=group_id, m=member_id)
        return rows[0][0] if rows else None

    def group_members(self, group_id: str) -> list[tuple[str, str]]:
        return [tuple(r) for r in self._rows(
            "SELECT member_id, member_type FROM group_members WHERE group_id = :g", g=group_id)]

    def role(self, tenant_id: int, key: str) -> RoleRow | None:
        rows = self._rows("SELECT id, key, name, permissions, extends, condition FROM roles "
                          "WHERE tenant_id = :t AND key = :k", t=tenant_id, k=key)
        if not rows:
            return None
        r = rows[0]
        return RoleRow(r[0], r[1], r[2], tuple(_json(r[3]) or ()), tuple(_json(r[4]) or ()), r[5])

    def assignments_of(self, tenant_id: int, user_id: str) -> list[AssignmentRow]:
        return [AssignmentRow(r[0], r[1], r[2], r[3], r[4], r[5], _iso(r[6])) for r in self._rows(
            "SELECT a.id, a.user_id, r.key, a.resource_type, a.resource_id, a.assigned_by, a.created "
            "FROM role_assignments a JOIN roles r ON r.id = a.role_id "
            "WHERE a.tenant_id = :t AND a.user_id = :u", t=tenant_id, u=user_id)]

    def mappings_of(self, tenant_id: int, group_id: str) -> list[MappingRow]:
        return [MappingRow(*r) for r in self._rows(
            "SELECT m.id, m.group_id, r.key, m.resource_type, m.resource_id, m.created_by "
            "FROM group_role_mappings m JOIN roles r ON r.id = m.role_id "
            "WHERE m.tenant_id = :t AND m.group_id = :g", t=tenant_id, g=group_id)]

    def schema(self, tenant_id: int, version: int | None) -> tuple[int, Any] | None:
        if version is None:
            rows = self._rows("SELECT version, compiled FROM authz_schemas WHERE tenant_id = :t "
                              "ORDER BY version DESC LIMIT 1", t=tenant_id)
        else:
            rows = self._rows("SELECT version, compiled FROM authz_schemas WHERE tenant_id = :t AND version = :v",
                              t=tenant_id, v=version)
        return (rows[0][0], CompiledSchema.from_json(_json(rows[0][1]))) if rows else None

    def relationship_exists(self, tenant_id: int, key: tuple) -> bool:
        rt, ri, rel, st, si, sr = key
        return bool(self._rows(
            "SELECT 1 FROM relationships WHERE tenant_id = :t AND resource_type = :rt AND resource_id = :ri "
            "AND relation = :rel AND subject_type = :st AND subject_id = :si AND subject_relation = :sr",
            t=tenant_id, rt=rt, ri=ri, rel=rel, st=st, si=si, sr=sr))


def _iso(v) -> str:
    return v.isoformat(timespec="seconds") + "Z" if hasattr(v, "isoformat") else str(v or "")
