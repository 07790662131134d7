"""SQLAlchemy models: tenants, credentials, and the directory (users, groups, memberships)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from scim_authz.db.extensions import db

Document = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """Naive UTC, stored the same way on SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    return str(uuid.uuid4())


class Tenant(db.Model):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role_mode: Mapped[str] = mapped_column(String(10), default="hybrid")
    settings: Mapped[dict] = mapped_column(Document, default=dict)
    # Bumped by every write that can change a decision; the consistency token.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Set while the tenant is disabled: its credentials are refused and its console closed.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Tenants of one organisation linked as its environments ("acme": "dev", "staging", "production").
    organization: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    environment: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # How many users and groups the tenant holds, changed in the same statement that advances the
    # revision of every transaction that creates or deletes some (scim_authz/pdp/changes.py
    # `adjust_counts`): an unfiltered listing's totalResults without a count(*) of 100,000 rows.
    user_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    group_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class Credential(db.Model):
    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # scim | app | admin
    name: Mapped[str] = mapped_column(String(200), default="")
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex; the secret is shown once
    prefix: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_name_ci"),
        Index("ix_users_tenant_external_id", "tenant_id", "external_id"),
        Index("ix_users_tenant_created", "tenant_id", "created", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_name: Mapped[str] = mapped_column(String(256))
    user_name_ci: Mapped[str] = mapped_column(String(256))  # lower(userName): caseExact is false
    external_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    display_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # Every other SCIM attribute, including extensions, as sent (canonical names).
    doc: Mapped[dict] = mapped_column(Document, default=dict)
    # Attributes the application syncs (PUT /v1/users/{key}); for conditions, outside SCIM.
    app_attributes: Mapped[dict] = mapped_column(Document, default=dict, server_default=text("'{}'"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Group(db.Model):
    __tablename__ = "groups"
    __table_args__ = (
        Index("ix_groups_tenant_display_name_ci", "tenant_id", "display_name_ci", unique=True),
        Index("ix_groups_tenant_external_id", "tenant_id", "external_id"),
        Index("ix_groups_tenant_created", "tenant_id", "created", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    display_name: Mapped[str] = mapped_column(String(256))
    display_name_ci: Mapped[str] = mapped_column(String(256))
    external_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    doc: Mapped[dict] = mapped_column(Document, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class GroupMember(db.Model):
    """One row per (group, member); a member is a user or a group of the same tenant."""

    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_members_member", "member_id"),)

    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    member_type: Mapped[str] = mapped_column(String(5))  # User | Group
    tenant_id: Mapped[int] = mapped_column(Integer)
    added: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Change(db.Model):
    """What a revision changed, so every instance can bring its in-memory policy up to date
    incrementally instead of reloading a tenant."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_tenant_revision", "tenant_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(600))


# ---- roles, assignments, mappings ------------------------------------------------------------

class Role(db.Model):
    """A named set of `resource_type:action` permissions, optionally conditional, optionally
    inheriting other roles' permissions."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(1000), default="")
    permissions: Mapped[list] = mapped_column(Document, default=list)  # ["document:edit", ...]
    extends: Mapped[list] = mapped_column(Document, default=list)  # keys of roles whose permissions it inherits
    condition: Mapped[str | None] = mapped_column(String(4096), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RoleAssignment(db.Model):
    """An app-managed role: assigned to a user through the API, tenant-wide or on one resource."""

    __tablename__ = "role_assignments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "role_id", "resource_type", "resource_id"),
        Index("ix_role_assignments_role", "role_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(100), default="")  # "" = tenant-wide
    resource_id: Mapped[str] = mapped_column(String(300), default="")
    assigned_by: Mapped[str] = mapped_column(String(200), default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class GroupRoleMapping(db.Model):
    """An IdP-managed role: every member of a pushed group (nested groups included) holds it."""

    __tablename__ = "group_role_mappings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "group_id", "role_id", "resource_type", "resource_id"),
        Index("ix_group_role_mappings_role", "role_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(100), default="")
    resource_id: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# ---- relationship schema and relationships ---------------------------------------------------

class AuthzSchema(db.Model):
    """One version of a tenant's relationship schema; the newest is in force unless a check names one."""

    __tablename__ = "authz_schemas"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    compiled: Mapped[dict] = mapped_column(Document)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Relationship(db.Model):
    """resource_type:resource_id#relation@subject_type:subject_id[#subject_relation]."""

    __tablename__ = "relationships"
    __table_args__ = (
        UniqueConstraint("tenant_id", "resource_type", "resource_id", "relation", "subject_type", "subject_id",
                         "subject_relation"),
        Index("ix_relationships_subject", "tenant_id", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(100))
    resource_id: Mapped[str] = mapped_column(String(300))
    relation: Mapped[str] = mapped_column(String(100))
    subject_type: Mapped[str] = mapped_column(String(100))
    subject_id: Mapped[str] = mapped_column(String(300))
    subject_relation: Mapped[str] = mapped_column(String(100), default="")
    revision: Mapped[int] = mapped_column(Integer)


class ResourceAttributes(db.Model):
    """What the server holds about one resource, which conditions read as `resource.*` (a check's
    own resource properties take precedence, key by key)."""

    __tablename__ = "resource_attributes"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    attributes: Mapped[dict] = mapped_column(Document, default=dict)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    revision: Mapped[int] = mapped_column(Integer)


# ---- audit -----------------------------------------------------------------------------------

class Decision(db.Model):
    """One answered check: the audit log.

    Its only secondary index follows time, so writing a decision appends to the ends of two
    B-trees. An index by user would take each decision to a random page of a large tree (several
    times the cost of the rest of the row): a user's decisions are found by walking the tenant's
    log by time, and monthly active users are kept in `active_users` as they are written."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_tenant_at", "tenant_id", "at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime)
    asked_by: Mapped[str] = mapped_column(String(200), default="")
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    user_key: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(100))
    resource_type: Mapped[str] = mapped_column(String(100))
    resource_id: Mapped[str] = mapped_column(String(300))
    allowed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(1000))
    revision: Mapped[int] = mapped_column(Integer)


class ActiveUser(db.Model):
    """A user checked at least once in a month (`YYYY-MM`, UTC): monthly active users, written by
    the decision log in the same transaction as the decisions that make them active."""

    __tablename__ = "active_users"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)


# ---- governance ------------------------------------------------------------------------------

class AdminChange(db.Model):
    """One administrative change: who made it, when, through which surface, and its before and
    after. Append-only: written in the same transaction as the change, never updated, removed only
    by the retention prune (scim_authz/governance/changelog.py)."""

    __tablename__ = "admin_changes"
    __table_args__ = (Index("ix_admin_changes_tenant_id", "tenant_id", "id"),
                      Index("ix_admin_changes_at", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key: the record outlives what it names, a tenant included (None: not of one tenant).
    tenant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(16))  # admin | api_key | scim_token | cli | webhook | system
    actor: Mapped[str] = mapped_column(String(300))
    surface: Mapped[str] = mapped_column(String(16))  # console | api | scim | cli | webhook | system
    action: Mapped[str] = mapped_column(String(64))  # "role.create", "mapping.delete", "policy.apply", ...
    target: Mapped[str] = mapped_column(String(600), default="")
    before: Mapped[dict | None] = mapped_column(Document, nullable=True)
    after: Mapped[dict | None] = mapped_column(Document, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AccessHistory(db.Model):
    """Every change to what decides who holds which role (users, groups, memberships, roles,
    assignments, mappings, a tenant's role mode), one row each, written by the database's own
    triggers (scim_authz/db/history_triggers.py) so that no code path can miss one. Access reviews
    as of a past date replay it (scim_authz/governance/access_history.py)."""

    __tablename__ = "access_history"
    __table_args__ = (Index("ix_access_history_tenant_at", "tenant_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime)  # the database's clock, UTC
    kind: Mapped[str] = mapped_column(String(20))  # user.put, user.delete, group.put, member.add, ...
    ref_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # a role's, assignment's or mapping's id
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    group_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    member_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    member_type: Mapped[str | None] = mapped_column(String(5), nullable=True)
    name: Mapped[str | None] = mapped_column(String(256), nullable=True)  # userName, displayName or role key
    external_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    active: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    role_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resource_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    resource_id: Mapped[str | None] = mapped_column(String(300), nullable=True)
    by: Mapped[str | None] = mapped_column(String(200), nullable=True)  # who assigned or mapped it
    role_mode: Mapped[str | None] = mapped_column(String(10), nullable=True)


class DirectoryWriteCount(db.Model):
    """SCIM directory writes per IdP token and day (UTC): how much each connection changed."""

    __tablename__ = "directory_write_counts"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    credential_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    writes: Mapped[int] = mapped_column(Integer, default=0)


class WebhookEvent(db.Model):
    """An IdP webhook event already applied: a retry with the same id changes nothing."""

    __tablename__ = "webhook_events"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)  # logto | okta
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    received: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# ---- the console -----------------------------------------------------------------------------

class Admin(db.Model):
    """An IT admin of the console: of one tenant, or (tenant_id None) a super-admin over all."""

    __tablename__ = "admins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lowercased
    password_hash: Mapped[str] = mapped_column(String(300))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Set while the admin may not sign in (`admins disable`); None when enabled.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Copied into each console session at sign-in; a session holding another number is refused.
    # Bumped on sign-out, disable and password change, so every earlier cookie stops working.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


def _attach_history_triggers() -> None:
    from scim_authz.db.history_triggers import attach
    attach(db.metadata)


_attach_history_triggers()
