"""What an IdP webhook asks of the directory, as plain data: the parsers (logto.py, okta.py) make
these from payloads, and sync.py applies them."""
from __future__ import annotations

from dataclasses import dataclass

# What an event does (Event.action).
SYNC = "sync"  # create the user, or update it (the tenant's default role on creation)
DEACTIVATE = "deactivate"  # active false (a user not known is skipped)
DELETE = "delete"  # delete the user (a user not known is skipped)
MEMBER_ADD = "member_add"  # put the user in the group (both must be known)
MEMBER_REMOVE = "member_remove"  # take the user out of the group
IGNORE = "ignore"  # an event type this receiver does not act on; answered, not remembered

EVENT_ID_MAX = 200  # webhook_events.event_id


@dataclass(frozen=True)
class IdPUser:
    """A user as the IdP names it: its id there (our externalId) and what else the event carries."""

    external_id: str
    user_name: str | None = None
    display_name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class IdPGroup:
    """A group as the IdP names it: found by externalId, else by displayName."""

    external_id: str | None
    display_name: str | None


@dataclass(frozen=True)
class Event:
    """One event of a delivery: its id (remembered, so a retry changes nothing), its type as the IdP
    names it, and what it does. `skip` gives the reason an event is answered but not applied."""

    id: str | None
    type: str
    action: str
    user: IdPUser | None = None
    group: IdPGroup | None = None
    active: bool | None = None  # SYNC: the state the IdP says (None: leave it)
    skip: str | None = None


def text(value) -> str | None:
    """A non-blank string from a payload field, stripped, or None (any other type, or blank). Never
    cut short: a value longer than the directory keeps is refused there, not silently changed."""
    if not isinstance(value, str):
        return None
    return value.strip() or None
