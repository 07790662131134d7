"""A decision point synced from the control plane: the same answers at the same revisions over a
generated workload, right after each write when the check asks for the write's revision; what a PDP
key may read; writes refused at the decision point; decisions shipped back to the decision log."""
from __future__ import annotations

import itertools
import json
import random

import httpx
import orjson
import pytest
from sqlalchemy import select

from scim_authz.credentials.keys import issue_credential
from scim_authz.dataplane.server import create_pdp_app, stop
from scim_authz.db.extensions import db
from scim_authz.db.models import Decision, Tenant
from scim_authz.db.txn import intent
from tests.api._api_helpers import error, scim_group, scim_user
from tests.api.test_relationships_api import SCHEMA
from tests.conftest import make_tenant, patch_op

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def issue(app, tenant_id: int, kind: str) -> str:
    with app.app_context(), intent(True):
        secret = issue_credential(db.session.get(Tenant, tenant_id), kind, "tests").secret
        db.session.commit()
        return secret


class PDP:
    """A decision point in this process, syncing through the control plane's WSGI app (no sockets);
    `sync()` runs one round of its syncer, so each test says when it catches up."""

    def __init__(self, control_app, pdp_key: str, app_key: str, data_dir):
        self.app = create_pdp_app("http://localhost", pdp_key, data_dir, start=False,
                                  transport=httpx.WSGITransport(app=control_app))
        self.state = self.app.extensions["scim_authz.dataplane"]
        self.client = self.app.test_client()
        self.headers = {"Authorization": f"Bearer {app_key}"}

    def sync(self) -> None:
        while self.state.syncer.sync_once():
            pass

    def post(self, path, body):
        return self.client.post("/v1" + path, json=body, headers=self.headers)

    def get(self, path, **kw):
        return self.client.get("/v1" + path, headers=self.headers, **kw)


@pytest.fixture
def keys(app, tenant):
    return issue(app, tenant[0], "pdp"), issue(app, tenant[0], "app")


@pytest.fixture
def pdp(app, keys, tmp_path):
    p = PDP(app, keys[0], keys[1], tmp_path / "pdp")
    yield p
    stop(p.app)


def both(api, pdp, body, path="/check"):
    """The control plane's answer and the decision point's to the same request."""
    a, b = api.post(path, body), pdp.post(path, body)
    assert a.status_code == 200, a.get_data(as_text=True)
    assert b.status_code == 200, b.get_data(as_text=True)
    return a.get_json(), b.get_json()


def same(api, pdp, checks, at_least=None):
    """Every check answered alike (allowed and revision) by both; the number allowed."""
    allowed = 0
    for user, action, resource in checks:
        body = {"user": user, "action": action, "resource": resource}
        if at_least is not None:
            body["consistency"] = {"at_least": at_least}
        a, b = both(api, pdp, body)
        assert (a["allowed"], a["revision"]) == (b["allowed"], b["revision"]), (body, a, b)
        allowed += a["allowed"]
    return allowed


def test_the_same_answers_at_every_revision_of_a_generated_workload(app, api, scim, pdp):
    rnd = random.Random(7)
    users = [scim_user(scim, f"u{i}@example.com", **{ENTERPRISE: {"department": rnd.choice(["R&D", "Sales"])}})
             for i in range(8)]
    pdp.sync()
    groups: list[str] = []
    docs = [f"document:{i}" for i in range(6)]
    folders = [f"folder:{i}" for i in range(3)]
    actions = ["view", "edit", "delete", "read"]
    revision = None

    def write(r):
        assert r.status_code in (200, 201, 204), r.get_data(as_text=True)
        body = r.get_json(silent=True) or {}
        return body.get("revision")

    steps = [
        lambda: write(api.post("/schema", {"source": SCHEMA})),
        lambda: write(api.post("/roles", {"key": "reader", "permissions": ["document:read"]})),
        lambda: write(api.post("/roles", {"key": "rd", "permissions": ["document:delete"],
                                          "condition": 'user.enterprise.department == "R&D"'})),
        lambda: groups.append(scim_group(scim, f"g{len(groups)}", rnd.sample(users, 3))),
        lambda: write(api.post("/group-mappings", {"group": f"g{len(groups) - 1}", "role": "reader"})),
        lambda: write(api.post("/role-assignments", {"user": rnd.choice(users), "role": "rd"})),
        lambda: write(api.post("/relationships", {"relationships": [
            {"resource": rnd.choice(docs), "relation": "owner", "subject": f"user:{rnd.choice(users)}"},
            {"resource": rnd.choice(docs), "relation": "parent", "subject": rnd.choice(folders)},
            {"resource": rnd.choice(folders), "relation": "viewer", "subject": f"group:{groups[-1]}#member"}]})),
        lambda: scim.patch(f"/Users/{rnd.choice(users)}", patch_op({"op": "replace", "value": {"active": False}})),
        lambda: scim.patch(f"/Groups/{groups[-1]}",
                           patch_op({"op": "remove", "path": f'members[value eq "{users[0]}"]'})),
        lambda: scim.patch(f"/Users/{users[1]}", patch_op({"op": "replace", "path": f"{ENTERPRISE}:department",
                                                            "value": "R&D"})),
        lambda: write(api.put("/roles/reader", {"permissions": ["document:read", "document:view"]})),
        lambda: scim.delete(f"/Users/{users[-1]}"),
    ]
    checks = list(itertools.product(users[:6], actions, docs[:4]))
    total_allowed = 0
    for step in steps[:-1] + steps[3:]:
        made = step()
        if isinstance(made, int):
            revision = made
        # Right after the write, asked at its revision: the decision point waits for it.
        if revision is not None:
            pdp.state.syncer.sync_once()
            total_allowed += same(api, pdp, rnd.sample(checks, 12), at_least=revision)
        pdp.sync()
        total_allowed += same(api, pdp, rnd.sample(checks, 24))
    steps[-1]()  # a user deleted
    pdp.sync()
    total_allowed += same(api, pdp, checks)
    assert total_allowed > 20  # the workload allows some, not only denies
    assert pdp.get("/users/" + users[1] + "/permissions").get_json() == \
        api.get("/users/" + users[1] + "/permissions").get_json()


def test_a_condition_reads_only_the_attributes_sent(app, api, scim, pdp):
    uid = scim_user(scim, "ann@example.com", title="Engineer", nickName="annie",
                    **{ENTERPRISE: {"department": "R&D", "costCenter": "42"}})
    api.post("/roles", {"key": "rd", "permissions": ["lab:enter"], "condition": 'user.title == "Engineer"'})
    api.post("/role-assignments", {"user": uid, "role": "rd"})
    pdp.sync()
    copy = next(iter(pdp.state.mirror.tenants.values()))
    assert copy.attrs[uid] == {"title": "Engineer"}  # not nickName, emails, the enterprise extension
    assert both(api, pdp, {"user": uid, "action": "enter", "resource": "lab:1"})[1]["allowed"] is True
    # A condition reading another attribute: the decision point takes a fresh snapshot with it.
    api.put("/roles/rd", {"permissions": ["lab:enter"], "condition": 'user.enterprise.costCenter == "42"'})
    pdp.sync()
    copy = next(iter(pdp.state.mirror.tenants.values()))
    assert copy.attrs[uid] == {ENTERPRISE: {"department": "R&D", "costCenter": "42"}}
    a, b = both(api, pdp, {"user": uid, "action": "enter", "resource": "lab:1"})
    assert a == {**b, "decision_id": a["decision_id"]} and b["allowed"] is True


def test_a_revoked_application_key_is_refused_at_the_decision_point(app, pdp, keys):
    pdp.sync()
    assert pdp.post("/check", {"user": "x", "action": "read", "resource": "doc:1"}).status_code == 200
    with app.app_context(), intent(True):
        from scim_authz.credentials.keys import hash_secret, revoke_credential
        from scim_authz.db.models import Credential
        cred = db.session.execute(select(Credential).where(Credential.secret_hash == hash_secret(keys[1]))).scalar_one()
        revoke_credential(db.session.get(Tenant, cred.tenant_id), cred.id)
        db.session.commit()
    pdp.sync()
    error(pdp.post("/check", {"user": "x", "action": "read", "resource": "doc:1"}), 401, "unauthorized")


def test_a_revision_not_reached_is_409_after_a_bounded_wait(pdp):
    import time
    pdp.sync()
    pdp.state.mirror.wait_seconds = 0.3
    have = next(iter(pdp.state.mirror.tenants.values())).revision
    started = time.monotonic()
    err = error(pdp.post("/check", {"user": "x", "action": "read", "resource": "doc:1",
                                    "consistency": {"at_least": have + 5}}), 409, "revision_not_reached")
    assert 0.3 <= time.monotonic() - started < 2
    assert err["details"] == {"revision": have} and f"revision {have + 5} has not reached" in err["message"]
    error(pdp.get(f"/users/x/permissions?at_least={have + 5}"), 409, "revision_not_reached")
    # the same asked with its name escaped in the JSON: still waited for, still no answer
    escaped = '{"user": "x", "action": "read", "resource": "doc:1", "consistency": {"\\u0061t_least": ' \
        + str(have + 5) + "}}"
    error(pdp.client.post("/v1/check", data=escaped, content_type="application/json", headers=pdp.headers),
          409, "revision_not_reached")


def test_an_end_users_jwt_is_left_to_the_control_plane(pdp):
    pdp.sync()
    err = error(pdp.post("/check", {"user": {"jwt": "a.b.c"}, "action": "read", "resource": "doc:1"}), 400)
    assert "control plane" in err["message"]


def test_lookups_and_authzen_answer_as_the_control_planes(app, api, scim, pdp):
    uid = scim_user(scim, "ann@example.com", externalId="okta-ann")
    api.post("/schema", {"source": SCHEMA})
    api.post("/relationships", {"relationships": [
        {"resource": f"document:{i}", "relation": "owner", "subject": f"user:{uid}"} for i in range(3)]})
    pdp.sync()
    body = {"user": uid, "action": "view", "resource_type": "document"}
    a, b = both(api, pdp, body, "/lookup/resources")
    assert a == b and len(b["resources"]) == 3
    a, b = both(api, pdp, {"action": "edit", "resource": "document:1"}, "/lookup/subjects")
    assert a == b and b["users"][0]["id"] == uid
    evaluation = {"subject": {"type": "user", "id": "okta-ann"}, "action": {"name": "edit"},
                  "resource": {"type": "document", "id": "2"}}
    r = pdp.client.post("/access/v1/evaluation", json=evaluation, headers=pdp.headers)
    assert r.status_code == 200 and r.get_json() == {"decision": True}
    search = {"subject": {"type": "user", "id": "okta-ann"}, "action": {"name": "view"},
              "resource": {"type": "document"}}
    r = pdp.client.post("/access/v1/search/resource", json=search, headers=pdp.headers)
    assert r.status_code == 200 and len(r.get_json()["results"]) == 3


def test_writes_scim_and_the_console_are_refused_pointing_at_the_control_plane(pdp):
    pdp.sync()
    for method, path in [("POST", "/v1/roles"), ("PUT", "/v1/users/ann"), ("POST", "/v1/relationships"),
                         ("GET", "/v1/decisions"), ("POST", "/scim/v2/Users"), ("GET", "/admin/login")]:
        r = pdp.client.open(path, method=method, json={}, headers=pdp.headers)
        err = error(r, 405, "decision_point_read_only")
        assert "http://localhost" in err["message"]


def test_a_pdp_key_reads_its_tenant_only_and_nothing_else(app, client, keys, tenant):
    pdp_key, app_key = keys
    h = {"Authorization": f"Bearer {pdp_key}"}
    assert client.get("/v1/pdp/tenants", headers=h).get_json()["tenants"][0]["key"] == "acme"
    other_id, _ = make_tenant(app, "initech")
    error(client.get("/v1/pdp/tenants/initech/changes?after=0", headers=h), 403, "forbidden")
    # ... and no other endpoint: /v1, SCIM, the admin API
    error(client.post("/v1/check", json={"user": "x", "action": "a", "resource": "d:1"}, headers=h), 401)
    assert client.get("/scim/v2/Users", headers=h).status_code == 401
    assert client.get("/admin/api/tenants", headers=h).status_code in (401, 403)
    # ... nor do other credentials read the sync endpoints
    for other in (app_key, issue(app, tenant[0], "scim")):
        error(client.get("/v1/pdp/tenants", headers={"Authorization": f"Bearer {other}"}), 401)
    error(client.get("/v1/pdp/tenants"), 401)


def app_revision(app) -> int:
    with app.app_context():
        n = db.session.execute(select(Tenant.revision).where(Tenant.key == "acme")).scalar_one()
        db.session.remove()
        return n


def test_the_snapshot_is_gzip_and_changes_are_whole_revisions(app, client, keys, scim):
    for i in range(3):
        scim_user(scim, f"s{i}@example.com")
    h = {"Authorization": f"Bearer {keys[0]}"}
    r = client.get("/v1/pdp/tenants/acme/snapshot", headers=h)
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
    import gzip
    snap = json.loads(gzip.decompress(r.get_data()))
    assert len(snap["users"]) == 3 and snap["tenant"][4] == app_revision(app)
    body = client.get("/v1/pdp/tenants/acme/changes?after=0", headers=h).get_json()
    revs = [c[0] for c in body["changes"]]
    assert revs == sorted(revs) and revs[0] == 1 and body["revision"] == revs[-1]
    assert set(body["data"]["users"]) == {c[2] for c in body["changes"] if c[1] == "user"}
    error(client.get("/v1/pdp/tenants/acme/changes?after=x", headers=h), 400)


def test_decisions_reach_the_control_planes_decision_log_once(app, pdp, tenant):
    pdp.sync()
    for i in range(5):
        assert pdp.post("/check", {"user": f"u{i}", "action": "read", "resource": "doc:1"}).status_code == 200
    spool = pdp.state.spool
    spool.flush()
    assert spool.pending() == 0 and spool.shipped == 5
    with app.app_context():
        logged = db.session.execute(select(Decision).where(Decision.tenant_id == tenant[0])).scalars().all()
        assert len(logged) == 5 and all(d.asked_by.startswith("pdp: key sk_") for d in logged)
        rows = [[d.id, d.tenant_id, d.at.isoformat(), "again", d.user_id, d.user_key, d.action, d.resource_type,
                 d.resource_id, d.allowed, d.reason, d.revision] for d in logged]
        db.session.remove()
    # Sent again (an answer lost on the way back): recorded once.
    spool.ship("acme", rows)
    with app.app_context():
        assert len(db.session.execute(select(Decision).where(Decision.tenant_id == tenant[0])).scalars().all()) == 5


def test_decisions_wait_on_disk_while_the_control_plane_is_away(app, pdp, tenant):
    pdp.sync()
    spool = pdp.state.spool
    real = spool.ship

    def away(key, rows):
        raise httpx.ConnectError("control plane stopped")
    spool.ship = away
    for i in range(3):
        pdp.post("/check", {"user": f"u{i}", "action": "read", "resource": "doc:1"})
    spool.flush()
    assert spool.pending() == 3 and spool.last_error
    spool.ship = real
    spool.flush()
    assert spool.pending() == 0
    with app.app_context():
        assert len(db.session.execute(select(Decision).where(Decision.tenant_id == tenant[0])).scalars().all()) == 3


def test_a_restart_while_the_control_plane_is_down_serves_from_local_disk(app, api, scim, keys, tmp_path):
    uid = scim_user(scim, "ann@example.com")
    api.post("/roles", {"key": "reader", "permissions": ["document:read"]})
    first = PDP(app, keys[0], keys[1], tmp_path / "pdp")
    first.sync()
    r = api.post("/role-assignments", {"user": uid, "role": "reader"})
    first.sync()
    stop(first.app)

    class Down(httpx.BaseTransport):
        def handle_request(self, request):
            raise httpx.ConnectError("control plane stopped")
    again = create_pdp_app("http://localhost", keys[0], tmp_path / "pdp", start=False, transport=Down())
    try:
        c = again.test_client()
        body = c.post("/v1/check", json={"user": uid, "action": "read", "resource": "document:1"},
                      headers={"Authorization": f"Bearer {keys[1]}"}).get_json()
        assert body["allowed"] is True and body["revision"] == r.get_json()["revision"]
        assert body["stale"] is True  # the control plane has not answered since the start
        ready = c.get("/readyz").get_json()
        assert ready["status"] == "ready" and ready["tenants"][0]["revision"] == body["revision"]
    finally:
        stop(again)


class Switch(httpx.BaseTransport):
    """The control plane's WSGI app, reachable or not."""

    def __init__(self, app):
        self.inner, self.down = httpx.WSGITransport(app=app), False

    def handle_request(self, request):
        if self.down:
            raise httpx.ConnectError("control plane stopped")
        return self.inner.handle_request(request)


def test_an_outage_of_the_control_plane_is_served_through_and_caught_up_after(app, api, scim, keys, tmp_path):
    """With its syncer and shipper running: through an outage it answers at its last revision and
    says so; within a second of the control plane's return it has caught up; no decision is lost."""
    import time

    from tests.api._api_helpers import eventually
    uid = scim_user(scim, "ann@example.com")
    api.post("/roles", {"key": "reader", "permissions": ["document:read"]})
    switch = Switch(app)
    pdp_app = create_pdp_app("http://localhost", keys[0], tmp_path / "pdp", transport=switch, poll_seconds=0.02)
    c, h = pdp_app.test_client(), {"Authorization": f"Bearer {keys[1]}"}
    state = pdp_app.extensions["scim_authz.dataplane"]
    try:
        assert eventually(lambda: c.get("/readyz").status_code == 200)

        asked = []

        def ask():
            asked.append(1)
            return c.post("/v1/check", json={"user": uid, "action": "read", "resource": "document:1"},
                          headers=h).get_json()
        before = ask()
        assert before["allowed"] is False and "stale" not in before
        switch.down = True
        made = api.post("/role-assignments", {"user": uid, "role": "reader"}).get_json()["revision"]
        assert eventually(lambda: not state.syncer.connected)
        answers = [ask() for _ in range(20)]
        time.sleep(1.0)
        answers += [ask() for _ in range(20)]
        assert all(a["allowed"] is False and a["stale"] is True and a["revision"] == before["revision"]
                   for a in answers)
        assert c.get("/readyz").get_json()["connected"] is False
        switch.down = False
        back = time.monotonic()
        assert eventually(lambda: ask()["revision"] >= made, timeout=1.0)
        assert time.monotonic() - back < 1.0
        after = ask()
        assert after["allowed"] is True and "stale" not in after
        assert eventually(lambda: state.spool.pending() == 0, timeout=3.0)
        with app.app_context():
            logged = db.session.execute(select(Decision).where(Decision.user_id == uid)).scalars().all()
            assert len(logged) == len(asked)  # every decision made, the outage's included, logged once
            db.session.remove()
    finally:
        stop(pdp_app)


def test_a_key_of_pdp_keys_syncs_every_tenant_each_answering_its_own(app, client, api, scim, tmp_path):
    from scim_authz.credentials import operator_keys
    from tests.conftest import APIClient, SCIMClient, issue_app_key
    tid, token = make_tenant(app, "initech")
    other_scim, other_api = SCIMClient(client, token), APIClient(client, issue_app_key(app, tid))
    secret, entry = operator_keys.generate("zone-a", "pdp_")
    app.config["PDP_KEYS"] = entry
    h = {"Authorization": f"Bearer {secret}"}
    assert sorted(t["key"] for t in client.get("/v1/pdp/tenants", headers=h).get_json()["tenants"]) == \
        ["acme", "initech"]
    error(client.get("/v1/pdp/tenants/nope/changes", headers=h), 404)
    ann = scim_user(scim, "ann@example.com")
    bob = scim_user(other_scim, "bob@example.com")
    for a, user in ((api, ann), (other_api, bob)):
        a.post("/roles", {"key": "reader", "permissions": ["document:read"]})
        a.post("/role-assignments", {"user": user, "role": "reader"})
    p = PDP(app, secret, api.key, tmp_path / "pdp")
    try:
        p.sync()
        assert sorted(p.state.mirror.by_key) == ["acme", "initech"]
        for a, key, mine, theirs in ((api, api.key, ann, bob), (other_api, other_api.key, bob, ann)):
            p.headers = {"Authorization": f"Bearer {key}"}
            same(a, p, [(mine, "read", "document:1"), (theirs, "read", "document:1")])
            assert p.post("/check", {"user": mine, "action": "read", "resource": "document:1"}).get_json()["allowed"]
            assert not p.post("/check", {"user": theirs, "action": "read", "resource": "document:1"}).get_json()[
                "allowed"]
        # decisions go back to each tenant's own log
        p.state.spool.flush()
        with app.app_context():
            logged = {(d.tenant_id, d.user_key) for d in db.session.execute(select(Decision)).scalars()}
            db.session.remove()
        tids = {t["key"]: t["id"] for t in client.get("/v1/pdp/tenants", headers=h).get_json()["tenants"]}
        assert (tids["acme"], ann) in logged and (tids["initech"], bob) in logged
        assert (tids["initech"], ann) in logged  # initech's key asked about ann: initech's log
    finally:
        stop(p.app)


def test_a_malformed_pdp_keys_stops_the_app(app):
    from scim_authz import create_app
    from scim_authz.config.settings import ConfigurationError
    from tests.conftest import app_config
    with pytest.raises(ConfigurationError, match="PDP_KEYS"):
        create_app({**app_config(app.config["SQLALCHEMY_DATABASE_URI"]), "PDP_KEYS": "zone-a:nothex"})


def test_readiness_says_how_far_behind_and_metrics_only_to_their_readers(pdp):
    ready = pdp.client.get("/readyz", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert ready.status_code == 503 and ready.get_json()["status"] == "loading"  # nothing held yet
    pdp.sync()
    body = pdp.client.get("/readyz", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_json()
    assert body["status"] == "ready" and body["connected"] is True
    assert body["tenants"][0]["key"] == "acme" and body["tenants"][0]["revisions_behind"] == 0
    text = pdp.client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_data(as_text=True)
    assert 'scim_authz_pdp_revisions_behind{tenant="acme"} 0' in text and "scim_authz_pdp_connected 1" in text
    # from elsewhere: whether it is ready, nothing of any tenant
    far = pdp.client.get("/readyz", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert far.status_code == 200 and far.get_json() == {"status": "ready"}
    assert pdp.client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 403


@pytest.mark.parametrize("body, words", [
    (b"not json", 'the body must be {"decisions": [...]}'),
    (b'{"rows": []}', 'the body must be {"decisions": [...]}'),
    (b'{"decisions": [["only", "three", "values"]]}', "decision 0 must be a list of 12 values"),
    (b'{"decisions": [["d1", 1, "yesterday", "k", null, "u", "a", "t", "i", false, "r", 1]]}',
     "decision 0: at must be an ISO 8601 time"),
])
def test_decisions_that_are_not_decision_rows_are_400_and_nothing_is_logged(app, client, keys, tenant, body, words):
    good = ["ok-1", 1, "2026-01-01T00:00:00", "key sk_x", None, "u", "read", "doc", "1", True, "r", 1]
    batch = orjson.loads(body) if body.startswith(b'{"decisions"') else None
    if batch is not None:
        body = orjson.dumps({"decisions": [good] + batch["decisions"]})
        words = words.replace("decision 0", "decision 1")
    r = client.post("/v1/pdp/tenants/acme/decisions", data=body, headers={
        "Authorization": f"Bearer {keys[0]}", "Content-Type": "application/json"})
    assert words in error(r, 400, "invalid_request")["message"]
    with app.app_context():
        assert db.session.execute(select(Decision).where(Decision.tenant_id == tenant[0])).first() is None


def test_a_user_not_held_while_the_control_plane_is_away_is_a_404_that_says_stale(scim, pdp):
    ann = scim_user(scim, "ann@example.com")
    pdp.sync()
    assert pdp.get(f"/users/{ann}/permissions").get_json()["user"]["id"] == ann
    r = pdp.get("/users/bob@example.com/permissions")
    assert r.status_code == 404 and "details" not in r.get_json()["error"]
    pdp.state.mirror.connected = False  # (as the syncer marks it when the control plane does not answer)
    held = pdp.get(f"/users/{ann}/permissions").get_json()
    assert held["user"]["id"] == ann and held["stale"] is True
    r = pdp.get("/users/bob@example.com/permissions")
    assert r.status_code == 404 and r.get_json()["error"]["details"] == {"stale": True}
    assert "cannot be confirmed" in r.get_json()["error"]["message"]
