"""Fixtures for the IdP webhook tests: tenant acme with a Logto signing key and an Okta secret set,
senders that sign (or not) as Logto and Okta do, payload factories shaped like their documented
bodies, and readers of the rows the tests assert on."""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import uuid

import pytest
from sqlalchemy import select

from scim_authz.db.extensions import db
from scim_authz.db.models import AdminChange, Group, GroupMember, Tenant, User, WebhookEvent
from scim_authz.db.txn import intent
from scim_authz.policy import webhook_secrets

LOGTO_KEY = "logto-signing-key-0123456789abcdef"
OKTA_SECRET = "okta-shared-secret-0123456789abcdef"
_addresses = itertools.count(1)


def set_secrets(app, tenant_id: int, **by_source: str) -> None:
    with app.app_context(), intent(True):
        tenant = db.session.get(Tenant, tenant_id)
        for source, secret in by_source.items():
            webhook_secrets.set_secret(tenant, source, secret)
        db.session.commit()
        db.session.remove()


@pytest.fixture
def hooks(app, tenant):
    """Tenant acme's webhook secrets, set."""
    set_secrets(app, tenant[0], logto=LOGTO_KEY, okta=OKTA_SECRET)
    return tenant


def sign(body: bytes, key: str = LOGTO_KEY) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


class Logto:
    """Posts Logto webhooks to one tenant's URL, signed with `key` (None: unsigned)."""

    def __init__(self, client, tenant_key: str = "acme", key: str | None = LOGTO_KEY):
        self.client, self.url, self.key = client, f"/webhooks/logto/{tenant_key}", key

    def post(self, payload, *, raw: bytes | None = None, signature: str | None = None, headers=None):
        body = raw if raw is not None else json.dumps(payload).encode()
        h = {"Content-Type": "application/json", "User-Agent": "Logto (https://logto.io/)"}
        if signature is not None:
            h["logto-signature-sha-256"] = signature
        elif self.key is not None:
            h["logto-signature-sha-256"] = sign(body, self.key)
        h.update(headers or {})
        return self.client.post(self.url, data=body, headers=h, environ_base=_address())


class Okta:
    """Calls one tenant's Okta event hook URL with `secret` as the Authorization header (None: none)."""

    def __init__(self, client, tenant_key: str = "acme", secret: str | None = OKTA_SECRET):
        self.client, self.url, self.secret = client, f"/webhooks/okta/{tenant_key}", secret

    def _headers(self, extra=None) -> dict:
        h = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.secret is not None:
            h["Authorization"] = self.secret
        h.update(extra or {})
        return h

    def verify(self, challenge: str | None = "Me_rShK8JHsTnbyYrWXCEoMGbM_zsZ6k0hLPZ_Pg"):
        extra = {"X-Okta-Verification-Challenge": challenge} if challenge is not None else {}
        return self.client.get(self.url, headers=self._headers(extra), environ_base=_address())

    def deliver(self, *events, raw: bytes | None = None):
        body = raw if raw is not None else json.dumps(okta_delivery(*events)).encode()
        return self.client.post(self.url, data=body, headers=self._headers(), environ_base=_address())


def _address() -> dict:
    """Each request from an address of its own: the tests are about answers, not the rate limits."""
    n = next(_addresses)
    return {"REMOTE_ADDR": f"10.9.{n >> 8 & 255}.{n & 255}"}


@pytest.fixture
def logto(client, hooks):
    return Logto(client)


@pytest.fixture
def okta(client, hooks):
    return Okta(client)


# ---- payloads, as the IdPs document them ---------------------------------------------------------

def logto_user(uid="logto-u1", email="ann@example.com", **extra) -> dict:
    """Logto's UserEntity."""
    return {"id": uid, "username": None, "primaryEmail": email, "primaryPhone": None, "name": "Ann",
            "avatar": None, "customData": {}, "identities": {}, "lastSignInAt": None,
            "createdAt": "2024-05-01T10:00:00.000Z", "applicationId": "app-1", "isSuspended": False, **extra}


def post_register(user: dict | None = None, created="2024-05-01T10:00:00.000Z") -> dict:
    """An interaction hook body: the user as `user`."""
    user = user or logto_user()
    return {"hookId": "hook-1", "event": "PostRegister", "createdAt": created, "interactionEvent": "Register",
            "sessionId": "s-1", "userAgent": "Mozilla/5.0", "userIp": "203.0.113.7", "userId": user["id"],
            "user": user, "applicationId": "app-1", "application": {"id": "app-1", "type": "SPA", "name": "Web"}}


def data_updated(user: dict, created="2024-05-02T10:00:00.000Z", event="User.Data.Updated") -> dict:
    """A data mutation hook body (Management API context): the user as `data`."""
    return {"hookId": "hook-1", "event": event, "createdAt": created, "userAgent": "curl/8", "ip": "203.0.113.8",
            "path": f"/users/{user['id']}", "method": "PATCH", "status": 200, "params": {"userId": user["id"]},
            "matchedRoute": "/users/:userId", "data": user}


def user_deleted(uid="logto-u1", created="2024-05-03T10:00:00.000Z") -> dict:
    """User.Deleted: `data` is null; the id is in the Management API path's params."""
    return {"hookId": "hook-1", "event": "User.Deleted", "createdAt": created, "path": f"/users/{uid}",
            "method": "DELETE", "status": 204, "params": {"userId": uid}, "matchedRoute": "/users/:userId",
            "data": None}


def okta_event(event_type: str, user_id="00u1okta", login="ann@example.com", *, group: tuple | None = None,
               event_uuid: str | None = None, result="SUCCESS") -> dict:
    """A System Log LogEvent as an event hook carries it."""
    targets = [{"id": user_id, "type": "User", "alternateId": login, "displayName": "Ann Example",
                "detailEntry": None}]
    if group is not None:
        targets.append({"id": group[0], "type": "UserGroup", "alternateId": "unknown", "displayName": group[1],
                        "detailEntry": None})
    return {"uuid": event_uuid or str(uuid.uuid4()), "published": "2024-05-01T10:00:00.000Z",
            "eventType": event_type, "version": "0", "displayMessage": event_type, "severity": "INFO",
            "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@example.com",
                      "displayName": "Admin"},
            "outcome": {"result": result, "reason": None}, "target": targets,
            "transaction": {"type": "WEB", "id": "tx-1"}}


def okta_delivery(*events) -> dict:
    return {"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
            "source": "https://example.okta.com/api/v1/eventHooks/who1", "eventId": str(uuid.uuid4()),
            "eventTime": "2024-05-01T10:00:01.000Z", "contentType": "application/json",
            "data": {"events": list(events)}}


# ---- reading the database ---------------------------------------------------------------------

def _read(app, query):
    with app.app_context():
        out = db.session.execute(query).all()
        db.session.remove()
        return out


def users_of(app, tenant_id: int) -> list[tuple]:
    """(userName, externalId, displayName, active) of each user, by userName."""
    return [tuple(r) for r in _read(app, select(User.user_name, User.external_id, User.display_name, User.active)
                                    .where(User.tenant_id == tenant_id).order_by(User.user_name))]


def members_of(app, group_id: str) -> list[str]:
    return sorted(r[0] for r in _read(app, select(GroupMember.member_id).where(GroupMember.group_id == group_id)))


def remembered(app, tenant_id: int) -> list[tuple]:
    return sorted(tuple(r) for r in _read(app, select(WebhookEvent.source, WebhookEvent.event_id)
                                          .where(WebhookEvent.tenant_id == tenant_id)))


def changes(app, tenant_id: int, surface: str = "webhook") -> list[AdminChange]:
    with app.app_context():
        rows = list(db.session.execute(select(AdminChange).where(
            AdminChange.tenant_id == tenant_id, AdminChange.surface == surface).order_by(AdminChange.id)).scalars())
        db.session.expunge_all()
        db.session.remove()
        return rows


def group_row(app, group_id: str) -> Group:
    with app.app_context():
        g = db.session.get(Group, group_id)
        db.session.expunge_all()
        db.session.remove()
        return g


@pytest.fixture
def member_role(api):
    """Role member (document:view), the tenant's default role; editor (document:edit) for mappings."""
    assert api.post("/roles", {"key": "member", "permissions": ["document:view"]}).status_code == 201
    assert api.post("/roles", {"key": "editor", "permissions": ["document:edit"]}).status_code == 201
    assert api.patch("/tenant", {"default_role": "member"}).status_code == 200
