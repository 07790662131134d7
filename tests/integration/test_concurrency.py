"""Concurrent writers over real HTTP: no lost update, every state its own ETag."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import DATABASE_URL, app_config, close_app, make_tenant
from tests.integration.live import serving


@pytest.fixture
def live_app(tmp_path):
    from scim_authz import create_app
    from scim_authz.extensions import db
    from tests.conftest import _reset_postgres

    url = DATABASE_URL if DATABASE_URL.startswith("postgresql") else f"sqlite:///{tmp_path / 'live.db'}"
    app = create_app(app_config(url))
    with app.app_context():
        if url.startswith("postgresql"):
            _reset_postgres(app)
        else:
            db.create_all()
    yield app
    close_app(app)


def test_concurrent_member_patches_lose_no_version(live_app):
    _, token = make_tenant(live_app, "race")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    with serving(live_app) as origin, httpx.Client(base_url=f"{origin}/scim/v2", headers=headers, timeout=60) as c:
        users = [c.post("/Users", json={"userName": f"u{i}"}).json()["id"] for i in range(40)]
        gid = c.post("/Groups", json={"displayName": "Race"}).json()["id"]

        def add(uid):
            with httpx.Client(base_url=f"{origin}/scim/v2", headers=headers, timeout=60) as own:
                r = own.patch(f"/Groups/{gid}", json={
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]})
                return r.status_code, r.headers.get("ETag")

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(add, users))
        assert {s for s, _ in results} == {204}
        tags = [t for _, t in results]
        assert len(set(tags)) == len(users), "two states of the group were given the same ETag"
        final = c.get(f"/Groups/{gid}").json()
        assert final["meta"]["version"] == f'W/"{len(users) + 1}"'
        assert len(final["members"]) == len(users)
