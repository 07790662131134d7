"""The local decision cache: a hit makes no request; entries end with their TTL, with the LRU
bound, and as soon as the client knows of a newer revision."""
from __future__ import annotations

import pytest
import scim_authz_client.cache as cache_module
from scim_authz_client import Client, DecisionCache


@pytest.fixture
def cached(origin, api, wire):
    with Client(origin, api.key, transport=wire, cache=DecisionCache(ttl_seconds=60)) as c:
        yield c


@pytest.fixture
def ann(authz, roles):
    authz.sync_user("u1", userName="ann@example.com")
    return "ann@example.com"


def checks_sent(wire) -> int:
    return len(wire.bodies("/v1/check"))


def test_a_hit_makes_no_request(cached, wire, ann):
    first = cached.check(ann, "edit", "document:1")
    assert not first.allowed
    assert cached.check(ann, "edit", "document:1") is first
    assert checks_sent(wire) == 1
    # another context, resource or action is another entry
    cached.check(ann, "edit", "document:1", context={"ip": "10.0.0.1"})
    cached.check(ann, "edit", "document:1", context={"ip": "10.0.0.1"})
    cached.check(ann, "edit", {"type": "document", "id": "1"})
    cached.check(ann, "view", "document:1")
    assert checks_sent(wire) == 4
    # explanations are always asked for
    cached.check(ann, "edit", "document:1", explain=True)
    cached.check(ann, "edit", "document:1", explain=True)
    assert checks_sent(wire) == 6


def test_entries_expire_after_the_ttl(origin, api, wire, ann, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(cache_module, "monotonic", lambda: now[0])
    with Client(origin, api.key, transport=wire, cache=DecisionCache(ttl_seconds=5)) as c:
        c.check(ann, "edit", "document:1")
        now[0] += 4.9
        c.check(ann, "edit", "document:1")
        assert checks_sent(wire) == 1
        now[0] += 0.2
        c.check(ann, "edit", "document:1")
        assert checks_sent(wire) == 2


def test_a_newer_revision_bypasses_older_entries(cached, wire, ann):
    assert not cached.check(ann, "edit", "document:1").allowed
    a = cached.assign_role(ann, "editor")  # this client wrote: its newer revision keys new entries
    after = cached.check(ann, "edit", "document:1")
    assert after.allowed and checks_sent(wire) == 2
    assert wire.bodies("/v1/check")[-1]["consistency"] == {"at_least": a.revision}
    assert cached.check(ann, "edit", "document:1") is after and checks_sent(wire) == 2


def test_the_cache_is_bounded_least_recently_used_first(origin, api, wire, ann):
    cache = DecisionCache(max_entries=2)
    with Client(origin, api.key, transport=wire, cache=cache) as c:
        for doc in ("document:a", "document:b", "document:a", "document:c"):  # a was used after b: b goes
            c.check(ann, "view", doc)
        assert len(cache) == 2 and checks_sent(wire) == 3
        c.check(ann, "view", "document:a")
        c.check(ann, "view", "document:c")
        assert checks_sent(wire) == 3
        c.check(ann, "view", "document:b")
        assert checks_sent(wire) == 4


def test_check_many_asks_only_for_what_is_not_cached(cached, wire, ann):
    known = cached.check(ann, "edit", "document:1")
    results = cached.check_many([(ann, "edit", "document:1"), (ann, "edit", "document:2")])
    assert results[0] is known and not results[1].allowed
    assert [len(b["checks"]) for b in wire.bodies("/v1/check/bulk")] == [1]
    assert cached.check(ann, "edit", "document:2") is results[1]
    assert cached.check_many([(ann, "edit", "document:1"), (ann, "edit", "document:2")]) == [known, results[1]]
    assert len(wire.bodies("/v1/check/bulk")) == 1 and checks_sent(wire) == 1


def test_failed_closed_answers_are_not_cached(closed_port):
    from tests.client.conftest import Counting
    wire = Counting()
    with Client(closed_port, "sk_x", transport=wire, retries=0, cache=DecisionCache()) as c:
        assert c.check("ann", "edit", "document:1").failed_closed
        assert c.check("ann", "edit", "document:1").failed_closed
    assert len(wire.requests) == 2


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        DecisionCache(max_entries=0)
    with pytest.raises(ValueError):
        DecisionCache(ttl_seconds=0)


def test_a_cache_serves_one_key_only(origin, api):
    shared = DecisionCache()
    with Client(origin, api.key, cache=shared), Client(origin, api.key, cache=shared):
        pass  # the same server and key: one tenant's answers
    with pytest.raises(ValueError, match="one server and API key"):
        Client(origin, "sk_another_tenants_key", cache=shared)
