"""PATCHes that only add or remove a group's members take the group's row lock only for their
version bump at the end: concurrent ones to one group all succeed, each with a version of its own;
a PATCH that changes the group's attributes, or names an If-Match, still works under the lock."""
from __future__ import annotations

import threading

from sqlalchemy import delete

from scim_authz.db.extensions import db
from scim_authz.db.models import Group
from scim_authz.directory import service as directory
from scim_authz.directory.errors import ResourceNotFound
from tests.api._api_helpers import scim_group, scim_user
from tests.conftest import SCIMClient, patch_op


def _version(scim, gid) -> int:
    r = scim.get(f"/Groups/{gid}")
    assert r.status_code == 200
    return int(r.get_json()["meta"]["version"].split('"')[1])


def test_concurrent_member_patches_to_one_group_all_apply_each_with_its_own_version(app, scim, tenant):
    users = [scim_user(scim, f"u{i}@example.com") for i in range(16)]
    gid = scim_group(scim, "big")
    before = _version(scim, gid)
    failures: list[str] = []

    def worker(mine: list[str]) -> None:
        client = SCIMClient(app.test_client(), tenant[1])
        for uid in mine:
            r = client.patch(f"/Groups/{gid}", patch_op({"op": "add", "path": "members", "value": [{"value": uid}]}))
            if r.status_code not in (200, 204):
                failures.append(f"{r.status_code} {r.get_data(as_text=True)}")

    threads = [threading.Thread(target=worker, args=(users[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    members = {m["value"] for m in scim.get(f"/Groups/{gid}").get_json()["members"]}
    assert members == set(users)
    assert _version(scim, gid) == before + len(users)


def test_a_member_patch_that_changes_nothing_keeps_the_version(scim):
    uid = scim_user(scim, "ann@example.com")
    gid = scim_group(scim, "g", [uid])
    before = _version(scim, gid)
    r = scim.patch(f"/Groups/{gid}", patch_op({"op": "add", "path": "members", "value": [{"value": uid}]}))
    assert r.status_code in (200, 204)
    assert _version(scim, gid) == before


def test_a_patch_that_renames_and_adds_members_applies_both(scim):
    uid = scim_user(scim, "ann@example.com")
    gid = scim_group(scim, "old")
    before = _version(scim, gid)
    r = scim.patch(f"/Groups/{gid}", patch_op({"op": "replace", "path": "displayName", "value": "new"},
                                              {"op": "add", "path": "members", "value": [{"value": uid}]}))
    assert r.status_code in (200, 204), r.get_data(as_text=True)
    body = scim.get(f"/Groups/{gid}").get_json()
    assert body["displayName"] == "new" and [m["value"] for m in body["members"]] == [uid]
    assert _version(scim, gid) == before + 1


def test_a_member_patch_with_a_stale_if_match_changes_nothing(scim):
    uid = scim_user(scim, "ann@example.com")
    gid = scim_group(scim, "g")
    r = scim.patch(f"/Groups/{gid}", patch_op({"op": "add", "path": "members", "value": [{"value": uid}]}),
                   headers={"If-Match": 'W/"999"'})
    assert r.status_code == 412
    assert "members" not in scim.get(f"/Groups/{gid}").get_json()


def test_adding_members_to_a_group_deleted_meanwhile_is_not_found(app, scim, tenant):
    uid = scim_user(scim, "ann@example.com")
    gid = scim_group(scim, "g")
    with app.app_context():
        group = db.session.get(Group, gid)  # read without a lock, as such a PATCH reads it
        db.session.expunge(group)
        db.session.rollback()
        with app.app_context():  # another request deletes it meanwhile
            db.session.execute(delete(Group).where(Group.id == gid))
            db.session.commit()
        db.session.add(group)
        try:
            directory.add_members(group, [{"value": uid}], touch=False)
        except ResourceNotFound:
            pass
        else:
            raise AssertionError("members were added to a deleted group")
        finally:
            db.session.rollback()


def test_a_member_patch_refused_for_an_unknown_member_or_a_cycle_changes_nothing(scim):
    uid = scim_user(scim, "ann@example.com")
    inner = scim_group(scim, "inner")
    outer = scim_group(scim, "outer", [inner])
    before = {g: (_version(scim, g), scim.get(f"/Groups/{g}").get_json().get("members")) for g in (inner, outer)}
    r = scim.patch(f"/Groups/{inner}", patch_op({"op": "add", "path": "members",
                                                 "value": [{"value": uid}, {"value": "no-such-id"}]}))
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidValue"
    assert "no-such-id" in r.get_json()["detail"]
    r = scim.patch(f"/Groups/{inner}", patch_op({"op": "add", "path": "members",
                                                 "value": [{"value": uid}, {"value": outer}]}))
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidValue"
    after = {g: (_version(scim, g), scim.get(f"/Groups/{g}").get_json().get("members")) for g in (inner, outer)}
    assert after == before
