"""Access reviews as of a past moment, replayed from the history the database's triggers keep,
checked against reviews taken at those moments while the directory and policy changed; and the
difference between two moments."""
from __future__ import annotations

import random
import time

from scim_authz.db.extensions import db
from scim_authz.db.models import AccessHistory, utcnow
from scim_authz.governance import access_review
from tests.api._api_helpers import scim_group, scim_user
from tests.conftest import patch_op

FIELDS = ("user_id", "userName", "externalId", "active", "role", "resource", "source", "provenance",
          "group_chain", "assigned_by")


def _now_review(api) -> tuple:
    rows = api.get("/access-review").get_json()["access_review"]
    with api.client.application.app_context():
        at = utcnow()
    time.sleep(0.002)  # SQLite's clock, which the history is written with, counts milliseconds
    return at, [{k: r[k] for k in FIELDS} for r in rows]


def _as_of(app, tenant_id, at) -> list[dict]:
    with app.app_context():
        rows = access_review.review_as_of(tenant_id, at)
        db.session.remove()
    return [{k: r[k] for k in FIELDS} for r in rows]


def test_reviews_as_of_past_moments_match_what_was_seen_then(app, api, scim, tenant):
    taken = []
    ann = scim_user(scim, "ann@example.com", externalId="00ua")
    bob = scim_user(scim, "bob@example.com")
    api.post("/roles", {"key": "editor", "permissions": ["document:edit"]})
    api.post("/roles", {"key": "viewer", "permissions": ["document:view"]})
    platform = scim_group(scim, "Platform", [bob])
    eng = scim_group(scim, "Engineering", [platform])
    api.post("/group-mappings", {"group": eng, "role": "editor"})
    taken.append(_now_review(api))  # bob holds editor through Platform > Engineering
    aid = api.post("/role-assignments", {"user": ann, "role": "viewer", "resource": "document:7"}).get_json()[
        "assignment"]["id"]
    scim.patch(f"/Groups/{platform}", patch_op({"op": "add", "path": "members", "value": [{"value": ann}]}))
    taken.append(_now_review(api))  # ann: editor through the chain, viewer on document:7
    scim.patch(f"/Users/{bob}", patch_op({"op": "replace", "path": "active", "value": False}))
    scim.patch(f"/Groups/{eng}", patch_op({"op": "remove", "path": f'members[value eq "{platform}"]'}))
    api.patch("/tenant", {"role_mode": "app"})
    taken.append(_now_review(api))  # nobody holds editor; ann's viewer stands; bob inactive
    api.patch("/tenant", {"role_mode": "hybrid"})
    api.delete(f"/role-assignments/{aid}")
    api.delete("/roles/editor")
    carl = scim_user(scim, "carl@example.com")
    api.post("/role-assignments", {"user": carl, "role": "viewer"})
    scim.delete(f"/Users/{bob}")
    scim.delete(f"/Groups/{platform}")
    taken.append(_now_review(api))
    assert len({str(rows) for _, rows in taken}) == 4  # every moment looked different
    for n, (at, rows) in enumerate(taken):
        assert _as_of(app, tenant[0], at) == rows, f"moment {n}"
    # and through the API, and in CSV
    at, rows = taken[1]
    got = api.get(f"/access-review?as_of={at.isoformat()}Z").get_json()["access_review"]
    assert [{k: r[k] for k in FIELDS} for r in got] == rows
    assert "ann@example.com,00ua" in api.get(f"/access-review?as_of={at.isoformat()}Z&format=csv").get_data(
        as_text=True)


def test_the_difference_between_two_moments(api, scim):
    ann = scim_user(scim, "ann@example.com")
    api.post("/roles", {"key": "editor", "permissions": ["document:edit"]})
    api.post("/roles", {"key": "viewer", "permissions": ["document:view"]})
    api.post("/role-assignments", {"user": ann, "role": "viewer"})
    start, _ = _now_review(api)
    eng = scim_group(scim, "Engineering", [ann])
    api.post("/group-mappings", {"group": eng, "role": "editor"})
    assignment = api.get("/role-assignments").get_json()["assignments"][0]["id"]
    api.delete(f"/role-assignments/{assignment}")
    d = api.get(f"/access-review/diff?from={start.isoformat()}Z").get_json()
    assert [(x["userName"], x["role"], x["provenance"]) for x in d["gained"]] == [
        ("ann@example.com", "editor", "role editor via group Engineering (IdP)")]
    assert [(x["userName"], x["role"], x["source"]) for x in d["lost"]] == [("ann@example.com", "viewer", "app")]
    assert api.get("/access-review/diff").get_json()["gained"] == d["gained"]  # the last 30 days by default
    assert api.get(f"/access-review/diff?from={start.isoformat()}Z&to=2000-01-01T00:00:00Z").status_code == 400


def test_the_history_follows_bulk_membership_changes(app, scim, tenant):
    """The triggers see what no ORM event would: a group's members replaced wholesale, a group
    deleted with its memberships."""
    users = [scim_user(scim, f"u{i}@example.com") for i in range(8)]
    gid = scim_group(scim, "All", users)
    rng = random.Random(7)
    keep = rng.sample(users, 3)
    scim.put(f"/Groups/{gid}", {"displayName": "All", "members": [{"value": u} for u in keep]})
    scim.delete(f"/Groups/{gid}")
    with app.app_context():
        kinds = [h.kind for h in db.session.query(AccessHistory).filter_by(tenant_id=tenant[0], group_id=gid)
                 .order_by(AccessHistory.id)]
        db.session.remove()
    assert kinds.count("member.add") == 8 and kinds.count("member.remove") == 8
    assert kinds[0] == "group.put" and kinds[-1] == "group.delete"
