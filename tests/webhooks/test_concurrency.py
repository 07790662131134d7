"""An IdP that delivers the same event twice at once (Okta's retry racing its first try): over real
HTTP, one delivery applies it and the other answers it as a duplicate; nothing is applied twice."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import httpx

from scim_authz.db.models import RoleAssignment, User
from tests.api._api_helpers import count
from tests.conftest import make_tenant
from tests.integration.live import serving
from tests.webhooks.conftest import LOGTO_KEY, changes, okta_delivery, okta_event, post_register, set_secrets, sign


def test_the_same_event_delivered_concurrently_is_applied_once(live_app):
    tid, _ = make_tenant(live_app, "race")
    set_secrets(live_app, tid, logto=LOGTO_KEY, okta="race-okta-secret-0123456789abcdef")
    okta_body = json.dumps(okta_delivery(okta_event("user.lifecycle.create", "00u-race", "race@example.com",
                                                    event_uuid="race-1"))).encode()
    logto_body = json.dumps(post_register()).encode()
    deliveries = [("/webhooks/okta/race", okta_body, {"Authorization": "race-okta-secret-0123456789abcdef"}),
                  ("/webhooks/logto/race", logto_body, {"logto-signature-sha-256": sign(logto_body)})] * 4
    start = Barrier(len(deliveries))
    with serving(live_app) as origin:
        def deliver(item):
            path, body, headers = item
            with httpx.Client(base_url=origin, timeout=60) as c:
                start.wait()
                r = c.post(path, content=body, headers={**headers, "Content-Type": "application/json"})
                return r.status_code, r.json()["results"][0]["result"]

        with ThreadPoolExecutor(len(deliveries)) as pool:
            results = list(pool.map(deliver, deliveries))
    assert {status for status, _ in results} == {200}, results
    by_source = {p: sorted(res for (_, res), (path, _, _) in zip(results, deliveries, strict=True) if path == p)
                 for p in ("/webhooks/okta/race", "/webhooks/logto/race")}
    for outcomes in by_source.values():
        assert outcomes == ["applied", "duplicate", "duplicate", "duplicate"], by_source
    assert count(live_app, User, tenant_id=tid) == 2
    assert count(live_app, RoleAssignment, tenant_id=tid) == 0  # (no default role in this tenant)
    assert sorted(c.action for c in changes(live_app, tid)) == ["user.create", "user.create"]
