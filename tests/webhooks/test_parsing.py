"""The pure parts: Logto and Okta payloads to events, and the signature and secret checks."""
from __future__ import annotations

import json

import pytest

from scim_authz.webhooks import logto, okta
from scim_authz.webhooks.errors import InvalidPayload
from scim_authz.webhooks.events import DEACTIVATE, DELETE, IGNORE, MEMBER_ADD, SYNC, IdPGroup, IdPUser
from scim_authz.webhooks.verify import logto_signature_matches, okta_secret_matches
from tests.webhooks.conftest import (
    data_updated,
    logto_user,
    okta_delivery,
    okta_event,
    post_register,
    sign,
    user_deleted,
)


def _logto(payload):
    raw = json.dumps(payload).encode()
    return logto.parse(payload, raw), raw


@pytest.mark.parametrize("entity, user_name", [
    ({"primaryEmail": "a@x.test", "username": "ann"}, "a@x.test"),
    ({"primaryEmail": None, "username": "ann"}, "ann"),
    ({"primaryEmail": "", "username": None, "primaryPhone": "+15550100"}, "+15550100"),
    ({"primaryEmail": None, "username": None, "primaryPhone": None}, "logto-u1"),
])
def test_logto_user_name_is_the_email_else_the_username(entity, user_name):
    ev, _ = _logto(post_register(logto_user(**entity)))
    assert ev.user.user_name == user_name and ev.user.external_id == "logto-u1"


def test_logto_events():
    ev, raw = _logto(post_register())
    assert (ev.action, ev.type, ev.active) == (SYNC, "PostRegister", True)
    assert ev.user == IdPUser("logto-u1", "ann@example.com", "Ann", "ann@example.com")
    assert ev.id == logto.event_id(raw) and len(ev.id) == 64
    ev, _ = _logto(data_updated(logto_user(isSuspended=True), event="User.SuspensionStatus.Updated"))
    assert (ev.action, ev.active) == (SYNC, False)
    ev, _ = _logto(user_deleted("logto-u7"))
    assert (ev.action, ev.user) == (DELETE, IdPUser("logto-u7"))
    ev, _ = _logto({"event": "Role.Created", "data": {"id": "r"}})
    assert ev.action == IGNORE and ev.id is None
    ev, _ = _logto({"event": "User.Deleted", "data": None})
    assert ev.skip == "the event names no user id"
    with pytest.raises(InvalidPayload):
        logto.parse({"hookId": "h"}, b"{}")


def test_okta_events():
    events = okta.parse(okta_delivery(
        okta_event("user.lifecycle.create", event_uuid="u1"),
        okta_event("user.lifecycle.deactivate", event_uuid="u2"),
        okta_event("group.user_membership.add", group=("00g1", "Eng"), event_uuid="u3"),
        okta_event("user.session.start", event_uuid="u4"),
        "not an object",
        {**okta_event("user.lifecycle.create"), "uuid": None},
    ))
    assert [(e.id, e.action) for e in events[:4]] == [("u1", SYNC), ("u2", DEACTIVATE), ("u3", MEMBER_ADD),
                                                       (None, IGNORE)]
    assert events[0].user == IdPUser("00u1okta", "ann@example.com", "Ann Example") and events[0].active is True
    assert events[2].group == IdPGroup("00g1", "Eng")
    assert events[4].skip and events[5].skip and events[5].id is None
    with pytest.raises(InvalidPayload):
        okta.parse({"data": {"events": [{}] * (okta.MAX_EVENTS + 1)}})


def test_logto_signature():
    body = b'{"event":"PostRegister"}'
    good = sign(body, "k" * 20)
    assert logto_signature_matches("k" * 20, body, good)
    assert logto_signature_matches("k" * 20, body, good.upper())  # hex in either case
    assert not logto_signature_matches("k" * 20, body + b" ", good)
    assert not logto_signature_matches("j" * 20, body, good)
    assert not logto_signature_matches("k" * 20, body, None)
    assert not logto_signature_matches("k" * 20, body, "é" * 64)


def test_okta_secret():
    assert okta_secret_matches("s" * 20, "s" * 20)
    assert not okta_secret_matches("s" * 20, "s" * 21)
    assert not okta_secret_matches("s" * 20, None)
    assert not okta_secret_matches("s" * 20, "")
