"""SQLAlchemy models: tenants, credentials, and the directory (users, groups, memberships)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from scim_authz.extensions import db

Document = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """Naive UTC, stored the same way on SQLite and PostgreSQL."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


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
    version: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Group(db.Model):
    __tablename__ = "groups"
    __table_args__ = (
        Index("ix_groups_tenant_display_name_ci", "tenant_id", "display_name_ci"),
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
