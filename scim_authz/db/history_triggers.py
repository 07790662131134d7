"""The database triggers that write `access_history` (models.AccessHistory): one row for every
insert, delete, or change that matters, of users, groups, memberships, roles, assignments, group
mappings and tenants' role modes. Triggers rather than code, because memberships change through
bulk statements (SCIM PATCH and /Bulk, a group deleted with its members, a user deleted with
theirs) that no ORM event sees; the database sees them all.

Used by `db.create_all()` (through the metadata's after_create event, below) and by migration
0009. Changing what they write needs a new migration that replaces them.
"""
from __future__ import annotations

from sqlalchemy import DDL, event

COLUMNS = ("tenant_id", "at", "kind", "ref_id", "user_id", "group_id", "member_id", "member_type", "name",
           "external_id", "active", "role_id", "resource_type", "resource_id", "by", "role_mode")

# table -> (what a written row says (as of NEW), what a deleted row says (as of OLD), the columns
# whose update is a change worth a row (None: updates are not))
SPEC: dict[str, tuple[dict, dict, tuple[str, ...] | None]] = {
    "users": ({"tenant_id": "{r}.tenant_id", "kind": "'user.put'", "user_id": "{r}.id", "name": "{r}.user_name",
               "external_id": "{r}.external_id", "active": "{r}.active"},
              {"tenant_id": "{r}.tenant_id", "kind": "'user.delete'", "user_id": "{r}.id"},
              ("user_name", "external_id", "active")),
    "groups": ({"tenant_id": "{r}.tenant_id", "kind": "'group.put'", "group_id": "{r}.id",
                "name": "{r}.display_name", "external_id": "{r}.external_id"},
               {"tenant_id": "{r}.tenant_id", "kind": "'group.delete'", "group_id": "{r}.id"},
               ("display_name", "external_id")),
    "group_members": ({"tenant_id": "{r}.tenant_id", "kind": "'member.add'", "group_id": "{r}.group_id",
                       "member_id": "{r}.member_id", "member_type": "{r}.member_type"},
                      {"tenant_id": "{r}.tenant_id", "kind": "'member.remove'", "group_id": "{r}.group_id",
                       "member_id": "{r}.member_id"}, None),
    "roles": ({"tenant_id": "{r}.tenant_id", "kind": "'role.put'", "ref_id": "{r}.id", "name": "{r}.key"},
              {"tenant_id": "{r}.tenant_id", "kind": "'role.delete'", "ref_id": "{r}.id"}, None),
    "role_assignments": ({"tenant_id": "{r}.tenant_id", "kind": "'assignment.add'", "ref_id": "{r}.id",
                          "user_id": "{r}.user_id", "role_id": "{r}.role_id", "resource_type": "{r}.resource_type",
                          "resource_id": "{r}.resource_id", "by": "{r}.assigned_by"},
                         {"tenant_id": "{r}.tenant_id", "kind": "'assignment.delete'", "ref_id": "{r}.id"}, None),
    "group_role_mappings": ({"tenant_id": "{r}.tenant_id", "kind": "'mapping.add'", "ref_id": "{r}.id",
                             "group_id": "{r}.group_id", "role_id": "{r}.role_id",
                             "resource_type": "{r}.resource_type", "resource_id": "{r}.resource_id",
                             "by": "{r}.created_by"},
                            {"tenant_id": "{r}.tenant_id", "kind": "'mapping.delete'", "ref_id": "{r}.id"}, None),
    "tenants": ({"tenant_id": "{r}.id", "kind": "'tenant.mode'", "role_mode": "{r}.role_mode"}, {}, ("role_mode",)),
}
_NOW = {"postgresql": "(clock_timestamp() AT TIME ZONE 'UTC')",
        # SQLite's clock to the millisecond, written as SQLAlchemy writes a DateTime (six digits)
        "sqlite": "(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000')"}


def _insert(values: dict, row: str, now: str) -> str:
    cols = ["at", *values]
    exprs = [now, *(v.format(r=row) for v in values.values())]
    return f"INSERT INTO access_history ({', '.join(cols)}) VALUES ({', '.join(exprs)});"


def statements(dialect: str) -> list[str]:
    """The DDL that (re)creates every history trigger on this dialect."""
    now = _NOW[dialect]
    out = []
    for table, (written, deleted, watched) in SPEC.items():
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" if dialect == "postgresql"
                              else f"OLD.{c} IS NOT NEW.{c}" for c in watched or ())
        if dialect == "postgresql":
            on_delete = (f"IF TG_OP = 'DELETE' THEN {_insert(deleted, 'OLD', now)} RETURN NULL; END IF;"
                         if deleted else "")
            out.append(f"CREATE OR REPLACE FUNCTION history_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                       f"BEGIN {on_delete} {_insert(written, 'NEW', now)} RETURN NULL; END $$")
            ops = "INSERT OR DELETE" if deleted else "INSERT"
            out.append(f"DROP TRIGGER IF EXISTS history_{table} ON {table}")
            out.append(f"CREATE TRIGGER history_{table} AFTER {ops} ON {table} FOR EACH ROW "
                       f"EXECUTE FUNCTION history_{table}()")
            if watched:
                out.append(f"DROP TRIGGER IF EXISTS history_{table}_update ON {table}")
                out.append(f"CREATE TRIGGER history_{table}_update AFTER UPDATE OF {', '.join(watched)} ON {table} "
                           f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION history_{table}()")
            continue
        out.append(f"DROP TRIGGER IF EXISTS history_{table}_insert")
        out.append(f"CREATE TRIGGER history_{table}_insert AFTER INSERT ON {table} FOR EACH ROW BEGIN "
                   f"{_insert(written, 'NEW', now)} END")
        if deleted:
            out.append(f"DROP TRIGGER IF EXISTS history_{table}_delete")
            out.append(f"CREATE TRIGGER history_{table}_delete AFTER DELETE ON {table} FOR EACH ROW BEGIN "
                       f"{_insert(deleted, 'OLD', now)} END")
        if watched:
            out.append(f"DROP TRIGGER IF EXISTS history_{table}_update")
            out.append(f"CREATE TRIGGER history_{table}_update AFTER UPDATE OF {', '.join(watched)} ON {table} "
                       f"FOR EACH ROW WHEN {changed} BEGIN {_insert(written, 'NEW', now)} END")
    return out


def attach(metadata) -> None:
    """Create the triggers whenever `metadata.create_all()` creates the tables."""
    for dialect in _NOW:
        for stmt in statements(dialect):
            event.listen(metadata, "after_create", DDL(stmt.replace("%", "%%")).execute_if(dialect=dialect))
