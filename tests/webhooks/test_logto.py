"""Logto webhooks (POST /webhooks/logto/<tenant>): PostRegister syncs a new user with the tenant's
default role, User.Data.Updated updates it, suspension deactivates it, User.Deleted deletes it; each
is seen by the next check, remembered so a retry changes nothing, and logged in the change log."""
from __future__ import annotations

import json

from scim_authz.db.models import RoleAssignment, User, WebhookEvent
from tests.api._api_helpers import allowed, count, revision
from tests.webhooks.conftest import (
    changes,
    data_updated,
    logto_user,
    post_register,
    remembered,
    sign,
    user_deleted,
    users_of,
)


def test_post_register_creates_the_user_with_the_default_role(app, api, logto, hooks, member_role):
    assert not allowed(api, "ann@example.com", "view", "document:1")
    before = revision(app, hooks[0])
    r = logto.post(post_register())
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["received"] == 1
    assert body["results"][0]["event"] == "PostRegister" and body["results"][0]["result"] == "applied"
    assert users_of(app, hooks[0]) == [("ann@example.com", "logto-u1", "Ann", True)]
    assert count(app, RoleAssignment, tenant_id=hooks[0]) == 1
    assert revision(app, hooks[0]) > before
    # the very next check sees the user and what the default role grants, and no more
    assert allowed(api, "ann@example.com", "view", "document:1")
    assert not allowed(api, "ann@example.com", "edit", "document:1")


def test_the_change_log_names_the_webhook(app, logto, hooks, member_role):
    r = logto.post(post_register(), headers={"X-Request-ID": "req-logto-1"})
    assert r.status_code == 200
    rows = changes(app, hooks[0])
    assert [c.action for c in rows] == ["assignment.set", "user.create"]
    for c in rows:
        assert (c.actor_kind, c.actor, c.surface, c.request_id) == ("webhook", "logto", "webhook", "req-logto-1")
    created = rows[-1]
    assert created.target == "ann@example.com"
    assert created.after["externalId"] == "logto-u1" and created.after["active"] is True and created.before is None
    assert rows[0].after == {"roles": ["member"]}


def test_a_retried_event_changes_nothing_the_second_time(app, api, logto, hooks, member_role):
    payload = post_register()
    assert logto.post(payload).status_code == 200
    after_first = (users_of(app, hooks[0]), count(app, RoleAssignment, tenant_id=hooks[0]),
                   revision(app, hooks[0]), len(changes(app, hooks[0])), remembered(app, hooks[0]))
    # the app takes the default role away; a retry of the registration must not give it back
    a = api.get("/role-assignments?user=ann@example.com").get_json()["assignments"]
    assert api.delete(f"/role-assignments/{a[0]['id']}").status_code == 200
    rev = revision(app, hooks[0])
    r = logto.post(payload)
    assert r.status_code == 200
    assert r.get_json()["results"][0]["result"] == "duplicate"
    assert users_of(app, hooks[0]) == after_first[0]
    assert count(app, RoleAssignment, tenant_id=hooks[0]) == 0
    assert revision(app, hooks[0]) == rev
    assert len(changes(app, hooks[0])) == after_first[3]
    assert remembered(app, hooks[0]) == after_first[4] and len(after_first[4]) == 1
    assert after_first[4][0][0] == "logto"


def test_user_data_updated_updates_the_user(app, api, logto, hooks, member_role):
    assert logto.post(post_register()).status_code == 200
    changed = logto_user(email="ann.b@example.com", name="Ann B.")
    r = logto.post(data_updated(changed))
    assert r.status_code == 200 and r.get_json()["results"][0]["result"] == "applied"
    assert users_of(app, hooks[0]) == [("ann.b@example.com", "logto-u1", "Ann B.", True)]
    assert allowed(api, "ann.b@example.com", "view", "document:1")
    assert not allowed(api, "ann@example.com", "view", "document:1")  # the old userName names no one now
    update = changes(app, hooks[0])[-1]
    assert update.action == "user.update" and update.target == "ann.b@example.com"
    assert update.before["userName"] == "ann@example.com" and update.after["userName"] == "ann.b@example.com"
    # the same data again (a new event, nothing new in it) changes nothing
    rev = revision(app, hooks[0])
    r = logto.post(data_updated(changed, created="2024-05-02T11:00:00.000Z"))
    assert r.get_json()["results"][0]["result"] == "unchanged"
    assert revision(app, hooks[0]) == rev


def test_an_update_for_a_user_not_seen_yet_creates_it(app, api, logto, hooks, member_role):
    r = logto.post(data_updated(logto_user(uid="logto-u9", email="zed@example.com"), event="User.Created"))
    assert r.status_code == 200 and r.get_json()["results"][0]["result"] == "applied"
    assert users_of(app, hooks[0]) == [("zed@example.com", "logto-u9", "Ann", True)]
    assert allowed(api, "zed@example.com", "view", "document:1")


def test_suspension_deactivates_and_reactivation_restores(app, api, logto, hooks, member_role):
    assert logto.post(post_register()).status_code == 200
    r = logto.post(data_updated(logto_user(isSuspended=True), event="User.SuspensionStatus.Updated"))
    assert r.get_json()["results"][0]["result"] == "applied"
    assert users_of(app, hooks[0])[0][3] is False
    assert not allowed(api, "ann@example.com", "view", "document:1")
    assert changes(app, hooks[0])[-1].action == "user.deactivate"
    r = logto.post(data_updated(logto_user(), created="2024-05-04T00:00:00.000Z",
                                event="User.SuspensionStatus.Updated"))
    assert r.get_json()["results"][0]["result"] == "applied"
    assert allowed(api, "ann@example.com", "view", "document:1")
    assert changes(app, hooks[0])[-1].action == "user.activate"


def test_user_deleted_deletes_the_user(app, api, logto, hooks, member_role):
    assert logto.post(post_register()).status_code == 200
    assert allowed(api, "ann@example.com", "view", "document:1")
    r = logto.post(user_deleted())
    assert r.status_code == 200 and r.get_json()["results"][0]["result"] == "applied"
    assert count(app, User, tenant_id=hooks[0]) == 0
    assert not allowed(api, "ann@example.com", "view", "document:1")
    deleted = changes(app, hooks[0])[-1]
    assert deleted.action == "user.delete" and deleted.before["externalId"] == "logto-u1" and deleted.after is None
    # deleting again (a new event) finds no one: answered, skipped, nothing changes
    r = logto.post(user_deleted(created="2024-05-05T10:00:00.000Z"))
    assert r.status_code == 200 and r.get_json()["results"][0]["result"] == "skipped"
    assert count(app, WebhookEvent, tenant_id=hooks[0]) == 3


def test_events_it_does_not_act_on_are_answered_and_not_remembered(app, logto, hooks):
    r = logto.post({"hookId": "hook-1", "event": "PostSignIn", "createdAt": "2024-05-01T10:00:00.000Z",
                    "userId": "logto-u1", "user": logto_user()})
    assert r.status_code == 200 and r.get_json()["results"][0]["result"] == "ignored"
    assert users_of(app, hooks[0]) == [] and remembered(app, hooks[0]) == []


def test_the_signature_covers_the_raw_body_as_sent(app, logto, hooks):
    # the same JSON with other whitespace is another body: it needs its own signature
    raw = json.dumps(post_register(), indent=2).encode()
    assert logto.post(None, raw=raw).status_code == 200
    assert users_of(app, hooks[0])[0][:2] == ("ann@example.com", "logto-u1")
    compact = json.dumps(post_register()).encode()
    r = logto.post(None, raw=compact, signature=sign(raw))
    assert r.status_code == 401


def test_an_event_the_directory_refuses_fails_alone_and_changes_nothing(app, scim, logto, hooks, member_role):
    assert scim.post("/Users", {"userName": "bob@example.com", "externalId": "okta-bob"}).status_code == 201
    assert logto.post(post_register()).status_code == 200
    rev, log = revision(app, hooks[0]), len(changes(app, hooks[0]))
    # Logto asks for 200 whatever happened (it retries only a 5xx): the failure is in the answer and the log
    r = logto.post(data_updated(logto_user(email="BOB@example.com")))
    assert r.status_code == 200, r.get_data(as_text=True)
    result = r.get_json()["results"][0]
    assert result["result"] == "failed" and "already in use" in result["detail"]
    assert revision(app, hooks[0]) == rev and len(changes(app, hooks[0])) == log
    assert ("ann@example.com", "logto-u1", "Ann", True) in users_of(app, hooks[0])
    assert len(remembered(app, hooks[0])) == 1  # not remembered: once the conflict is fixed, a resend applies


def test_logtos_test_payloads_change_nothing(app, logto, hooks):
    """What Logto's console sends for "Send test payload": a fake user, signed like a real event."""
    fake_user = {"id": "fake-id", "username": "fake-user", "primaryEmail": "fake-user@fake-service.com",
                 "primaryPhone": "1234567890", "name": "Fake User", "isSuspended": False,
                 "lastSignInAt": 1714557600000, "createdAt": 1714557600000}
    interaction = {"event": "PostRegister", "hookId": "hook-1", "createdAt": "2024-05-01T10:00:00.000Z",
                   "userAgent": "fake-user-agent", "sessionId": "fake-session-id", "userIp": "fake-user-ip",
                   "userId": "fake-id", "user": fake_user}
    data_hook = {"hookId": "hook-1", "createdAt": "2024-05-01T10:00:00.000Z", "userAgent": "fake-user-agent",
                 "path": "/fake-path/:id", "method": "POST", "status": 200, "params": {"id": "fake-id"},
                 "data": {"result": "success"}}
    for payload in (interaction, {**data_hook, "event": "User.Data.Updated"}, {**data_hook, "event": "User.Deleted"}):
        r = logto.post(payload)
        assert r.status_code == 200 and r.get_json()["results"][0]["result"] == "skipped", payload["event"]
    assert users_of(app, hooks[0]) == [] and remembered(app, hooks[0]) == [] and changes(app, hooks[0]) == []


def test_a_malformed_body_is_a_400_after_authentication(app, logto, hooks):
    for raw in (b"not json", b"[1, 2]", b'{"hookId": "h"}'):
        r = logto.post(None, raw=raw)
        assert r.status_code == 400, raw
        assert set(r.get_json()) == {"error"} and r.get_json()["error"]["status"] == 400
    assert users_of(app, hooks[0]) == [] and remembered(app, hooks[0]) == []
