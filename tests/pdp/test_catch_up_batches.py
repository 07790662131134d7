"""A catch-up over many changes reads the users and memberships they name in one query each, not
one query per change (on PostgreSQL each is a round trip), and ends in the same decisions."""
from __future__ import annotations

import pytest

from scim_authz import create_app, pdp
from tests.api._api_helpers import allowed, scim_group, scim_user
from tests.conftest import SCIMClient, app_config, close_app, patch_op


@pytest.fixture
def scim_b(app, tenant):
    """SCIM through a second instance of the app on the same database (another process's writes)."""
    b = create_app(app_config(app.config["SQLALCHEMY_DATABASE_URI"]))
    yield SCIMClient(b.test_client(), tenant[1])
    close_app(b)


def _count(app, *names: str) -> dict[str, int]:
    with app.app_context():
        reader = pdp.engine(app).reader
    calls = dict.fromkeys(names, 0)
    for name in names:
        real = getattr(reader, name)

        def counted(*a, _real=real, _name=name):
            calls[_name] += 1
            return _real(*a)
        setattr(reader, name, counted)
    return calls


def test_a_catch_up_reads_its_users_and_memberships_in_batches(app, scim, api, scim_b):
    api.post("/roles", {"key": "editor", "permissions": ["document:edit"]})
    gid = scim_group(scim, "writers")
    api.post("/group-mappings", {"group": gid, "role": "editor"})
    first = scim_user(scim, "first@example.com")
    assert not allowed(api, first, "edit", "document:1")  # the tenant is loaded and current
    calls = _count(app, "user", "users", "membership", "memberships")
    users = [scim_user(scim_b, f"u{i}@example.com") for i in range(6)]
    for uid in users[:4]:
        r = scim_b.patch(f"/Groups/{gid}", patch_op({"op": "add", "path": "members", "value": [{"value": uid}]}))
        assert r.status_code in (200, 204)
    rev = int(r.headers["X-Authz-Revision"])  # (another instance: its notification may be on its way)
    answers = [allowed(api, u, "edit", "document:1", consistency={"at_least": rev}) for u in users]
    assert answers == [True] * 4 + [False] * 2
    assert calls == {"user": 0, "users": 1, "membership": 0, "memberships": 1}
    r = scim_b.patch(f"/Groups/{gid}", patch_op({"op": "remove", "path": f'members[value eq "{users[0]}"]'}))
    assert r.status_code in (200, 204)
    rev = int(r.headers["X-Authz-Revision"])
    # one change: read on its own
    assert not allowed(api, users[0], "edit", "document:1", consistency={"at_least": rev})
    assert calls["membership"] == 1 and calls["memberships"] == 1


@pytest.fixture
def api_b(app, tenant):
    """/v1 through a second instance of the app on the same database."""
    from tests.conftest import APIClient, issue_app_key
    b = create_app(app_config(app.config["SQLALCHEMY_DATABASE_URI"]))
    yield APIClient(b.test_client(), issue_app_key(b, tenant[0]))
    close_app(b)


def test_a_catch_up_reads_held_resource_attributes_in_one_query(app, scim, api, api_b):
    api.post("/roles", {"key": "approver", "permissions": ["invoice:approve"], "condition": "resource.amount < 10"})
    ann = scim_user(scim, "ann@example.com")
    api.post("/role-assignments", {"user": ann, "role": "approver"})
    assert not allowed(api, ann, "approve", "invoice:1")  # the tenant is loaded and current
    calls = _count(app, "resource_attributes", "resources_held")
    r = api_b.post("/resources", {"resources": [{"type": "invoice", "id": str(i), "attributes": {"amount": i * 3}}
                                                for i in range(1, 7)]})
    rev = r.get_json()["revision"]
    answers = [allowed(api, ann, "approve", f"invoice:{i}", consistency={"at_least": rev}) for i in range(1, 7)]
    assert answers == [True] * 3 + [False] * 3  # 3, 6, 9 under 10; 12, 15, 18 not
    assert calls == {"resource_attributes": 0, "resources_held": 1}
