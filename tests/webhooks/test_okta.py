"""Okta event hooks (GET and POST /webhooks/okta/<tenant>): the one-time verification, user lifecycle
events and group memberships reflected in the directory and in the next check, each event of a
delivery remembered by its uuid, and each change in the administrative change log."""
from __future__ import annotations

from scim_authz.db.models import Group, User
from tests.api._api_helpers import allowed, count, revision, scim_group, scim_user
from tests.webhooks.conftest import changes, group_row, members_of, okta_event, remembered, users_of


def test_the_verification_challenge_is_echoed(okta, hooks):
    r = okta.verify("Me_rShK8JHsTnbyYrWXCEoMGbM_zsZ6k0hLPZ_Pg")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.get_json() == {"verification": "Me_rShK8JHsTnbyYrWXCEoMGbM_zsZ6k0hLPZ_Pg"}


def test_a_verification_without_a_challenge_is_a_400(okta, hooks):
    r = okta.verify(None)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_payload"


def test_create_activate_deactivate_delete(app, api, okta, hooks, member_role):
    before = revision(app, hooks[0])
    r = okta.deliver(okta_event("user.lifecycle.create"))
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["results"][0]["result"] == "applied"
    assert users_of(app, hooks[0]) == [("ann@example.com", "00u1okta", "Ann Example", True)]
    assert revision(app, hooks[0]) > before
    assert allowed(api, "ann@example.com", "view", "document:1")  # the default role

    r = okta.deliver(okta_event("user.lifecycle.deactivate"))
    assert r.get_json()["results"][0]["result"] == "applied"
    assert users_of(app, hooks[0])[0][3] is False
    assert not allowed(api, "ann@example.com", "view", "document:1")

    r = okta.deliver(okta_event("user.lifecycle.activate"))
    assert r.get_json()["results"][0]["result"] == "applied"
    assert users_of(app, hooks[0])[0][3] is True
    assert allowed(api, "ann@example.com", "view", "document:1")

    r = okta.deliver(okta_event("user.lifecycle.delete.initiated"))
    assert r.get_json()["results"][0]["result"] == "applied"
    assert count(app, User, tenant_id=hooks[0]) == 0
    assert not allowed(api, "ann@example.com", "view", "document:1")

    log = changes(app, hooks[0])
    assert [c.action for c in log] == ["assignment.set", "user.create", "user.deactivate", "user.activate",
                                       "user.delete"]
    assert {(c.actor_kind, c.actor, c.surface) for c in log} == {("webhook", "okta", "webhook")}
    assert log[2].before["active"] is True and log[2].after["active"] is False


def test_activating_a_user_not_seen_yet_creates_it(app, api, okta, hooks, member_role):
    r = okta.deliver(okta_event("user.lifecycle.activate", "00u2okta", "bo@example.com"))
    assert r.get_json()["results"][0]["result"] == "applied"
    assert users_of(app, hooks[0]) == [("bo@example.com", "00u2okta", "Ann Example", True)]
    assert allowed(api, "bo@example.com", "view", "document:1")


def test_deactivating_or_deleting_an_unknown_user_is_skipped(app, okta, hooks):
    r = okta.deliver(okta_event("user.lifecycle.deactivate"), okta_event("user.lifecycle.delete.initiated"))
    assert r.status_code == 200
    assert [x["result"] for x in r.get_json()["results"]] == ["skipped", "skipped"]
    assert users_of(app, hooks[0]) == [] and changes(app, hooks[0]) == []


def test_a_scim_user_is_found_by_its_okta_id_or_login(app, api, scim, okta, hooks, member_role):
    uid = scim_user(scim, "Ann@Example.com", externalId="00u1okta")
    r = okta.deliver(okta_event("user.lifecycle.deactivate", login="someone-else@example.com"))
    assert r.get_json()["results"][0]["result"] == "applied"
    with app.app_context():
        from scim_authz.db.extensions import db
        assert db.session.get(User, uid).active is False
        db.session.remove()
    r = okta.deliver(okta_event("user.lifecycle.activate", user_id="00u-other", login="ann@example.com"))
    assert r.get_json()["results"][0]["result"] == "applied"
    assert count(app, User, tenant_id=hooks[0]) == 1  # the same person, not a second user


def test_membership_add_and_remove_flip_a_mapped_role(app, api, scim, okta, hooks, member_role):
    gid = scim_group(scim, "Engineering")
    assert api.post("/group-mappings", {"group": "Engineering", "role": "editor"}).status_code == 201
    assert okta.deliver(okta_event("user.lifecycle.create")).status_code == 200
    assert not allowed(api, "ann@example.com", "edit", "document:1")
    version = group_row(app, gid).version

    r = okta.deliver(okta_event("group.user_membership.add", group=("00g-eng", "Engineering")))
    assert r.get_json()["results"][0]["result"] == "applied"
    uid = users_of_id(app, hooks[0], "ann@example.com")
    assert members_of(app, gid) == [uid]
    assert group_row(app, gid).version == version + 1
    assert allowed(api, "ann@example.com", "edit", "document:1")

    r = okta.deliver(okta_event("group.user_membership.remove", group=("00g-eng", "engineering")))
    assert r.get_json()["results"][0]["result"] == "applied"
    assert members_of(app, gid) == []
    assert not allowed(api, "ann@example.com", "edit", "document:1")

    log = [c for c in changes(app, hooks[0]) if c.action.startswith("member.")]
    assert [(c.action, c.target) for c in log] == [("member.add", "Engineering ann@example.com"),
                                                   ("member.remove", "Engineering ann@example.com")]
    assert log[0].after == {"group": gid, "groupName": "Engineering", "user": uid, "userName": "ann@example.com"}
    assert log[1].before == log[0].after and log[1].after is None


def test_a_group_is_found_by_its_external_id_first(app, api, scim, okta, hooks, member_role):
    pushed = scim.post("/Groups", {"displayName": "Platform", "externalId": "00g-plat"}).get_json()["id"]
    scim_group(scim, "Renamed in Okta")
    assert okta.deliver(okta_event("user.lifecycle.create")).status_code == 200
    r = okta.deliver(okta_event("group.user_membership.add", group=("00g-plat", "Renamed in Okta")))
    assert r.get_json()["results"][0]["result"] == "applied"
    assert members_of(app, pushed) == [users_of_id(app, hooks[0], "ann@example.com")]


def test_an_unknown_group_or_user_is_skipped_not_created(app, scim, okta, hooks):
    scim_group(scim, "Engineering")
    assert okta.deliver(okta_event("user.lifecycle.create")).status_code == 200
    r = okta.deliver(okta_event("group.user_membership.add", group=("00g-x", "Sales")),
                     okta_event("group.user_membership.add", "00u-nobody", "nobody@example.com",
                                group=("00g-eng", "Engineering")))
    results = r.get_json()["results"]
    assert [x["result"] for x in results] == ["skipped", "skipped"]
    assert "no such group" in results[0]["detail"] and "no such user" in results[1]["detail"]
    assert count(app, Group, tenant_id=hooks[0]) == 1
    assert count(app, User, tenant_id=hooks[0]) == 1


def test_every_event_of_a_delivery_is_remembered_and_a_retry_changes_nothing(app, api, scim, okta, hooks,
                                                                           member_role):
    gid = scim_group(scim, "Engineering")
    events = [okta_event("user.lifecycle.create", event_uuid="e-1"),
              okta_event("group.user_membership.add", group=("00g-eng", "Engineering"), event_uuid="e-2"),
              okta_event("user.session.start", event_uuid="e-3")]  # not acted on, not remembered
    r = okta.deliver(*events)
    assert r.status_code == 200
    assert r.get_json()["received"] == 3
    assert [x["result"] for x in r.get_json()["results"]] == ["applied", "applied", "ignored"]
    assert remembered(app, hooks[0]) == [("okta", "e-1"), ("okta", "e-2")]
    state = (users_of(app, hooks[0]), members_of(app, gid), revision(app, hooks[0]), len(changes(app, hooks[0])))
    # the app revokes the default role; Okta retries the whole delivery
    a = api.get("/role-assignments?user=ann@example.com").get_json()["assignments"]
    assert api.delete(f"/role-assignments/{a[0]['id']}").status_code == 200
    rev = revision(app, hooks[0])
    r = okta.deliver(*events)
    assert r.status_code == 200
    assert [x["result"] for x in r.get_json()["results"]] == ["duplicate", "duplicate", "ignored"]
    assert (users_of(app, hooks[0]), members_of(app, gid), len(changes(app, hooks[0]))) == \
        (state[0], state[1], state[3])
    assert revision(app, hooks[0]) == rev
    assert not allowed(api, "ann@example.com", "view", "document:1")
    # the same event twice in one delivery is applied once
    twice = okta_event("user.lifecycle.deactivate", event_uuid="e-4")
    r = okta.deliver(twice, twice)
    assert [x["result"] for x in r.get_json()["results"]] == ["applied", "duplicate"]


def test_one_failing_event_does_not_undo_the_others(app, okta, hooks):
    r = okta.deliver(okta_event("user.lifecycle.create", "00u-a", "a@example.com", event_uuid="ok-1"),
                     okta_event("user.lifecycle.create", "00u-b", "b" * 300 + "@example.com", event_uuid="bad-1"),
                     okta_event("user.lifecycle.create", "00u-c", "c@example.com", event_uuid="ok-2"))
    assert r.status_code == 200
    results = r.get_json()["results"]
    assert [x["result"] for x in results] == ["applied", "failed", "applied"]
    assert "256" in results[1]["detail"]
    assert [u[0] for u in users_of(app, hooks[0])] == ["a@example.com", "c@example.com"]
    assert remembered(app, hooks[0]) == [("okta", "ok-1"), ("okta", "ok-2")]
    assert [c.target for c in changes(app, hooks[0]) if c.action == "user.create"] == ["a@example.com",
                                                                                        "c@example.com"]


def test_events_that_failed_in_okta_or_name_no_user_are_skipped(app, okta, hooks):
    no_target = okta_event("user.lifecycle.create")
    no_target["target"] = []
    r = okta.deliver(okta_event("user.lifecycle.create", result="FAILURE"), no_target)
    assert [x["result"] for x in r.get_json()["results"]] == ["skipped", "skipped"]
    assert users_of(app, hooks[0]) == []


def test_a_delivery_without_events_is_a_400(app, okta, hooks):
    for raw in (b'{"data": {}}', b'{"data": {"events": {}}}', b"[]", b"nope"):
        r = okta.deliver(raw=raw)
        assert r.status_code == 400, raw
        assert r.get_json()["error"]["status"] == 400


def users_of_id(app, tenant_id: int, user_name: str) -> str:
    from sqlalchemy import select

    from scim_authz.db.extensions import db
    with app.app_context():
        uid = db.session.execute(select(User.id).where(User.tenant_id == tenant_id,
                                                       User.user_name_ci == user_name.lower())).scalar_one()
        db.session.remove()
        return uid
