"""The Flask extension: a small app whose views @require a decision from the live server."""
from __future__ import annotations

import pytest
from flask import Flask, g, jsonify
from scim_authz_client import AuthenticationError, CheckResult, Client, SyncResult
from scim_authz_client.flask import ScimAuthz

from tests.api._api_helpers import scim_user


@pytest.fixture
def people(scim, api, roles):
    """ann has editor tenant-wide, bob has viewer on document:7 only, cy has nothing."""
    for name in ("ann", "bob", "cy"):
        scim_user(scim, f"{name}@example.com")
    for user, role, resource in (("ann@example.com", "editor", None), ("bob@example.com", "viewer", "document:7")):
        r = api.post("/role-assignments", {"user": user, "role": role, **({"resource": resource} if resource else {})})
        assert r.status_code == 201, r.get_json()


def docs_app(ext: ScimAuthz, config: dict | None = None) -> tuple[Flask, list]:
    """An app with protected views; `ran` records each view that ran."""
    app = Flask("docs")
    app.config.update(config or {})
    ext.init_app(app)
    ran: list = []

    @app.post("/documents/<doc_id>")
    @ext.require("edit", resource=lambda doc_id: f"document:{doc_id}")
    def edit(doc_id):
        ran.append(("edit", doc_id))
        assert isinstance(g.authz_decision, CheckResult) and g.authz_decision.allowed
        return {"doc": doc_id, "decision_id": g.authz_decision.decision_id}

    @app.get("/documents/<doc_id>")
    @ext.require("view", resource=lambda doc_id: {"type": "document", "id": doc_id})
    def view(doc_id):
        ran.append(("view", doc_id))
        return {"doc": doc_id}

    @app.get("/reports")
    @ext.require("view", resource="document:7")
    def report():
        ran.append(("report",))
        return {"ok": True}

    return app, ran


def by_header(ext: ScimAuthz):
    """A user loader naming the end user by an X-User header (the app's own session, say)."""
    from flask import request

    @ext.user_loader
    def load():
        return request.headers.get("X-User")


def test_allowed_runs_the_view_and_denied_does_not(origin, api, people, wire):
    with Client(origin, api.key, transport=wire) as client:
        ext = ScimAuthz(client=client)
        by_header(ext)
        app, ran = docs_app(ext)
        web = app.test_client()

        r = web.post("/documents/42", headers={"X-User": "ann@example.com"})
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["doc"] == "42" and r.get_json()["decision_id"]
        assert ran == [("edit", "42")]
        assert wire.bodies("/v1/check")[-1] == {"user": "ann@example.com", "action": "edit", "resource": "document:42"}

        r = web.post("/documents/7", headers={"X-User": "bob@example.com"})
        assert r.status_code == 403 and r.is_json
        body = r.get_json()
        decision_id = body["error"].pop("decision_id")
        assert body == {"error": {"status": 403, "code": "forbidden", "message": "not allowed to edit document:7"}}
        assert decision_id and ran == [("edit", "42")]  # the view did not run

        assert web.get("/documents/7", headers={"X-User": "bob@example.com"}).status_code == 200
        assert wire.bodies("/v1/check")[-1]["resource"] == {"type": "document", "id": "7"}
        assert web.get("/documents/8", headers={"X-User": "bob@example.com"}).status_code == 403
        assert web.get("/reports", headers={"X-User": "bob@example.com"}).get_json() == {"ok": True}
        assert web.get("/reports", headers={"X-User": "cy@example.com"}).status_code == 403
        assert ran == [("edit", "42"), ("view", "7"), ("report",)]
        # one check per protected request, and nothing else
        assert len(wire.requests) == len(wire.bodies("/v1/check")) == 6


def test_no_user_is_401_and_asks_nothing(origin, api, people, wire):
    with Client(origin, api.key, transport=wire) as client:
        ext = ScimAuthz(client=client)
        by_header(ext)
        app, ran = docs_app(ext)
        r = app.test_client().post("/documents/42")
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        assert r.get_json() == {"error": {"status": 401, "code": "unauthenticated",
                                          "message": "this request names no user"}}
        assert ran == [] and wire.requests == []


def test_built_from_app_config(origin, api, people):
    ext = ScimAuthz()  # the app-factory pattern: init_app later, a client per app from its config
    by_header(ext)
    app, ran = docs_app(ext, {"SCIM_AUTHZ_URL": origin, "SCIM_AUTHZ_API_KEY": api.key,
                              "SCIM_AUTHZ_CACHE": {"max_entries": 100, "ttl_seconds": 30}})
    web = app.test_client()
    with app.app_context():
        client = ext.client
    try:
        assert web.post("/documents/1", headers={"X-User": "ann@example.com"}).status_code == 200
        assert web.post("/documents/1", headers={"X-User": "ann@example.com"}).status_code == 200  # a cache hit
        assert web.post("/documents/1", headers={"X-User": "cy@example.com"}).status_code == 403
        assert len(client._core.cache) == 2
        # the handoff: sync the user right after login; the client's next checks wait for the write
        with app.app_context():
            synced = ext.sync_user_after_login("ext-dee", userName="dee@example.com", roles=["editor"])
        assert isinstance(synced, SyncResult) and synced.created and synced.user["externalId"] == "ext-dee"
        assert web.post("/documents/1", headers={"X-User": "dee@example.com"}).status_code == 200
        assert ran == [("edit", "1"), ("edit", "1"), ("edit", "1")]
    finally:
        client.close()
    with pytest.raises(RuntimeError, match="SCIM_AUTHZ_URL"):
        ScimAuthz(Flask("unconfigured"))


def test_default_loader_hands_the_bearer_jwt_over(origin, api, roles, idp, wire):
    with Client(origin, api.key, transport=wire) as client:
        ext = ScimAuthz(client=client)
        app, ran = docs_app(ext)
        web = app.test_client()
        with app.app_context():  # the handoff right after login: the IdP's id as the key, with a role
            synced = ext.sync_user_after_login("idp|ann", userName="ann@example.com", roles=["editor"])
        assert synced.created and synced.user["userName"] == "ann@example.com"
        wire.requests.clear()

        ann = idp("idp|ann", "ann@example.com")
        r = web.post("/documents/42", headers={"Authorization": f"Bearer {ann}"})
        assert r.status_code == 200, r.get_json()
        assert ran == [("edit", "42")]
        [sent] = wire.bodies("/v1/check")
        assert sent["user"] == {"jwt": ann}

        # a stranger's valid token: the server creates the user on first sight, with no role here
        r = web.post("/documents/42", headers={"Authorization": f"Bearer {idp('idp|zed', 'zed@example.com')}"})
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
        # a token the tenant does not accept is the end user's 401, not the app's error
        r = web.post("/documents/42", headers={"Authorization": f"Bearer {ann}x"})
        assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_user_token"
        assert "refused" in r.get_json()["error"]["message"]
        assert web.post("/documents/42", headers={"Authorization": "Basic YTpi"}).status_code == 401
        assert ran == [("edit", "42")] and len(wire.requests) == 3


def test_fails_closed_as_403_or_503(closed_port, caplog):
    with Client(closed_port, "sk_x", retries=0) as client:
        ext = ScimAuthz(client=client)
        by_header(ext)
        app, ran = docs_app(ext)
        r = app.test_client().post("/documents/1", headers={"X-User": "ann@example.com"})
        assert r.status_code == 403
        assert r.get_json()["error"] == {"status": 403, "code": "forbidden", "decision_id": None,
                                         "message": "the authorization decision could not be made"}
        assert "failed closed" not in r.get_data(as_text=True) and "denied without a decision" in caplog.text

        app, ran = docs_app(ext, {"SCIM_AUTHZ_FAILED_CLOSED_STATUS": 503})
        r = app.test_client().post("/documents/1", headers={"X-User": "ann@example.com"})
        assert r.status_code == 503 and r.get_json()["error"]["code"] == "unavailable" and ran == []
    with Client(closed_port, "sk_x", retries=0, fail_closed=False) as raising:
        ext = ScimAuthz(client=raising)
        by_header(ext)
        app, ran = docs_app(ext)
        assert app.test_client().post("/documents/1", headers={"X-User": "ann"}).status_code == 403 and ran == []


def test_app_error_handlers_and_a_bad_api_key(origin, api, people):
    with Client(origin, api.key) as client:
        ext = ScimAuthz(client=client)
        by_header(ext)
        app, _ = docs_app(ext)

        @app.errorhandler(403)
        def forbidden(e):  # the app may answer denials its own way
            return jsonify(denied=e.description), 403

        r = app.test_client().post("/documents/9", headers={"X-User": "cy@example.com"})
        assert r.get_json() == {"denied": "not allowed to edit document:9"}
    with Client(origin, "sk_not_a_key") as bad:  # the app's misconfiguration is raised, not blamed on the user
        ext = ScimAuthz(client=bad)
        by_header(ext)
        app, ran = docs_app(ext)
        app.testing = True
        with pytest.raises(AuthenticationError):
            app.test_client().post("/documents/9", headers={"X-User": "ann@example.com"})
        assert ran == []


def test_a_resource_the_server_cannot_be_asked_about_is_a_403_not_a_500(origin, api, people):
    with Client(origin, api.key) as client:
        ext = ScimAuthz(client=client)
        by_header(ext)
        app, ran = docs_app(ext)
        r = app.test_client().post("/documents/a b", headers={"X-User": "ann@example.com"})
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
        assert "could not be asked" in r.get_json()["error"]["message"] and ran == []
