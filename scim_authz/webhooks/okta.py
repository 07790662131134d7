"""Okta event hooks as directory events (pure: a parsed body in, Events out).

Okta posts `{eventType: "com.okta.event_hook", data: {events: [...]}}`, each element a System Log
LogEvent: `uuid` (Okta's advice for detecting a repeated delivery), `eventType`, `outcome` and
`target[]`, each target `{type: "User" | "UserGroup" | ..., id, alternateId, displayName}`. Several
events may come in one request; each is remembered by its uuid. Before delivering, Okta verifies
the endpoint once with a GET carrying `X-Okta-Verification-Challenge`, echoed back as
`{"verification": <value>}`. (https://developer.okta.com/docs/concepts/event-hooks/)
"""
from __future__ import annotations

from scim_authz.webhooks.errors import InvalidPayload
from scim_authz.webhooks.events import (
    DEACTIVATE,
    DELETE,
    EVENT_ID_MAX,
    IGNORE,
    MEMBER_ADD,
    MEMBER_REMOVE,
    SYNC,
    Event,
    IdPGroup,
    IdPUser,
    text,
)

CHALLENGE_HEADER = "X-Okta-Verification-Challenge"
SECRET_HEADER = "Authorization"
# Okta's event type -> (what it does here, the active state a SYNC sets); others are ignored.
ACTIONS = {
    # Created users are taken as active: Okta activates most at once, and a later
    # user.lifecycle.deactivate says otherwise (events may also arrive out of order).
    "user.lifecycle.create": (SYNC, True),
    "user.lifecycle.activate": (SYNC, True),
    "user.lifecycle.deactivate": (DEACTIVATE, None),
    "user.lifecycle.delete.initiated": (DELETE, None),
    "group.user_membership.add": (MEMBER_ADD, None),
    "group.user_membership.remove": (MEMBER_REMOVE, None),
}
MAX_EVENTS = 1000  # events in one delivery (Okta batches a few)


def parse(payload: dict) -> list[Event]:
    """The events of an Okta event hook delivery, in order."""
    data = payload.get("data")
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list):
        raise InvalidPayload("the body has no data.events list (an Okta event hook delivery carries one)")
    if len(events) > MAX_EVENTS:
        raise InvalidPayload(f"a delivery carries at most {MAX_EVENTS} events, not {len(events)}")
    return [_event(e) for e in events]


def _event(raw) -> Event:
    if not isinstance(raw, dict):
        return Event(None, "?", IGNORE, skip="not an event object")
    name = text(raw.get("eventType")) or "?"
    action, active = ACTIONS.get(name, (IGNORE, None))
    if action == IGNORE:
        return Event(None, name, IGNORE)
    uuid = text(raw.get("uuid"))
    if uuid is None or len(uuid) > EVENT_ID_MAX:
        return Event(None, name, action, skip="the event has no uuid to remember it by")
    outcome = raw.get("outcome")
    result = outcome.get("result") if isinstance(outcome, dict) else None
    if result not in (None, "SUCCESS"):
        return Event(uuid, name, action, skip=f"the event's outcome is {result}")
    targets = [t for t in raw.get("target") or [] if isinstance(t, dict)] if isinstance(raw.get("target"), list) else []
    user = next((_user(t) for t in targets if t.get("type") == "User" and text(t.get("id"))), None)
    if user is None:
        return Event(uuid, name, action, skip="the event has no User target")
    if action in (MEMBER_ADD, MEMBER_REMOVE):
        group = next((_group(t) for t in targets if t.get("type") == "UserGroup"), None)
        if group is None or (group.external_id is None and group.display_name is None):
            return Event(uuid, name, action, user=user, skip="the event has no UserGroup target")
        return Event(uuid, name, action, user=user, group=group)
    return Event(uuid, name, action, user=user, active=active)


def _user(target: dict) -> IdPUser:
    """A User target: its Okta id is the externalId, its alternateId (the Okta login) the userName."""
    uid = text(target.get("id"))
    return IdPUser(uid, user_name=text(target.get("alternateId")) or uid, display_name=text(target.get("displayName")))


def _group(target: dict) -> IdPGroup:
    return IdPGroup(text(target.get("id")), text(target.get("displayName")))
