"""Regression tests for the hardening review's findings, each named after its number. Every test
asserts on real HTTP responses and on the database; a refused request changes nothing."""
from __future__ import annotations

import io
import json
import threading

import pytest
from sqlalchemy import text

from scim_authz import pdp
from scim_authz.db.extensions import db
from scim_authz.db.models import Decision, Role, User
from tests.api._api_helpers import count, error, revision, scim_group, scim_user
from tests.conftest import DATABASE_URL, APIClient, issue_app_key

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PG = DATABASE_URL.startswith("postgresql")


def scim_error(r, status: int, scim_type: str | None = None) -> dict:
    """Assert an RFC 7644 §3.12 error body of this status (and scimType)."""
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    body = json.loads(r.get_data(as_text=True))
    assert body["schemas"] == [SCIM_ERROR] and body["status"] == str(status) and body["detail"]
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return body


def logged(app, tenant_id: int) -> int:
    """Decisions in the log once this instance's queue is written."""
    with app.app_context():
        pdp.audit(app).flush()
    return count(app, Decision, tenant_id=tenant_id)


# ---- 1. one check silences the decision log ---------------------------------------------------

@pytest.mark.parametrize("user, resource", [("x\ud800", "document:1"), ("x\u0000", "document:1"),
                                            ("alice", {"type": "document", "id": "1\ud800"})])
def test_finding_1_unstorable_text_in_a_check_is_refused_and_the_log_keeps_writing(app, api, tenant, user, resource):
    r = api.post("/check", {"user": user, "action": "view", "resource": resource})
    assert error(r, 400, "invalid_request")["message"]
    before = logged(app, tenant[0])
    for n in range(40):
        assert api.post("/check", {"user": f"u{n}", "action": "view", "resource": "document:1"}).status_code == 200
    assert logged(app, tenant[0]) == before + 40
    assert api.get("/decisions?limit=5").status_code == 200 and api.get("/usage").status_code == 200


def test_finding_1_a_row_the_database_refuses_never_stalls_the_writer(app, tenant):
    """A value that reaches the log some other way (a JWT claim, a future edge) is written with its
    text made storable, alone; the rows around it and every later decision are written."""
    from scim_authz.db.models import utcnow
    from scim_authz.pdp.decision_log import COLUMNS

    def row(n: int, user_key: str) -> tuple:
        values = {"id": f"d{n}", "tenant_id": tenant[0], "at": utcnow(), "asked_by": "test", "user_id": None,
                  "user_key": user_key, "action": "view", "resource_type": "document", "resource_id": "1",
                  "allowed": False, "reason": "test", "revision": 0}
        return tuple(values[c] for c in COLUMNS)

    with app.app_context():
        log = pdp.audit(app)
        log.record_many([row(1, "before"), row(2, "bad\ud800\u0000"), row(3, "after")])
        log.flush()
        log.record(row(4, "next"))
        log.flush()
        keys = dict(db.session.execute(text("SELECT id, user_key FROM decisions")).all())
        db.session.remove()
    assert keys == {"d1": "before", "d2": "bad\ufffd\ufffd", "d3": "after", "d4": "next"}


# ---- 4. body limits --------------------------------------------------------------------------

def test_finding_4_a_chunked_scim_body_over_the_limit_is_refused_before_it_is_read(app, client, scim, tenant):
    app.config["SCIM_MAX_REQUEST_BYTES"] = 1_048_576
    body = json.dumps({"userName": "big", "title": "x" * 2_000_000}).encode()
    r = client.post("/scim/v2/Users", input_stream=io.BytesIO(body), headers={
        "Authorization": f"Bearer {tenant[1]}", "Content-Type": "application/scim+json",
        "Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    scim_error(r, 413)
    assert count(app, User, tenant_id=tenant[0]) == 0


def test_finding_4_v1_bodies_are_capped_too(app, client, api, tenant):
    app.config["API_MAX_REQUEST_BYTES"] = 100_000
    users = [{"key": f"u{n}", "userName": f"u{n}@x", "displayName": "x" * 100} for n in range(2000)]
    rev = revision(app, tenant[0])
    error(api.post("/users/bulk", {"users": users}), 413, "payload_too_large")
    assert revision(app, tenant[0]) == rev and count(app, User, tenant_id=tenant[0]) == 0


# ---- 5. huge filters ---------------------------------------------------------------------------

def test_finding_5_a_huge_filter_is_refused_before_it_is_parsed(scim):
    import time
    started = time.perf_counter()
    huge = " or ".join(f'userName eq "u{n}"' for n in range(400_000))  # about 8 MB
    r = scim.post("/Users/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                     "filter": huge})
    scim_error(r, 400, "invalidFilter")
    assert time.perf_counter() - started < 5  # it was 16.7 s of parsing


def test_finding_5_a_huge_patch_path_is_refused_too(scim):
    gid = scim_group(scim, "Eng")
    path = "members[" + " or ".join(f'value eq "{n}"' for n in range(3000)) + "]"
    r = scim.patch(f"/Groups/{gid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                      "Operations": [{"op": "remove", "path": path}]})
    scim_error(r, 400, "invalidPath")


# ---- 7. unexpected input gives 500s --------------------------------------------------------------

def test_finding_7_json_nested_a_thousand_deep_is_a_400(app, scim, api, tenant):
    deep = "[" * 1000 + "]" * 1000
    scim_error(scim.post("/Users", raw='{"userName": "a", "x": ' + deep + "}"), 400, "invalidSyntax")
    error(api.post("/roles", raw='{"key": "r", "x": ' + deep + "}"), 400, "invalid_request")
    ninety = "[" * 90 + "]" * 90  # parses in Python, and is still refused: nothing here nests that deep
    error(api.post("/check", raw='{"user": "a", "action": "view", "resource": "d:1", "context": {"x": '
                                 + ninety + "}}"), 400, "invalid_request")
    assert count(app, User, tenant_id=tenant[0]) == 0 and count(app, Role, tenant_id=tenant[0]) == 0


@pytest.mark.parametrize("value", ["\ud800", "a\u0000b"])
def test_finding_7_unstorable_text_is_a_400_on_scim_and_v1(app, scim, api, tenant, value):
    scim_error(scim.post("/Users", {"userName": f"u{value}"}), 400)
    scim_error(scim.post("/Users", {"userName": "ok", "title": value}), 400)
    if "\x00" in value:  # (a URL cannot carry a lone surrogate at all)
        scim_error(scim.get("/Users", query_string={"filter": f'userName eq "{value}"'}), 400)
    error(api.put("/users/k", {"userName": f"k{value}@x"}), 400)
    error(api.post("/roles", {"key": "r", "description": value}), 400, "invalid_request")
    assert count(app, User, tenant_id=tenant[0]) == 0 and count(app, Role, tenant_id=tenant[0]) == 0


def test_finding_7_a_nul_in_a_path_is_a_400(api, scim):
    error(api.get("/users/a%00b"), 400)
    scim_error(scim.get("/Users/a%00b"), 400)


def test_finding_7_strings_longer_than_their_column_are_a_400(app, scim, api, tenant):
    scim_error(scim.post("/Users", {"userName": "u" * 5000}), 400, "invalidValue")
    scim_error(scim.post("/Groups", {"displayName": "g" * 5000}), 400, "invalidValue")
    error(api.put("/users/someone", {"userName": "u" * 300}), 400)
    error(api.post("/check", {"user": "u" * 5000, "action": "view", "resource": "document:1"}), 400)
    error(api.post("/check", {"user": "a", "action": "v" * 500, "resource": "document:1"}), 400)
    error(api.post("/check", {"user": "a", "action": "view", "resource": {"type": "document", "id": "i" * 5000}}),
          400)
    assert count(app, User, tenant_id=tenant[0]) == 0


@pytest.mark.parametrize("query", ["startIndex=99999999999999999999", "count=99999999999999999999",
                                   "startIndex=-99999999999999999999"])
def test_finding_7_integers_of_64_bits_and_more_in_scim_queries_are_a_400(scim, query):
    scim_error(scim.get(f"/Users?{query}"), 400, "invalidValue")


def test_finding_7_integers_of_64_bits_and_more_in_v1_are_a_400(api):
    error(api.get("/users/someone/permissions?at_least=99999999999999999999"), 400)
    error(api.get("/decisions?limit=99999999999999999999"), 400)
    error(api.get("/relationships?cursor=99999999999999999999"), 400)
    error(api.delete("/role-assignments/99999999999999999999"), 400)
    error(api.delete("/group-mappings/99999999999999999999"), 400)
    error(api.get("/schema?version=99999999999999999999"), 400)
    error(api.post("/check", raw='{"user": "a", "action": "view", "resource": "document:1", '
                                 '"consistency": {"at_least": 99999999999999999999}}'), 400)


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_finding_7_dates_at_the_edges_are_a_400(api, when):
    error(api.get("/decisions", query_string={"since": when}), 400, "invalid_request")


def test_finding_7_a_stale_at_least_is_a_400_on_permissions_lookups_and_bulk(api, scim):
    scim_user(scim, "ada@example.com")
    far = 10**9
    error(api.get(f"/users/ada@example.com/permissions?at_least={far}"), 400, "revision_not_known")
    error(api.post("/lookup/resources", {"user": "ada@example.com", "action": "view", "resource_type": "document",
                                         "consistency": {"at_least": far}}), 400, "revision_not_known")
    error(api.post("/lookup/subjects", {"action": "view", "resource": "document:1",
                                        "consistency": {"at_least": far}}), 400, "revision_not_known")
    error(api.post("/check/bulk", {"checks": [{"user": "ada@example.com", "action": "view",
                                               "resource": "document:1"}], "consistency": {"at_least": far}}),
          400, "revision_not_known")


# ---- 8. NaN and Infinity ---------------------------------------------------------------------

@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_finding_8_nan_and_infinity_are_refused_not_stored(app, api, tenant, literal):
    r = api.put("/users/ada", raw='{"userName": "ada@x", "attributes": {"score": ' + literal + "}}")
    error(r, 400, "invalid_request")
    assert count(app, User, tenant_id=tenant[0]) == 0
    scim_r = app.test_client().post("/scim/v2/Users", data='{"userName": "a", "x": ' + literal + "}",
                                    headers={"Authorization": f"Bearer {tenant[1]}"})
    scim_error(scim_r, 400, "invalidSyntax")


# ---- 9. races on PostgreSQL -----------------------------------------------------------------------

def _together(n: int, call) -> list[int]:
    """Run `call` in n threads released at once; their statuses."""
    barrier, out = threading.Barrier(n), []

    def run():
        barrier.wait()
        out.append(call())

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return sorted(out)


@pytest.mark.skipif(not PG, reason="SQLite serialises writers; the race is PostgreSQL's")
def test_finding_9_concurrent_role_creates_give_one_201_and_409s(app, tenant):
    key = issue_app_key(app, tenant[0])
    statuses = _together(20, lambda: APIClient(app.test_client(), key).post(
        "/roles", {"key": "editor", "permissions": ["document:edit"]}).status_code)
    assert statuses == [201] + [409] * 19
    assert count(app, Role, tenant_id=tenant[0]) == 1


@pytest.mark.skipif(not PG, reason="SQLite serialises writers; the race is PostgreSQL's")
def test_finding_9_concurrent_syncs_of_one_user_give_one_201_and_200s(app, tenant):
    key = issue_app_key(app, tenant[0])
    statuses = _together(20, lambda: APIClient(app.test_client(), key).put(
        "/users/ada", {"userName": "ada@example.com"}).status_code)
    assert statuses == [200] * 19 + [201]
    assert count(app, User, tenant_id=tenant[0]) == 1


@pytest.mark.skipif(not PG, reason="SQLite serialises writers; the race is PostgreSQL's")
def test_finding_9_concurrent_identical_assignments_and_mappings_are_idempotent(app, tenant, scim):
    key = issue_app_key(app, tenant[0])
    api = APIClient(app.test_client(), key)
    scim_user(scim, "ada@example.com")
    scim_group(scim, "Eng")
    assert api.post("/roles", {"key": "editor", "permissions": ["document:edit"]}).status_code == 201
    statuses = _together(10, lambda: APIClient(app.test_client(), key).post(
        "/role-assignments", {"user": "ada@example.com", "role": "editor"}).status_code)
    assert statuses == [200] * 9 + [201]
    statuses = _together(10, lambda: APIClient(app.test_client(), key).post(
        "/group-mappings", {"group": "Eng", "role": "editor"}).status_code)
    assert statuses == [200] * 9 + [201]


# ---- 13. headers --------------------------------------------------------------------------------

def test_finding_13_unknown_console_paths_carry_the_console_headers(client):
    r = client.get("/admin/no/such/page")
    assert r.status_code == 404
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"


def test_finding_13_every_json_response_says_nosniff(api, scim, client):
    for r in (api.get("/roles"), api.get("/nope"), scim.get("/Users"), client.get("/v1/roles")):
        assert r.headers["X-Content-Type-Options"] == "nosniff"


# ---- 14. the Host header ------------------------------------------------------------------------

def test_finding_14_an_untrusted_host_is_not_reflected(app, scim, tenant):
    r = scim.post("/Users", {"userName": "ada"}, base_url="http://evil.example")
    scim_error(r, 400)
    assert count(app, User, tenant_id=tenant[0]) == 0
    r = scim.post("/Users", {"userName": "ada"})
    assert r.status_code == 201 and r.get_json(force=True)["meta"]["location"].startswith("http://localhost/")


def test_finding_14_production_needs_a_public_base_url_or_trusted_hosts(monkeypatch):
    from scim_authz import create_app
    monkeypatch.delenv("TRUSTED_HOSTS", raising=False)
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        create_app({"ENV_NAME": "production", "SECRET_KEY": "k" * 40, "PUBLIC_BASE_URL": "",
                    "SQLALCHEMY_DATABASE_URI": "sqlite://"})


# ---- 15. a full disk ----------------------------------------------------------------------------

@pytest.mark.skipif(PG, reason="SQLite's max_page_count stands in for a full disk")
def test_finding_15_a_full_disk_answers_writes_with_503_and_a_reason(app, scim, api, tenant):
    from sqlalchemy import event

    with app.app_context():
        pages = db.session.execute(text("PRAGMA page_count")).scalar_one()

        @event.listens_for(db.engine, "connect")
        def _full(dbapi_conn, _record):
            dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 1}")
        db.engine.dispose()
    big = {"userName": "ada", "title": "x" * 200_000}
    body = scim_error(scim.post("/Users", big), 503)
    assert "disk is full" in body["detail"]
    err = error(api.put("/users/ada", {"userName": "ada@x", "attributes": {"bio": "x" * 200_000}}), 503)
    assert "disk is full" in err["message"]
    assert scim.get("/Users").status_code == 200  # reads keep working


def test_a_connection_the_pool_cannot_make_is_a_503_not_a_500(app, scim, monkeypatch):
    """A unit of work takes its own connection straight from the pool, whose driver error arrives
    unwrapped by SQLAlchemy: the database going away mid-traffic is still a SCIM 503 with
    Retry-After, and nothing is written."""
    assert scim.get("/Users").status_code == 200  # (the token is known: the next request needs no read for it)
    with app.app_context():
        engine = db.engine
        dbapi = engine.dialect.loaded_dbapi

        def refused():
            raise dbapi.OperationalError("connection failed: the database system is shutting down")
        monkeypatch.setattr(engine, "raw_connection", refused)
    r = scim.post("/Users", {"userName": "ada@example.com"})
    body = scim_error(r, 503)
    assert "unavailable" in body["detail"] and r.headers["Retry-After"] == "5"
    monkeypatch.undo()
    assert count(app, User, user_name="ada@example.com") == 0
