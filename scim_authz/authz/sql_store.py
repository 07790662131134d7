"""The engine's Reader over the SQL database (SQLite or PostgreSQL), in plain SQL through
SQLAlchemy Core: no Flask, no ORM session, its own short connections."""
from __future__ import annotations

import contextlib
import json
import os
import threading
from typing import Any

from sqlalchemy import and_, bindparam, column, or_, select, table, text, tuple_
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.exc import OperationalError

from scim_authz.authz.model import GroupInfo, UserInfo
from scim_authz.authz.schema_model import CompiledSchema
from scim_authz.authz.store import AssignmentRow, MappingRow, RoleRow, Snapshot, TenantRow

_MEMBERS = table("group_members", column("group_id"), column("member_id"), column("member_type"))
_RESOURCES = table("resource_attributes", column("tenant_id"), column("resource_type"), column("resource_id"),
                   column("attributes"))


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
        # A read of one statement needs no transaction around it: on PostgreSQL it runs in
        # autocommit, which saves the BEGIN and ROLLBACK round trips of a catch-up's every read.
        self._one_statement = engine.execution_options(isolation_level="AUTOCOMMIT") \
            if engine.dialect.name == "postgresql" else engine
        paramstyle = engine.dialect.paramstyle
        self._revision_sql = "SELECT revision FROM tenants WHERE id = " + ("?" if paramstyle == "qmark" else "%s")

    def _rows(self, sql: str, **params):
        with self.read_guard(), self._one_statement.connect() as conn:
            return conn.execute(text(sql), params).all()

    def tenant_ids(self) -> list[int]:
        return [r[0] for r in self._rows("SELECT id FROM tenants ORDER BY id")]

    def revision(self, tenant_id: int) -> int:
        """The tenant's newest revision: read on every check, so it goes straight to the driver on a
        connection this thread keeps (in autocommit, so it never holds a snapshot or a lock)."""
        conn = getattr(self._local, "conn", None)
        try:
            if conn is None or getattr(self._local, "pid", None) != os.getpid():
                conn = self._own_connection()
                self._local.conn, self._local.pid = conn, os.getpid()
            cur = conn.cursor()
            cur.execute(self._revision_sql, (tenant_id,))
            row = cur.fetchone()
            cur.close()
        except Exception as e:
            self._local.conn = None
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001 - the connection is being thrown away anyway
                    pass
            if isinstance(e, self.engine.dialect.loaded_dbapi.OperationalError):
                # As SQLAlchemy would say it (this read goes to the driver itself): the database is
                # out of reach, which the edges answer with a 503, not an unexpected error.
                raise OperationalError(self._revision_sql, (tenant_id,), e) from e
            raise
        return row[0] if row else 0

    def _own_connection(self):
        """A driver connection of this thread's, out of the pool, in autocommit."""
        pooled = self.engine.raw_connection()
        driver = pooled.driver_connection
        pooled.detach()  # ours alone: its autocommit setting must never reach the pool
        if self.engine.dialect.name == "sqlite":
            driver.isolation_level = None
        else:
            driver.autocommit = True
        return driver

    def tenant(self, tenant_id: int) -> TenantRow | None:
        rows = self._rows(_SNAPSHOT_SQL["tenant"], t=tenant_id)
        if not rows:
            return None
        r = rows[0]
        return TenantRow(r[0], r[1], r[2], _json(r[3]) or {}, r[4], r[5] is not None)

    def snapshot(self, tenant_id: int) -> Snapshot:
        """Everything of one tenant, read in one transaction so it is one revision's state (on
        PostgreSQL a repeatable-read one: every query sees the same commit).

        Built for loading thousands of tenants at start-up: rows come from the driver's cursor as
        plain tuples (no SQLAlchemy Row per row), memberships through the groups' index (the
        membership table has no index by tenant), users' documents are not read (conditions read
        them lazily through `user_attributes`)."""
        pg = self.engine.dialect.name == "postgresql"
        with self.read_guard(), self.engine.connect() as conn:
            if pg:
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():  # (begun by SQLAlchemy, so SQLite's BEGIN is the product's own)
                cur = conn.connection.cursor()
                try:
                    if pg:  # small index scans: starting parallel workers costs more than it saves
                        cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                    snap = _snapshot_rows(cur, _snapshot_sql(self.engine.dialect), tenant_id,
                                          binary=self.engine.dialect.driver == "psycopg")
                    if not pg:  # SQLite's driver steps through the rows as tuples: no Row per row
                        cur.execute(_RELATIONSHIPS_SQL.replace(":t", "?"), (tenant_id,))
                        snap.relationships = cur.fetchall()
                finally:
                    cur.close()
                if pg:  # (a server-side cursor: the client never holds the whole result twice)
                    snap.relationships = [tuple(r) for r in conn.execution_options(yield_per=50_000).execute(
                        text(_RELATIONSHIPS_SQL), {"t": tenant_id})]
                snap.resources = [(r[0], r[1], _json(r[2]) or {}) for r in conn.execution_options(
                    yield_per=50_000).execute(text("SELECT resource_type, resource_id, attributes "
                                                   "FROM resource_attributes WHERE tenant_id = :t"), {"t": tenant_id})]
        return snap

    def changes_since(self, tenant_id: int, revision: int, limit: int) -> list[tuple[int, str, str]]:
        return [tuple(r) for r in self._rows(
            "SELECT revision, kind, ref FROM changes WHERE tenant_id = :t AND revision > :r "
            "ORDER BY revision, id LIMIT :n", t=tenant_id, r=revision, n=limit)]

    def user(self, tenant_id: int, user_id: str) -> UserInfo | None:
        rows = self._rows("SELECT id, user_name, external_id, active, display_name FROM users "
                          "WHERE tenant_id = :t AND id = :u", t=tenant_id, u=user_id)
        return UserInfo(rows[0][0], rows[0][1], rows[0][2], bool(rows[0][3]), rows[0][4]) if rows else None

    def users(self, tenant_id: int, user_ids: list[str]) -> dict[str, UserInfo]:
        """Those of `user_ids` that exist, by id (a catch-up's users, in one query)."""
        rows = self._rows_in("SELECT id, user_name, external_id, active, display_name FROM users "
                             "WHERE tenant_id = :t AND id IN :ids", "ids", user_ids, t=tenant_id)
        return {r[0]: UserInfo(r[0], r[1], r[2], bool(r[3]), r[4]) for r in rows}

    def memberships(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The member type of each (group id, member id) of `pairs` that is a membership."""
        by_group: dict[str, list[str]] = {}
        for gid, mid in pairs:
            by_group.setdefault(gid, []).append(mid)
        # One group's members per condition: SQLite scans the whole table for a list of
        # (group, member) pairs, but walks the primary key for `group_id = ? AND member_id IN (…)`.
        cond = or_(*(and_(_MEMBERS.c.group_id == gid, _MEMBERS.c.member_id.in_(mids))
                     for gid, mids in by_group.items()))
        stmt = select(_MEMBERS.c.group_id, _MEMBERS.c.member_id, _MEMBERS.c.member_type).where(cond)
        with self.read_guard(), self._one_statement.connect() as conn:
            return {(r[0], r[1]): r[2] for r in conn.execute(stmt)}

    def _rows_in(self, sql: str, name: str, values: list, **params):
        stmt = text(sql).bindparams(bindparam(name, expanding=True))
        with self.read_guard(), self._one_statement.connect() as conn:
            return conn.execute(stmt, {**params, name: values}).all()

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


    def resource_attributes(self, tenant_id: int, rtype: str, rid: str) -> dict | None:
        rows = self._rows("SELECT attributes FROM resource_attributes WHERE tenant_id = :t "
                          "AND resource_type = :rt AND resource_id = :ri", t=tenant_id, rt=rtype, ri=rid)
        return (_json(rows[0][0]) or {}) if rows else None


    def resources_held(self, tenant_id: int, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        """The held attributes of each (type, id) of `keys` that has some (a catch-up's, in one query)."""
        r = _RESOURCES.c
        stmt = select(r.resource_type, r.resource_id, r.attributes).where(
            r.tenant_id == tenant_id, tuple_(r.resource_type, r.resource_id).in_(keys))
        with self.read_guard(), self._one_statement.connect() as conn:
            return {(row[0], row[1]): _json(row[2]) or {} for row in conn.execute(stmt)}


def _iso(v) -> str:
    return v.isoformat(timespec="seconds") + "Z" if hasattr(v, "isoformat") else str(v or "")


# ---- the snapshot's queries: each names the tenant once, as :t ---------------------------------

_RELATIONSHIPS_SQL = ("SELECT resource_type, resource_id, relation, subject_type, subject_id, subject_relation "
                      "FROM relationships WHERE tenant_id = :t")
_SNAPSHOT_SQL = {
    "tenant": "SELECT id, key, role_mode, settings, revision, disabled_at FROM tenants WHERE id = :t",
    "users": "SELECT id, user_name, external_id, active, display_name FROM users WHERE tenant_id = :t",
    "groups": "SELECT id, display_name, external_id FROM groups WHERE tenant_id = :t",
    # Through groups (group_members is indexed by group, not by tenant); members as one array per
    # group and type: a tenant's memberships cross in a few rows instead of one row each.
    "members": "SELECT m.group_id, m.member_type, json_group_array(m.member_id) FROM groups g "
               "JOIN group_members m ON m.group_id = g.id WHERE g.tenant_id = :t GROUP BY m.group_id, m.member_type",
    "roles": "SELECT id, key, name, permissions, extends, condition FROM roles WHERE tenant_id = :t",
    "assignments": "SELECT id, user_id, role_id, resource_type, resource_id, assigned_by, created "
                   "FROM role_assignments WHERE tenant_id = :t",
    "mappings": "SELECT id, group_id, role_id, resource_type, resource_id, created_by "
                "FROM group_role_mappings WHERE tenant_id = :t",
    "schema": "SELECT version, compiled FROM authz_schemas WHERE tenant_id = :t ORDER BY version DESC LIMIT 1",
}


# PostgreSQL: each group's members aggregated by the group's own index scan (no sort of the
# tenant's memberships by collated group id), as arrays read in binary.
_PG_MEMBERS = ("SELECT g.id, a.member_type, a.members FROM groups g, LATERAL (SELECT m.member_type, "
               "array_agg(m.member_id) AS members FROM group_members m WHERE m.group_id = g.id "
               "GROUP BY m.member_type) a WHERE g.tenant_id = :t")
_SQL_BY_DIALECT: dict[str, dict[str, str]] = {}


def _snapshot_sql(dialect) -> dict[str, str]:
    """The snapshot's queries in the driver's own placeholder style and the database's own words."""
    sql = _SQL_BY_DIALECT.get(dialect.name)
    if sql is None:
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        words = {**_SNAPSHOT_SQL, "members": _PG_MEMBERS} if dialect.name == "postgresql" else _SNAPSHOT_SQL
        sql = _SQL_BY_DIALECT[dialect.name] = {k: v.replace(":t", mark) for k, v in words.items()}
    return sql


def _snapshot_rows(cur, sql: dict[str, str], tenant_id: int, binary: bool) -> Snapshot:
    """A tenant's snapshot but its relationships, read with one DB-API cursor (`binary`: psycopg 3's,
    which reads the members' arrays in binary)."""
    def rows(name: str, binary: bool = False) -> list:
        if binary:
            cur.execute(sql[name], (tenant_id,), binary=True)
        else:
            cur.execute(sql[name], (tenant_id,))
        return cur.fetchall()

    found = rows("tenant")
    if not found:
        raise KeyError(f"no tenant {tenant_id}")
    t = found[0]
    snap = Snapshot(TenantRow(t[0], t[1], t[2], _json(t[3]) or {}, t[4], t[5] is not None))
    no_groups: frozenset[str] = frozenset()  # TenantStore gives each user its own set of groups
    snap.users = [UserInfo(uid, name, ext, bool(active), display, no_groups)
                  for uid, name, ext, active, display in rows("users")]
    snap.groups = [GroupInfo(gid, name, ext) for gid, name, ext in rows("groups")]
    for gid, mtype, members in rows("members", binary=binary):
        if type(members) is not list:
            members = json.loads(members)
        if mtype == "User":
            snap.user_members.append((gid, members))
        else:
            snap.memberships += [(gid, mid, mtype) for mid in members]
    roles = {r[0]: RoleRow(r[0], r[1], r[2], tuple(_json(r[3]) or ()), tuple(_json(r[4]) or ()), r[5])
             for r in rows("roles")}
    snap.roles = list(roles.values())
    snap.assignments = [AssignmentRow(r[0], r[1], roles[r[2]].key, r[3], r[4], r[5], _iso(r[6]))
                        for r in rows("assignments") if r[2] in roles]
    snap.mappings = [MappingRow(r[0], r[1], roles[r[2]].key, r[3], r[4], r[5])
                     for r in rows("mappings") if r[2] in roles]
    s = rows("schema")
    if s:
        snap.schema_version, snap.schema = s[0][0], CompiledSchema.from_json(_json(s[0][1]))
    return snap
