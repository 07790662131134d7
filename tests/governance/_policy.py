"""Helpers shared by the policy-as-code tests: the example file, the directory it expects, what a
tenant holds (to show that a refused or dry apply wrote nothing), and CLI calls."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from scim_authz.db.extensions import db
from scim_authz.db.models import (
    AdminChange,
    AuthzSchema,
    Change,
    GroupRoleMapping,
    Relationship,
    ResourceAttributes,
    Role,
    RoleAssignment,
    Tenant,
)
from tests.api._api_helpers import scim_group, scim_user

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "policy.yaml"
SCHEMA = ROOT / "docs" / "policy.schema.json"

SMALL = """\
version: 1
role_mode: hybrid
default_role: viewer
roles:
  - key: viewer
    permissions: [document:view]
  - key: editor
    name: Editor
    permissions: [document:edit]
    extends: [viewer]
group_mappings:
  - group: Engineering
    role: editor
schema: |
  entity document {
    relation owner @user
    permission own = owner
  }
relationships:
  - document:1#owner@user:someone
"""


def example_directory(scim) -> None:
    """The groups and user the example file's mappings and assignments name."""
    for name in ("Engineering", "Everyone", "Finance"):
        scim_group(scim, name)
    r = scim.post("/Groups", {"displayName": "Platform", "externalId": "00g-platform"})
    assert r.status_code == 201, r.get_data(as_text=True)
    scim_user(scim, "root@acme.example")


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


TABLES = (Role, GroupRoleMapping, RoleAssignment, AuthzSchema, Relationship, ResourceAttributes, Change, AdminChange)


def holdings(app, tenant_id: int) -> dict:
    """What the tenant holds: its revision and settings, and how many rows of each policy table."""
    with app.app_context():
        t = db.session.get(Tenant, tenant_id)
        out = {"revision": t.revision, "role_mode": t.role_mode, "settings": dict(t.settings or {})}
        for model in TABLES:
            out[model.__tablename__] = db.session.execute(
                select(func.count()).select_from(model).where(model.tenant_id == tenant_id)).scalar_one()
        out["roles"] = sorted((r.key, r.name, tuple(r.permissions), tuple(r.extends), r.condition) for r in
                              db.session.execute(select(Role).where(Role.tenant_id == tenant_id)).scalars())
        db.session.remove()
        return out


def admin_changes(app, tenant_id: int, action: str) -> list[AdminChange]:
    with app.app_context():
        found = list(db.session.execute(select(AdminChange).where(
            AdminChange.tenant_id == tenant_id, AdminChange.action == action).order_by(AdminChange.id)).scalars())
        db.session.expunge_all()
        db.session.remove()
        return found


def change_revisions(app, tenant_id: int, after: int) -> set[int]:
    """The revisions of the engine's change log rows written after revision `after`."""
    with app.app_context():
        found = set(db.session.execute(select(Change.revision).where(
            Change.tenant_id == tenant_id, Change.revision > after)).scalars())
        db.session.remove()
        return found


def policy(runner, *args, **kwargs):
    """`policy …` through the app's CLI (the test app)."""
    return runner.invoke(args=["policy", *args], **kwargs)
