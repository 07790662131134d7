"""The client's AuthZEN calls (evaluate, evaluations) against the live server's /access/v1."""
from __future__ import annotations

import asyncio

import pytest
from scim_authz_client import AsyncClient, Client, Evaluation, ServerUnavailable

from tests.api._api_helpers import scim_user


@pytest.fixture
def people(scim, api, roles):
    """ann (externalId 00u1ann) has editor tenant-wide; cy has nothing."""
    scim_user(scim, "ann@example.com", externalId="00u1ann")
    scim_user(scim, "cy@example.com")
    assert api.post("/role-assignments", {"user": "ann@example.com", "role": "editor"}).status_code == 201


def test_evaluate_with_shorthands_and_full_entities(authz, people, wire):
    yes = authz.evaluate("ann@example.com", "edit", "document:1")
    assert yes == Evaluation(decision=True)
    assert wire.bodies("/access/v1/evaluation")[-1] == {
        "subject": {"type": "user", "id": "ann@example.com"}, "action": {"name": "edit"},
        "resource": {"type": "document", "id": "1"}}
    assert authz.evaluate({"type": "user", "id": "00u1ann"}, {"name": "view"},
                          {"type": "document", "id": "2", "properties": {"x": 1}}).decision is True
    assert authz.evaluate("cy@example.com", "edit", "document:1").decision is False
    with pytest.raises(ValueError):
        authz.evaluate("ann@example.com", "edit", "document")


def test_evaluations_with_defaults_and_semantics(authz, people):
    items = [{"action": "view"}, {"action": "delete"}, {"action": "edit"}]
    got = authz.evaluations(items, subject="ann@example.com", resource="document:1")
    assert [e.decision for e in got] == [True, False, True]
    got = authz.evaluations(items, subject="ann@example.com", resource="document:1", semantic="deny_on_first_deny")
    assert [e.decision for e in got] == [True, False]
    got = authz.evaluations([{"subject": "cy@example.com"}, {"subject": "ann@example.com"}],
                            action="edit", resource="document:1", semantic="permit_on_first_permit")
    assert [e.decision for e in got] == [False, True]
    bad = authz.evaluations([{}], subject="ann@example.com", action="edit")  # no resource: a deny, with why
    assert bad[0].decision is False and bad[0].context["error"]["status"] == 400


def test_evaluate_fails_closed(closed_port):
    with Client(closed_port, "sk_x", retries=0) as c:
        no = c.evaluate("ann@example.com", "edit", "document:1")
        assert no.decision is False and no.failed_closed and "failed closed" in no.context["reason"]
    with Client(closed_port, "sk_x", retries=0, fail_closed=False) as c, pytest.raises(ServerUnavailable):
        c.evaluate("ann@example.com", "edit", "document:1")


def test_async_evaluate(origin, api, people):
    async def scenario():
        async with AsyncClient(origin, api.key) as c:
            assert (await c.evaluate("00u1ann", "edit", "document:1")).decision is True
            got = await c.evaluations([{"resource": "document:1"}, {"resource": "document:2"}],
                                      subject="cy@example.com", action="view")
            assert [e.decision for e in got] == [False, False]

    asyncio.run(scenario())
