"""GET /v1/decisions (the decision log) and GET /v1/usage (monthly active users)."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from scim_authz.db.models import Decision, utcnow
from tests.api._api_helpers import check, count, error, rows, scim_user


@pytest.fixture
def people(api, scim):
    ids = {n: scim_user(scim, n) for n in ("ann", "bob", "cy")}
    api.post("/roles", {"key": "editor", "permissions": ["document:edit"]})
    api.post("/role-assignments", {"user": ids["ann"], "role": "editor"})
    return ids


def test_every_check_is_logged_newest_first(app, api, tenant, people):
    answers = [
        check(api, people["ann"], "edit", "document:1"),
        check(api, "bob", "edit", "document:2", explain=True),
        check(api, "ghost", "view", "folder:9"),
    ]
    r = api.get("/decisions")
    assert r.status_code == 200
    log = r.get_json()["decisions"]
    assert [d["id"] for d in log] == [a["decision_id"] for a in reversed(answers)]
    ghost, bob, ann = log
    assert ann["allowed"] is True and ann["user"] == people["ann"] and ann["user_key"] == people["ann"]
    assert ann["action"] == "edit" and ann["resource"] == "document:1"
    assert ann["reason"].startswith("allowed: role editor assigned by key sk_")
    assert ann["revision"] == answers[0]["revision"]
    assert ann["asked_by"].startswith("key sk_") and ann["asked_by"].endswith("(tests)")
    assert ann["at"].endswith("Z")
    assert bob["allowed"] is False and bob["user"] == people["bob"] and bob["user_key"] == "bob"
    assert bob["reason"] == answers[1]["explanation"]
    assert ghost["user"] is None and ghost["user_key"] == "ghost" and ghost["resource"] == "folder:9"
    assert ghost["reason"] == "denied: no user 'ghost' in this tenant"
    assert count(app, Decision, tenant_id=tenant[0]) == 3
    assert r.get_json()["next_cursor"] is None


def test_filters(api, people):
    check(api, people["ann"], "edit", "document:1")
    check(api, people["bob"], "edit", "document:1")
    check(api, people["ann"], "view", "folder:1")
    check(api, people["cy"], "edit", "document:2")

    def ids(q):
        r = api.get("/decisions" + q)
        assert r.status_code == 200, r.get_json()
        return [(d["user_key"] == people["ann"] and "ann") or (d["user"] == people["bob"] and "bob") or "cy"
                for d in r.get_json()["decisions"]]

    assert ids("?user=ann") == ["ann", "ann"]
    assert ids(f"?user={people['bob']}") == ["bob"]
    assert ids("?allowed=true") == ["ann"]
    assert ids("?allowed=false") == ["cy", "ann", "bob"]
    assert ids("?resource_type=folder") == ["ann"]
    assert ids("?action=edit") == ["cy", "bob", "ann"]
    assert ids("?action=edit&allowed=false") == ["cy", "bob"]
    assert ids("?user=ghost") == []
    error(api.get("/decisions?allowed=maybe"), 400)
    error(api.get("/decisions?limit=0"), 400)
    error(api.get("/decisions?limit=1001"), 400)
    error(api.get("/decisions?since=yesterday"), 400)
    error(api.get("/decisions?cursor=garbage"), 400)


def test_since_and_until(api, people):
    for i in range(4):
        check(api, people["ann"], "edit", f"document:{i}")
        time.sleep(0.005)  # the log shows milliseconds: keep the checks apart
    log = api.get("/decisions").get_json()["decisions"]
    ats = [d["at"] for d in log]  # newest first
    assert ats == sorted(ats, reverse=True)
    got = api.get(f"/decisions?since={ats[2]}").get_json()["decisions"]
    assert [d["resource"] for d in got] == ["document:3", "document:2", "document:1"]
    got = api.get(f"/decisions?until={ats[1]}").get_json()["decisions"]  # until is exclusive
    assert [d["resource"] for d in got] == ["document:1", "document:0"]
    got = api.get(f"/decisions?since={ats[2]}&until={ats[0]}").get_json()["decisions"]
    assert [d["resource"] for d in got] == ["document:2", "document:1"]
    future = (utcnow() + timedelta(hours=1)).isoformat() + "Z"
    assert api.get(f"/decisions?since={future}").get_json()["decisions"] == []


def test_since_with_a_utc_offset_means_that_instant(api, people):
    """`since=…+02:00` names an instant; an hour before the check, in any offset, includes it."""
    check(api, people["ann"], "edit", "document:1")
    at = datetime.fromisoformat(api.get("/decisions").get_json()["decisions"][0]["at"].replace("Z", "+00:00"))
    an_hour_before = (at - timedelta(hours=1)).astimezone(timezone(timedelta(hours=2))).isoformat()
    assert an_hour_before.endswith("+02:00")
    from urllib.parse import quote
    r = api.get(f"/decisions?since={quote(an_hour_before)}")
    assert r.status_code == 200
    assert len(r.get_json()["decisions"]) == 1, (an_hour_before, r.get_json())
    an_hour_after = (at + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-5))).isoformat()
    r = api.get(f"/decisions?until={quote(an_hour_after)}")
    assert len(r.get_json()["decisions"]) == 1, (an_hour_after, r.get_json())


def test_cursor_paging(api, people):
    ids = [check(api, people["ann"], "edit", f"document:{i}")["decision_id"] for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        r = api.get("/decisions?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        pages += 1
        seen += [d["id"] for d in body["decisions"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert seen == list(reversed(ids))


def test_usage_counts_distinct_users_and_checks(api, people):
    for _ in range(5):
        for name in ("ann", "bob", "cy"):
            check(api, people[name], "edit", "document:1")
    r = api.get("/usage")
    assert r.status_code == 200
    usage = r.get_json()["usage"]
    assert len(usage) == 12
    now = utcnow()
    assert usage[0] == {"month": f"{now.year:04d}-{now.month:02d}", "monthly_active_users": 3, "checks": 15}
    assert all(u["checks"] == 0 and u["monthly_active_users"] == 0 for u in usage[1:])
    months = [u["month"] for u in usage]
    assert months == sorted(months, reverse=True) and len(set(months)) == 12
    assert len(api.get("/usage?months=2").get_json()["usage"]) == 2
    error(api.get("/usage?months=0"), 400)
    error(api.get("/usage?months=37"), 400)


def test_usage_counts_a_user_by_id_whatever_key_named_it(api, people):
    check(api, people["ann"], "edit", "document:1")
    check(api, "ann", "edit", "document:1")
    check(api, "ANN", "edit", "document:1")
    assert api.get("/usage?months=1").get_json()["usage"][0]["monthly_active_users"] == 1


def test_usage_counts_last_months_decisions_in_last_month(app, api, tenant, people):
    now = utcnow()
    last_month = (now.replace(day=1) - timedelta(days=1)).replace(hour=12)
    with app.app_context():  # a decision the log took last month
        from scim_authz import pdp
        pdp.audit(app).record(("old-1", tenant[0], last_month, "x", people["bob"], "bob", "edit", "document", "1",
                               True, "r", 1))
        pdp.audit(app).flush()
    check(api, people["ann"], "edit", "document:1")
    usage = api.get("/usage?months=2").get_json()["usage"]
    assert [(u["monthly_active_users"], u["checks"]) for u in usage] == [(1, 1), (1, 1)]
    assert usage[1]["month"] == f"{last_month.year:04d}-{last_month.month:02d}"


def test_active_users_are_written_with_the_decisions_once_per_month(app, api, tenant, people):
    """MAU is kept as decisions are logged; another instance (a writer that has not seen the user)
    writing the same user again changes nothing."""
    from scim_authz import pdp
    from scim_authz.db.models import ActiveUser

    for _ in range(3):
        check(api, people["ann"], "edit", "document:1")
    check(api, "nobody-at-all", "edit", "document:1")  # no user: not an active one
    assert api.get("/usage?months=1").get_json()["usage"][0]["monthly_active_users"] == 1
    month = utcnow().strftime("%Y-%m")
    assert [(a.month, a.user_id) for a in rows(app, ActiveUser, tenant_id=tenant[0])] == [(month, people["ann"])]

    pdp.audit(app)._active.clear()  # as a second instance would be
    check(api, people["ann"], "edit", "document:2")
    usage = api.get("/usage?months=1").get_json()["usage"][0]
    assert (usage["monthly_active_users"], usage["checks"]) == (1, 5)
