"""Typed errors from the server's JSON error bodies, retries, and failing closed when the server
cannot answer a check."""
from __future__ import annotations

import logging

import httpx
import pytest
from scim_authz_client import (
    AuthenticationError,
    Client,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    ScimAuthzError,
    ServerError,
    ServerUnavailable,
)

from tests.client.conftest import Counting


def test_a_bad_key_is_an_authentication_error(origin):
    with Client(origin, "sk_not_a_key") as bad:
        with pytest.raises(AuthenticationError) as e:
            bad.check("ann", "view", "document:1")  # not failed closed: the server answered
    assert e.value.status == 401 and e.value.code == "unauthorized" and e.value.message
    assert isinstance(e.value, ScimAuthzError)


def test_a_malformed_check_is_an_invalid_request_not_a_denial(authz):
    with pytest.raises(InvalidRequest) as e:
        authz.check("ann", "not an action!", "document:1")
    assert e.value.status == 400 and "action" in e.value.details


def test_an_unknown_user_has_no_permissions(authz):
    with pytest.raises(NotFound, match="no user"):
        authz.permissions("nobody@example.com")


def test_unreachable_check_fails_closed_and_says_why(closed_port, caplog):
    wire = Counting()
    with Client(closed_port, "sk_x", transport=wire) as c, caplog.at_level(logging.WARNING, "scim_authz_client"):
        d = c.check("ann", "edit", "document:1")
        many = c.check_many([("ann", "edit", "document:1"), ("bob", "view", "document:2")])
    assert d.allowed is False and d.failed_closed and d.decision_id is None
    assert d.explanation.startswith("failed closed: ") and "POST /v1/check failed" in d.explanation
    assert [(r.allowed, r.failed_closed) for r in many] == [(False, True), (False, True)]
    assert len(wire.requests) == 6  # each tried three times (retries=2)
    assert any("denied without a decision" in r.getMessage() for r in caplog.records)


def test_unreachable_check_raises_when_not_failing_closed(closed_port):
    with Client(closed_port, "sk_x", fail_closed=False, retries=0) as c:
        with pytest.raises(ServerUnavailable) as e:
            c.check("ann", "edit", "document:1")
        with pytest.raises(ServerUnavailable):
            c.lookup_resources("ann", "view", "document")  # only checks fail closed
    assert e.value.code == "unreachable" and "/v1/check" in e.value.message


def test_a_write_that_never_left_is_retried(closed_port):
    wire = Counting()
    with Client(closed_port, "sk_x", transport=wire) as c, pytest.raises(ServerUnavailable) as e:
        c.assign_role("ann", "editor")
    assert len(wire.requests) == 3
    assert "may or may not" not in e.value.message


def mock(responses: list):
    """A client over a transport that answers from `responses` (Response or exception) in turn."""
    seen: list[httpx.Request] = []

    def handle(request):
        seen.append(request)
        answer = responses[min(len(seen), len(responses)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return seen, httpx.MockTransport(handle)


def error_response(status: int, code: str = "x", message: str = "no") -> httpx.Response:
    return httpx.Response(status, json={"error": {"status": status, "code": code, "message": message}})


def test_reads_retry_on_503_then_succeed():
    ok = httpx.Response(200, json={"allowed": True, "decision_id": "d-1", "revision": 4})
    seen, transport = mock([error_response(503, "unavailable"), ok])
    with Client("http://authz.test", "sk_x", transport=transport) as c:
        d = c.check("ann", "edit", "document:1")
    assert d.allowed and d.decision_id == "d-1" and len(seen) == 2


def test_writes_are_not_retried_on_503_or_after_sending():
    seen, transport = mock([error_response(503, "unavailable", "the database is unavailable")])
    with Client("http://authz.test", "sk_x", transport=transport) as c:
        with pytest.raises(ServerUnavailable) as e:
            c.sync_user("u1", userName="ann")
        assert len(seen) == 1 and e.value.code == "unavailable" and e.value.status == 503
    seen, transport = mock([httpx.ReadTimeout("slow")])
    with Client("http://authz.test", "sk_x", transport=transport) as c:
        with pytest.raises(ServerUnavailable, match="may or may not have been applied"):
            c.write_relationships([("document:1", "owner", "user:u1")])
    assert len(seen) == 1


def test_a_500_fails_a_check_closed_without_retrying():
    seen, transport = mock([error_response(500, "error", "Internal server error")])
    with Client("http://authz.test", "sk_x", transport=transport) as c:
        assert c.check("ann", "edit", "document:1").failed_closed
    with Client("http://authz.test", "sk_x", transport=transport, fail_closed=False) as c:
        with pytest.raises(ServerError) as e:
            c.check("ann", "edit", "document:1")
    assert len(seen) == 2 and e.value.message == "Internal server error"


def test_timeouts_are_retried_on_reads_and_fail_closed():
    seen, transport = mock([httpx.ReadTimeout("slow")])
    with Client("http://authz.test", "sk_x", transport=transport, retries=1) as c:
        d = c.check("ann", "edit", "document:1")
    assert not d.allowed and "timed out" in d.explanation and len(seen) == 2


@pytest.mark.parametrize("status, cls", [
    (400, InvalidRequest), (401, AuthenticationError), (403, PermissionDenied), (404, NotFound),
    (409, Conflict), (422, InvalidRequest), (429, RateLimited), (418, ScimAuthzError), (501, ServerError),
])
def test_each_status_has_its_class(status, cls):
    _, transport = mock([error_response(status, "some_code", "what went wrong")])
    with Client("http://authz.test", "sk_x", transport=transport) as c, pytest.raises(cls) as e:
        c.assign_role("ann", "editor")
    assert type(e.value) is cls
    assert (e.value.status, e.value.code, e.value.message) == (status, "some_code", "what went wrong")


def test_a_body_that_is_not_json_still_makes_a_typed_error():
    _, transport = mock([httpx.Response(502, text="<html>Bad Gateway</html>")])
    with Client("http://authz.test", "sk_x", transport=transport, retries=0) as c, pytest.raises(ServerError) as e:
        c.permissions("ann")
    assert e.value.status == 502 and "Bad Gateway" in e.value.message and e.value.code is None
