"""Logto webhooks as directory events (pure: a parsed body in, an Event out).

Logto posts one event per request (https://docs.logto.io/developers/webhooks/webhooks-request):
`{hookId, event, createdAt, ...}` with the user as `user` (interaction events: PostRegister) or
as `data` (data mutation events: User.Created, User.Data.Updated, User.SuspensionStatus.Updated);
User.Deleted carries `data: null` and the user's id in the Management API's path `params.userId`.

Logto sends no event id. A retry re-sends the same signed body byte for byte, so the id
remembered is the SHA-256 of the body: a retry is a duplicate, a new event (a new createdAt) is not.
"""
from __future__ import annotations

import hashlib

from scim_authz.webhooks.errors import InvalidPayload
from scim_authz.webhooks.events import DELETE, IGNORE, SYNC, Event, IdPUser, text

SIGNATURE_HEADER = "logto-signature-sha-256"
TEST_USER_ID, TEST_USER_AGENT = "fake-id", "fake-user-agent"  # Logto's test payloads
# Logto's event -> what it does here; every other event is answered and ignored.
ACTIONS = {
    "PostRegister": SYNC,  # a user signed up through Logto's sign-in experience
    "User.Created": SYNC,  # a user created by an admin or the Management API
    "User.Data.Updated": SYNC,
    "User.SuspensionStatus.Updated": SYNC,  # suspended: active false; reactivated: active true
    "User.Deleted": DELETE,
}


def event_id(raw: bytes) -> str:
    """The id a Logto delivery is remembered by: the hex SHA-256 of its signed body."""
    return hashlib.sha256(raw).hexdigest()


def parse(payload: dict, raw: bytes) -> Event:
    """The event a Logto webhook body describes."""
    name = text(payload.get("event"))
    if name is None:
        raise InvalidPayload("the body has no event (a Logto webhook names it in `event`)")
    action = ACTIONS.get(name, IGNORE)
    if action == IGNORE:
        return Event(None, name, IGNORE)
    if is_test_payload(payload):
        return Event(None, name, IGNORE, skip="a test payload from Logto's console (its fake user is not synced)")
    eid = event_id(raw)
    # (interaction events carry the user as `user`, data mutation events as `data`)
    entity = next((e for e in (payload.get("data"), payload.get("user")) if isinstance(e, dict)), {})
    params = payload.get("params") if isinstance(payload.get("params"), dict) else {}
    uid = text(entity.get("id")) or text(payload.get("userId")) or text(params.get("userId"))
    if uid is None:
        return Event(eid, name, action, skip="the event names no user id")
    if action == DELETE:
        return Event(eid, name, DELETE, user=IdPUser(uid))
    return Event(eid, name, SYNC, user=user_of(uid, entity), active=_active(entity))


def is_test_payload(payload: dict) -> bool:
    """Logto's console "Send test payload" posts, signed like any event, a fake user (id
    "fake-id") from a fake user agent; a real event never carries both."""
    params = payload.get("params") if isinstance(payload.get("params"), dict) else {}
    return payload.get("userAgent") == TEST_USER_AGENT and TEST_USER_ID in (payload.get("userId"), params.get("id"))


def user_of(uid: str, entity: dict) -> IdPUser:
    """Logto's user entity: its id is the externalId; primaryEmail, else username, else the phone
    number, else the id itself is the userName."""
    email = text(entity.get("primaryEmail"))
    user_name = email or text(entity.get("username")) or text(entity.get("primaryPhone")) or uid
    return IdPUser(uid, user_name=user_name, display_name=text(entity.get("name")), email=email)


def _active(entity: dict) -> bool | None:
    suspended = entity.get("isSuspended")
    return (not suspended) if isinstance(suspended, bool) else None
