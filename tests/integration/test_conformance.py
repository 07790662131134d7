"""The independent conformance suite scim2-tester, run against a live server over HTTP."""
from __future__ import annotations

import pytest

from tests.conftest import make_tenant
from tests.integration.live import serving

scim2_tester = pytest.importorskip("scim2_tester")
httpx2 = pytest.importorskip("httpx2")
from scim2_client.engines.httpx2 import SyncSCIMClient  # noqa: E402

# Statuses that are failures: anything the tester does not rate as conforming or acceptable.
FAILING = {"ERROR", "CRITICAL", "DEVIATION"}




def test_scim2_tester_passes_with_zero_failures(live_app):
    _, token = make_tenant(live_app, "conformance")
    with serving(live_app) as origin:
        http = httpx2.Client(base_url=f"{origin}/scim/v2", headers={"Authorization": f"Bearer {token}"},
                             timeout=30)
        client = SyncSCIMClient(http)
        results = scim2_tester.check_server(client)
    failures = [r for r in results if r.status.name in FAILING]
    skipped = [r for r in results if r.status.name == "SKIPPED"]
    print(f"\nscim2-tester: {len(results)} checks, {len(failures)} failures, {len(skipped)} skipped")
    for r in skipped:
        print(f"  skipped: {r.title} ({r.resource_type}): {r.reason}")
    assert len(results) > 30, "the conformance suite ran too few checks to mean anything"
    assert not failures, "\n".join(f"{r.status.name} {r.title} [{r.resource_type}]: {r.reason}" for r in failures)
