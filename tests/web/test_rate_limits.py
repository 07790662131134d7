"""Rate limits on every edge (finding 10): per credential and per client address, 429 with Retry-After
in each surface's own error format, failed authentications counted by address before any key is
known, and one budget for every worker process of an instance."""
from __future__ import annotations

import pytest

from tests.conftest import APIClient, SCIMClient, close_app, issue_app_key, make_tenant
from tests.web._limits import Clock, in_workers, limited_app

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
NEVER = 0.0001  # a refill rate so slow that, on the test's still clock, only the burst counts


@pytest.fixture
def settings():
    return {}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(tmp_path, settings, clock):
    app = limited_app(tmp_path, settings, clock)
    yield app
    close_app(app)


def at(address: str) -> dict:
    """Test client arguments for a request sent from `address` (what request.remote_addr reads)."""
    return {"environ_base": {"REMOTE_ADDR": address}}


def retry_after(r) -> int:
    value = r.headers.get("Retry-After")
    assert value is not None and value.isdigit() and int(value) >= 1, dict(r.headers)
    return int(value)


def assert_scim_429(r):
    assert r.status_code == 429, (r.status_code, r.get_data(as_text=True))
    assert r.content_type.startswith("application/scim+json")
    body = r.get_json(force=True)
    assert body["schemas"] == [SCIM_ERROR] and body["status"] == "429" and body["detail"]
    return retry_after(r)


def assert_json_429(r):
    assert r.status_code == 429, (r.status_code, r.get_data(as_text=True))
    assert r.content_type.startswith("application/json")
    err = r.get_json()["error"]
    assert err["status"] == 429 and err["code"] == "too_many_requests" and err["message"]
    return retry_after(r)


@pytest.mark.parametrize("settings", [{"RATE_LIMIT_SCIM_TOKEN": (1.0, 3)}])
def test_finding_10_scim_token_gets_429_with_retry_after_then_recovers(scim, clock, app, client):
    for _ in range(3):
        assert scim.get("/ServiceProviderConfig").status_code == 200
    wait = assert_scim_429(scim.get("/Users"))
    assert wait == 1
    other = SCIMClient(client, make_tenant(app, "globex")[1])  # another token has its own budget
    assert other.get("/ServiceProviderConfig").status_code == 200
    clock.advance(wait)
    assert scim.get("/ServiceProviderConfig").status_code == 200
    assert_scim_429(scim.get("/ServiceProviderConfig"))


@pytest.mark.parametrize("settings", [{"RATE_LIMIT_API_KEY": (NEVER, 3)}])
def test_finding_10_v1_key_gets_429_with_json_error(api, app, tenant, client):
    for _ in range(3):
        assert api.get("/roles").status_code == 200
    assert_json_429(api.get("/roles"))
    assert_json_429(api.post("/check", {"user": "u", "action": "view", "resource": "document:1"}))
    second = APIClient(client, issue_app_key(app, tenant[0]))  # per credential, not per tenant
    assert second.get("/roles").status_code == 200


@pytest.mark.parametrize("settings", [{"RATE_LIMIT_API_AUTH_FAILURES": (1.0, 5)}])
def test_finding_10_invalid_keys_from_one_address_get_429(app, client, clock, tenant):
    attacker, other = at("203.0.113.7"), at("198.51.100.9")
    bad, good = APIClient(client, "sk_not-a-key"), APIClient(client, issue_app_key(app, tenant[0]))
    for _ in range(5):
        assert bad.get("/roles", **attacker).status_code == 401
    wait = assert_json_429(bad.get("/roles", **attacker))
    # Refused before the key is looked at: from this address, a valid key waits as well...
    assert_json_429(good.get("/roles", **attacker))
    # ...while another address is not held back by this one's failures.
    assert bad.get("/roles", **other).status_code == 401
    assert good.get("/roles", **other).status_code == 200
    clock.advance(wait)
    assert good.get("/roles", **attacker).status_code == 200


@pytest.mark.parametrize("settings", [{"RATE_LIMIT_SCIM_AUTH_FAILURES": (0.5, 4)}])
def test_finding_10_invalid_scim_tokens_from_one_address_get_429(client, tenant):
    attacker = at("203.0.113.8")
    bad = SCIMClient(client, "scim_not-a-token")
    for _ in range(4):
        assert bad.get("/Users", **attacker).status_code == 401
    assert assert_scim_429(bad.get("/Users", **attacker)) == 2
    assert assert_scim_429(SCIMClient(client, tenant[1]).get("/Users", **attacker)) == 2


@pytest.mark.parametrize("settings", [{"RATE_LIMIT_API_ADDRESS": (NEVER, 4)}])
def test_finding_10_every_request_of_an_address_counts(app, client, tenant):
    one, two = (APIClient(client, issue_app_key(app, tenant[0])) for _ in range(2))
    for c in (one, two, one, two):
        assert c.get("/roles", **at("192.0.2.1")).status_code == 200
    assert_json_429(one.get("/roles", **at("192.0.2.1")))
    assert_json_429(two.get("/roles", **at("192.0.2.1")))
    assert one.get("/roles", **at("192.0.2.2")).status_code == 200


@pytest.mark.parametrize("settings", [{"RATE_LIMIT_CONSOLE_ADDRESS": (NEVER, 3)}])
def test_finding_10_console_gets_429_page_with_retry_after(client):
    for _ in range(3):
        assert client.get("/admin/login").status_code == 200
    r = client.get("/admin/login")
    assert r.status_code == 429 and r.content_type.startswith("text/html")
    assert "Too many" in r.get_data(as_text=True)
    retry_after(r)
    assert client.get("/admin/login", **at("192.0.2.3")).status_code == 200


@pytest.mark.parametrize("settings", [{"RATE_LIMIT_SCIM_TOKEN": (NEVER, 30)}])
def test_finding_10_workers_forked_from_one_app_share_one_budget(app, tenant):
    def work():
        scim = SCIMClient(app.test_client(), tenant[1])
        return [scim.get("/ServiceProviderConfig").status_code for _ in range(25)]

    statuses = [s for worker in in_workers(app, 2, work) for s in worker]
    assert statuses.count(200) == 30 and statuses.count(429) == 20, statuses


@pytest.mark.parametrize("settings", [{"RATE_LIMIT_API_AUTH_FAILURES": (NEVER, 12)}])
def test_finding_10_workers_share_the_failed_authentication_budget(app):
    def work():
        bad = APIClient(app.test_client(), "sk_not-a-key")
        return [bad.get("/roles").status_code for _ in range(15)]

    statuses = [s for worker in in_workers(app, 2, work) for s in worker]
    # One budget of 12 (each worker alone would hear 12): a failure is counted once it has happened,
    # so a request of the other worker already past the check may be heard too, never more.
    assert 12 <= statuses.count(401) <= 13 and statuses.count(401) + statuses.count(429) == 30, statuses


@pytest.mark.parametrize("settings", [{
    "RATE_LIMIT_API_KEY": 0, "RATE_LIMIT_API_ADDRESS": (0, 0), "RATE_LIMIT_API_AUTH_FAILURES": 0,
    "RATE_LIMIT_SCIM_TOKEN": 0, "RATE_LIMIT_SCIM_ADDRESS": 0, "RATE_LIMIT_SCIM_AUTH_FAILURES": 0}])
def test_limits_of_zero_are_off(api, scim, client):
    bad = APIClient(client, "sk_not-a-key")
    for _ in range(60):
        assert api.get("/roles").status_code == 200
        assert scim.get("/ServiceProviderConfig").status_code == 200
        assert bad.get("/roles").status_code == 401


def test_default_limits_leave_heavy_use_alone(api, scim):
    for _ in range(300):
        assert api.get("/roles").status_code == 200
    for _ in range(100):
        assert scim.get("/ServiceProviderConfig").status_code == 200


def test_the_table_stays_its_size_and_keeps_the_busiest_keys():
    from scim_authz.web.shared_table import SharedTable

    table = SharedTable(slots=64, probe=4)
    t = 0.0
    for n in range(5000):  # far more keys than slots: the stalest make room
        t += 1
        with table.lock:
            slot, value, _ = table.find(n + 1)
            table.store(slot, n + 1, 1.0, t)
    with table.lock:
        assert table.find(5000)[1] == 1.0 and table.find(1)[1] is None
    assert table.size_bytes() == (64 + 4) * 24
