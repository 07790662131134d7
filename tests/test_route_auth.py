"""Every route of app.url_map, enumerated (so a new route cannot slip through), refuses missing,
malformed, revoked and wrong-kind credentials, and a valid credential of another tenant neither sees
nor changes the first tenant's data.

SCIM and /v1 answer a refused credential 401 in their own error shape, with WWW-Authenticate; the
console sends a visitor to its sign-in page (or answers 401/403), and shows another tenant's admin a
404 for this tenant's objects. A refused request writes nothing. The few routes that are public by
design are listed in PUBLIC with the reason; a route that is neither authenticated nor listed fails."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from scim_authz.credentials.keys import issue_credential, revoke_credential
from scim_authz.db.extensions import db
from scim_authz.db.models import Admin, Tenant
from scim_authz.db.txn import intent
from tests.admin._tenants import operator_key, super_console
from tests.admin.conftest import Console
from tests.conftest import make_tenant
from tests.fuzz._mutate import encode
from tests.fuzz._world import (
    SCHEMA,
    Req,
    World,
    add_admin,
    build_world,
    changed_tables,
    fail_on,
    query_string,
    send,
    shape_problems,
    snapshot,
    surface,
)
from tests.webhooks import _route_credentials as webhook_credentials

# Routes any visitor may call, by endpoint, and why. Nothing else is public.
PUBLIC = {
    "admin.login": "the sign-in page: how a person gets a session",
    "admin.login_post": "the sign-in form: it checks the password itself (and is throttled)",
    "admin.logout": "signing out only ends the caller's own session (and still needs its CSRF token)",
    "admin.static": "the console's stylesheet and script, which the sign-in page needs",
    "static": "Flask's static files: public assets, nothing of any tenant",
    "health.healthz": "liveness for a load balancer: says only that the process answers",
    "health.readyz": "readiness for a load balancer: the database, the schema and the engine, nothing of any tenant",
    "authzen.configuration": "AuthZEN PDP metadata (docs/authzen.md): the server's own endpoint URLs, nothing of "
                             "any tenant",
    "api_docs.openapi_json": "the OpenAPI description of /v1 and /access/v1: built from the code alone, nothing of "
                             "any tenant (tests/api/test_openapi.py)",
    "api_docs.docs_page": "the documentation page that reads the OpenAPI description: static, nothing of any tenant",
    "api_docs.docs_asset": "the documentation page's scripts and styles (Swagger UI's files, a fixed list)",
    "metrics.scrape": "Prometheus metrics, no tenant in any label; answered only to METRICS_ALLOW_FROM or with "
                      "METRICS_TOKEN (tests/ops/test_metrics.py)",
}
# Endpoints where another tenant's valid credential may succeed on a URL naming this tenant's object,
# because the URL's key is read in the caller's own tenant (still checked: this tenant's rows are
# unchanged and nothing of this tenant is in the answer).
CALLERS_OWN_TENANT = {
    "api_users.sync_user": "PUT /v1/users/{key} is syncUser: a key the caller's tenant does not know creates "
                           "a user in the caller's tenant",
    "api_resources.put_resource": "PUT /v1/resources/{type}/{id} holds attributes in the caller's own tenant",
    "api_resources.delete_resource": "DELETE /v1/resources/{type}/{id} forgets what the caller's own tenant "
                                     "holds (nothing, here: it answers deleted false)",
}
KIND = {"scim": "scim", "api": "app"}  # the credential kind each surface takes


def kind_of(path: str) -> str:
    """The credential kind a path takes: its surface's, but /v1/pdp's (decision points' sync) takes PDP keys."""
    return "pdp" if path.startswith("/v1/pdp/") else KIND.get(surface(path), "app")
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
VAR = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


@dataclass(frozen=True)
class Route:
    rule: str
    endpoint: str
    method: str

    def __str__(self) -> str:
        return f"{self.method} {self.rule} ({self.endpoint})"


def routes(app) -> list[Route]:
    return sorted({Route(r.rule, r.endpoint, m) for r in app.url_map.iter_rules()
                   for m in r.methods - {"HEAD", "OPTIONS"}}, key=lambda r: (r.rule, r.method))


# ---- concrete requests for a route ------------------------------------------------------------

def _fill(route: Route, name: str, resource: str | None, ids: dict) -> tuple[str, bool]:
    """A value for a path variable, aimed at tenant acme's objects; and whether it names one of them."""
    rule = route.rule
    if rule.startswith("/scim/"):
        if name == "resource":
            return resource, False
        if name == "rid" and resource:
            return (ids["ann"] if resource == "Users" else ids["eng"]), True
        if name == "rid" and rule.startswith("/scim/v2/ResourceTypes/"):
            return "User", False
        if name == "sid":
            return USER, False
    if rule.startswith("/v1/pdp/") and name == "key":
        return "acme", True  # the tenant a decision point syncs
    if rule.startswith("/v1/"):
        if name == "key":
            return (ids["role"] if rule.startswith("/v1/roles/") else ids["ann"]), True
        if name == "user":
            return ids["ann"], True
        if name in ("aid", "mid"):
            return str(ids["assignment" if name == "aid" else "mapping"]), True
        if name == "rtype":
            return "document", False
        if name == "rid" and rule.startswith("/v1/resources/"):
            return ids["resource_id"], True
    if rule.startswith("/admin/"):
        if name in ("key", "user_id", "group_id", "mid", "cid"):
            return str({"key": ids["role"], "user_id": ids["ann"], "group_id": ids["eng"], "mid": ids["mapping"],
                        "cid": ids["credential"]}[name]), True
        if name == "version":  # a tenant's own numbering: version 1 of the caller's tenant is its own
            return "1", False
        if name == "tenant_key":  # a super-admin's tenant pages, and the admin API's
            return "acme", True
    if rule.startswith("/webhooks/") and name == "tenant_key":
        return "acme", True  # the URL names the tenant; its secret for that IdP is the credential
    if name == "filename":
        return "console.css", False
    raise LookupError(f"{route}: no value for <{name}>; add one to _fill() so the new route is tested")


def urls(route: Route, ids: dict) -> list[tuple[str, str | None, bool]]:
    """(URL, resource type, whether it names acme's object) for each value of an any() converter."""
    choices = [None]
    for conv, args, _name in VAR.findall(route.rule):
        if conv == "any":
            choices = [a.strip() for a in args.split(",")]
    out = []
    for resource in choices:
        owned = False

        def value(m, resource=resource):
            nonlocal owned
            v, mine = _fill(route, m.group(3), resource, ids)
            owned = owned or mine
            return v
        out.append((VAR.sub(value, route.rule), resource, owned))
    return out


def _json(route: Route, resource: str | None, ids: dict):
    """A valid JSON body for a route, naming acme's objects where it names any."""
    users = resource != "Groups"
    bodies = {
        "scim.create_resource": {"schemas": [USER], "userName": "probe@probe.test"} if users else
        {"schemas": [GROUP], "displayName": "probe", "members": [{"value": ids["ann"]}]},
        "scim.replace_resource": {"schemas": [USER], "userName": "probe@probe.test", "active": False} if users else
        {"schemas": [GROUP], "displayName": "probe", "members": []},
        "scim.patch_resource": {"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "value": {"active": False} if users else {"displayName": "probe"}}]},
        "scim.search_resources": {"schemas": [SEARCH], "filter": "userName pr" if users else "displayName pr"},
        "scim.search_root": {"schemas": [SEARCH], "filter": "meta.created pr"},
        "scim.bulk_request": {"schemas": [BULK], "Operations": [
            {"method": "PATCH", "path": f"/Users/{ids['ann']}", "data": {"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "value": {"active": False}}]}},
            {"method": "DELETE", "path": f"/Groups/{ids['eng']}"}]},
        "scim.me": {"schemas": [USER], "userName": "probe@probe.test"},
        "api_check.check": {"user": ids["ann"], "action": "edit", "resource": "document:1"},
        "api_check.check_bulk": {"checks": [{"user": ids["ann"], "action": "edit", "resource": "document:1"}]},
        "api_check.lookup_resources": {"user": ids["ann"], "action": "edit", "resource_type": "document"},
        "api_check.lookup_subjects": {"action": "edit", "resource": "document:1"},
        "api_policy.create_role": {"key": "probe-role", "permissions": ["document:view"], "extends": [ids["role"]]},
        "api_policy.replace_role": {"permissions": ["*"]},
        "api_policy.patch_role": {"permissions": ["*"]},
        "api_policy.assign": {"user": ids["ann"], "role": ids["role"]},
        "api_policy.map_group": {"group": ids["eng"], "role": ids["role"]},
        "api_policy.write_schema": {"source": SCHEMA},
        "api_policy.validate_schema": {"source": SCHEMA},
        "api_policy.write_relationships": {"relationships": [
            {"resource": "document:1", "relation": "owner", "subject": f"user:{ids['ann']}"}]},
        "api_policy.delete_relationships": {"relationships": [
            {"resource": "folder:1", "relation": "viewer", "subject": f"group:{ids['eng']}#member"}]},
        "api_users.sync_user": {"displayName": "probe", "active": False},
        "api_users.bulk_users": {"users": [{"key": ids["ann"], "displayName": "probe", "active": False}]},
        "api_users.patch_tenant": {"name": "probe", "role_mode": "app"},
        "authzen.evaluation": {"subject": {"type": "user", "id": ids["ann"]}, "action": {"name": "edit"},
                               "resource": {"type": "document", "id": "1"}},
        "authzen_search.search_subject": {"subject": {"type": "user"}, "action": {"name": "edit"},
                                          "resource": {"type": "document", "id": "1"}},
        "authzen_search.search_resource": {"subject": {"type": "user", "id": ids["ann"]}, "action": {"name": "edit"},
                                           "resource": {"type": "document"}},
        "authzen_search.search_action": {"subject": {"type": "user", "id": ids["ann"]},
                                         "resource": {"type": "document", "id": "1"}},
        "authzen.evaluations": {"subject": {"type": "user", "id": ids["ann"]}, "action": {"name": "edit"},
                                "evaluations": [{"resource": {"type": "document", "id": "1"}}]},
        "api_resources.put_resource": {"attributes": {"probe": True}},
        "api_pdp_sync.decisions": {"decisions": [["probe-decision", 0, "2026-01-01T00:00:00", "key sk_probe", None,
                                                  ids["ann"], "edit", "document", "1", False, "probe", 1]]},
        # a whole policy: applied to acme, it would remove acme's roles and their mappings
        "api_policy_file.diff_file": {"version": 1, "roles": [{"key": "probe-role", "permissions": ["*"]}]},
        "api_policy_file.apply_file": {"version": 1, "roles": [{"key": "probe-role", "permissions": ["*"]}]},
        "admin_api.create_tenant": {"key": "probe-tenant"},
        "admin_api.patch_tenant": {"name": "probe", "organization": "probe"},
        "admin_api.disable_tenant": {},
        "admin_api.enable_tenant": {},
        "api_resources.put_resources": {"resources": [{"type": "document", "id": ids["resource_id"],
                                                       "attributes": {"probe": True}}]},
        # IdP webhooks that would deactivate and delete acme's ann if they were accepted
        "webhooks.logto_event": {"hookId": "probe", "event": "User.Data.Updated", "createdAt": "2024-01-01T00:00Z",
                                 "data": {"id": "probe", "primaryEmail": ids["ann_name"], "isSuspended": True}},
        "webhooks.okta_events": {"data": {"events": [{
            "uuid": "probe", "eventType": "user.lifecycle.delete.initiated", "outcome": {"result": "SUCCESS"},
            "target": [{"type": "User", "id": "probe", "alternateId": ids["ann_name"]}]}]}},
    }
    if route.endpoint not in bodies:
        raise LookupError(f"{route}: no request body known; add one to _json() so the new route is tested")
    return bodies[route.endpoint]


def _form(route: Route, ids: dict, csrf: str) -> list[tuple[str, str]]:
    forms = {
        "admin.role_create": [("key", "probe-role"), ("permissions", "document:view"), ("extends", ids["role"])],
        "admin.role_update": [("permissions", "*")],
        "admin.mapping_save": [("group", ids["eng"]), ("role", ids["role"]), ("replace", str(ids["mapping"]))],
        "admin.mapping_preview": [("group", ids["eng"]), ("role", ids["role"])],
        "admin.settings_save": [("name", "probe"), ("role_mode", "app")],
        "admin.schema_save": [("source", SCHEMA)],
        "admin.schema_validate": [("source", SCHEMA)],
        "admin.playground_check": [("user", ids["ann"]), ("action", "edit"), ("resource", "document:1")],
        "admin.issue_token": [("name", "probe"), ("kind", "scim")],
        "admin.switch_tenant": [("tenant", str(ids["tenant_id"]))],
        "admin.tenant_create": [("key", "probe-tenant"), ("role_mode", "hybrid"), ("credentials", "scim")],
        "admin.tenant_update": [("name", "probe"), ("organization", "probe")],
    }
    return [*forms.get(route.endpoint, []), ("csrf_token", csrf)]  # the rest are a button: the token alone


def requests_for(route: Route, ids: dict, csrf: str = "not-this-sessions-token") -> list[tuple[Req, bool]]:
    """(request, whether its URL names acme's object) for every concrete URL of the route."""
    out = []
    for url, resource, owned in urls(route, ids):
        req = Req(route.method, url)
        if route.method in ("POST", "PUT", "PATCH"):
            if surface(url) == "console":
                req.body = query_string(_form(route, ids, csrf)).encode()
                req.content_type = "application/x-www-form-urlencoded"
            else:
                req.body = encode(_json(route, resource, ids))
                req.content_type = "application/scim+json" if surface(url) == "scim" else "application/json"
        out.append((req, owned))
    return out


# ---- two tenants and their credentials ------------------------------------------------------

class Tenants:
    """acme (seeded, with revoked, wrong-kind and spare credentials, a session whose admin was removed
    and one copied before its admin signed out) and initech (seeded alike), each with its own names,
    so anything of acme in an answer shows."""

    def __init__(self, app, client, tenant):
        self.app = app
        self.acme: World = build_world(app, client, tenant)
        self.initech: World = build_world(app, client, make_tenant(app, "initech"), prefix="initech")
        ids = self.acme.ids
        ids["tenant_id"] = self.acme.tenant_id
        ids["credential"], _ = self.issue("scim")  # what the console's revoke pages are aimed at
        self.revoked = {}
        for kind, path in (("scim", "/scim/v2/Users"), ("app", "/v1/roles"), ("pdp", "/v1/pdp/tenants")):
            cid, secret = self.issue(kind)
            assert send(client, Req("GET", path), secret).status_code == 200  # known, and cached, before
            self.revoke(cid)
            self.revoked[kind] = secret
        _, self.admin_kind = self.issue("admin")  # a credential of a kind neither API takes
        self.secrets = {"scim": self.acme.scim_token, "app": self.acme.api_key, "pdp": self.issue("pdp")[1]}
        self.initech_pdp = self.issue("pdp", self.initech.tenant_id)[1]
        self.operator = operator_key(app)  # the admin API's (ADMIN_API_KEYS), of no tenant
        self.root = super_console(app)  # a super-admin, whose pages a tenant's admin does not have
        # an admin who signed in, then was removed: the session outlives the account
        admin_id = add_admin(app, "gone@acme.test", self.acme.tenant_id)
        self.gone = Console(app.test_client())
        assert self.gone.login("gone@acme.test").status_code == 302
        with app.app_context(), intent(True):
            db.session.delete(db.session.get(Admin, admin_id))
            db.session.commit()
            db.session.remove()
        # a session copied before its admin signed out (which ends every session of the admin)
        add_admin(app, "left@acme.test", self.acme.tenant_id)
        leaver = Console(app.test_client())
        assert leaver.login("left@acme.test").status_code == 302
        self.left_csrf = leaver.csrf()
        copied = leaver.client.get_cookie("session").value
        assert leaver.post("/admin/logout").status_code == 302
        self.left = app.test_client()
        self.left.set_cookie("session", copied)
        self.markers = ["acme-marker", ids["ann"], ids["bob"], ids["eng"], ids["platform"], ids["role"],
                        self.acme.scim_token, self.acme.api_key]
        self.webhooks = {name: webhook_credentials.configure(app, world.tenant_id, name)
                         for name, world in (("acme", self.acme), ("initech", self.initech))}
        self.markers += self.webhooks["acme"].values()

    def issue(self, kind: str, tenant_id: int | None = None) -> tuple[int, str]:
        with self.app.app_context(), intent(True):
            issued = issue_credential(db.session.get(Tenant, tenant_id or self.acme.tenant_id), kind, "route auth")
            db.session.commit()
            db.session.remove()
        return issued.credential_id, issued.secret

    def revoke(self, cid: int) -> None:
        with self.app.app_context(), intent(True):
            assert revoke_credential(db.session.get(Tenant, self.acme.tenant_id), cid)
            db.session.commit()
            db.session.remove()

    # -- the credentials a request must be refused with

    def admin_api_variants(self):
        """(name, client, headers) for the admin API: anything but an operator key is refused."""
        c, right = self.acme.client, self.operator
        return [
            ("no Authorization", c, {}),
            ("Authorization: Bearer", c, {"Authorization": "Bearer"}),
            ("Basic credentials", c, {"Authorization": "Basic YWRhQGFjbWUudGVzdDpwYXNzd29yZA=="}),
            ("the operator key without a scheme", c, {"Authorization": right}),
            ("the operator key with a character more", c, {"Authorization": f"Bearer {right}x"}),
            ("the operator key with a character less", c, {"Authorization": f"Bearer {right[:-1]}"}),
            ("a made-up operator key", c, {"Authorization": "Bearer adm_" + "A" * 43}),
            ("a SCIM token", c, {"Authorization": f"Bearer {self.acme.scim_token}"}),
            ("an API key", c, {"Authorization": f"Bearer {self.acme.api_key}"}),
            ("a tenant's admin-kind credential", c, {"Authorization": f"Bearer {self.admin_kind}"}),
            ("a super-admin's console session", self.root.client, {}),
        ]

    def api_variants(self, kind: str):
        """(name, client, headers) for SCIM or /v1 (a credential of `kind` is the right one)."""
        right = self.secrets[kind]
        wrong = self.secrets["app" if kind != "app" else "scim"]
        c = self.acme.client
        return [
            ("no Authorization", c, {}),
            ("Authorization: Bearer", c, {"Authorization": "Bearer"}),
            ("Authorization: Bearer (blank)", c, {"Authorization": "Bearer   "}),
            ("Basic credentials", c, {"Authorization": "Basic YWRhQGFjbWUudGVzdDpwYXNzd29yZA=="}),
            ("garbage", c, {"Authorization": "garbage"}),
            ("the secret without a scheme", c, {"Authorization": right}),
            ("the secret under another scheme", c, {"Authorization": f"Token {right}"}),
            ("the secret with a character more", c, {"Authorization": f"Bearer {right}x"}),
            ("the secret with a character less", c, {"Authorization": f"Bearer {right[:-1]}"}),
            ("a made-up token", c, {"Authorization": "Bearer " + right[:8] + "A" * 40}),
            ("a revoked token of the right kind", c, {"Authorization": f"Bearer {self.revoked[kind]}"}),
            ("a valid token of the wrong kind", c, {"Authorization": f"Bearer {wrong}"}),
            ("a valid admin-kind credential", c, {"Authorization": f"Bearer {self.admin_kind}"}),
        ]

    def console_variants(self):
        """(name, client, headers, the CSRF token of its session, if it has one, for the form)."""
        bare = self.app.test_client()
        anonymous = Console(self.app.test_client())
        anonymous.get("/admin/login")  # a session with a CSRF token, and no one signed in
        garbage = self.app.test_client()
        garbage.set_cookie("session", "garbage")
        forged = self.app.test_client()
        forged.set_cookie("session", "eyJhZG1pbl9pZCI6MX0.ZZZZZZ.forged-signature-forged-signature")
        return [
            ("no session", bare, {}, None),
            ("a session with no one signed in", anonymous.client, {}, anonymous.csrf()),
            ("a garbage session cookie", garbage, {}, None),
            ("a forged session cookie", forged, {}, None),
            ("the session of a removed admin", self.gone.client, {}, self.gone.csrf()),
            ("a session replayed after its admin signed out", self.left, {}, self.left_csrf),
            ("a SCIM token as a bearer", bare, {"Authorization": f"Bearer {self.acme.scim_token}"}, None),
            ("an API key as a bearer", bare, {"Authorization": f"Bearer {self.acme.api_key}"}, None),
        ]


def _signed_out(resp, csrf_refusal_allowed: bool) -> bool:
    if resp.status_code == 302:
        return urlsplit(resp.headers.get("Location", "")).path == "/admin/login"
    return resp.status_code in (401, 403) or (csrf_refusal_allowed and resp.status_code == 400)


def refusal_problems(t: Tenants, route: Route) -> list[tuple[Req, list[str]]]:
    """Every way the route fails to refuse a bad credential (none for a public route)."""
    if route.endpoint in PUBLIC:
        return []
    where = surface(route.rule)
    if where in ("scim", "api"):
        variants = [(name, client, headers, None) for name, client, headers in t.api_variants(kind_of(route.rule))]
    elif where == "console":
        variants = t.console_variants()
    elif where == "admin_api":
        variants = [(name, client, headers, None) for name, client, headers in t.admin_api_variants()]
    elif where == "webhook":
        body = requests_for(route, t.acme.ids)[0][0].body
        variants = [(name, t.acme.client, headers, None) for name, headers in webhook_credentials.refused_headers(
            route.endpoint, body, t.webhooks["acme"], t.acme.scim_token, t.acme.api_key)]
    else:
        return [(Req(route.method, route.rule),
                 [f"{route} is on no known surface: authenticate it or add it to PUBLIC"])]
    failures = []
    rows = snapshot(t.app)
    for name, client, headers, csrf in variants:
        try:
            planned = requests_for(route, t.acme.ids, csrf or "not-this-sessions-token")
        except LookupError as e:
            return [(Req(route.method, route.rule), [str(e)])]
        for req, _owned in planned:
            req.headers = headers
            resp = send(client, req)
            problems = []
            if where == "console":
                # with no session (or an unreadable one) a form is refused for its CSRF token first
                if not _signed_out(resp, csrf_refusal_allowed=csrf is None and route.method == "POST"):
                    problems.append(f"{resp.status_code} {resp.headers.get('Location', '')} "
                                    f"{resp.get_data(as_text=True)[:150]!r}, not refused")
            elif resp.status_code != 401:
                problems.append(f"{resp.status_code} {resp.get_data(as_text=True)[:150]!r}, not 401")
            problems += shape_problems(resp, req.path)
            after = snapshot(t.app)
            changed = changed_tables(rows, after)
            rows = after
            if changed:
                problems.append(f"refused, yet rows changed: {'; '.join(changed)}")
            if problems:
                failures.append((req, [f"[{name}] {p}" for p in problems]))
    return failures


def other_tenant_problems(t: Tenants, route: Route) -> list[tuple[Req, list[str]]]:
    """What initech's valid credential sees or changes of acme through the route."""
    if route.endpoint in PUBLIC:
        return []
    where = surface(route.rule)
    b = t.initech
    try:
        planned = requests_for(route, t.acme.ids, b.csrf())
    except LookupError as e:
        return [(Req(route.method, route.rule), [str(e)])]
    failures = []
    for req, owned in planned:
        before = snapshot(t.app, t.acme.tenant_id)
        if where == "console":
            resp = send(b.console.client, req)
        elif where == "webhook":  # initech's own valid secrets, on acme's URL
            req.headers = webhook_credentials.valid_headers(route.endpoint, req.body, t.webhooks["initech"])
            resp = send(b.client, req)
        else:
            secret = {"scim": b.scim_token, "app": b.api_key, "pdp": t.initech_pdp}[kind_of(req.path)]
            resp = send(b.client, req, secret)
        problems = shape_problems(resp, req.path)
        if route.endpoint == "scim.me" and resp.status_code == 501:
            problems = []  # RFC 7644 §3.11: a provider without /Me answers 501
        if owned and route.endpoint not in CALLERS_OWN_TENANT:
            wanted = (404,) if where == "console" else (401, 403, 404)
            if resp.status_code not in wanted:
                problems.append(f"{resp.status_code} for another tenant's object, not {' or '.join(map(str, wanted))}")
        changed = changed_tables(before, snapshot(t.app, t.acme.tenant_id))
        if changed:
            problems.append(f"{resp.status_code}, and acme's rows changed: {'; '.join(changed)}")
        asked = req.path + (req.body or b"").decode("utf-8", "replace")
        answer = resp.get_data(as_text=True)
        leaked = [m for m in t.markers if m.lower() in answer.lower() and m.lower() not in asked.lower()]
        if leaked:
            problems.append(f"{resp.status_code}: the answer holds acme's {leaked}")
        if problems:
            failures.append((req, problems))
    return failures


# ---- the tests --------------------------------------------------------------------------------

def test_every_route_refuses_missing_malformed_revoked_and_wrong_kind_credentials(app, client, tenant):
    t = Tenants(app, client, tenant)
    fail_on([f for route in routes(app) for f in refusal_problems(t, route)])


def test_another_tenants_credentials_see_and_change_nothing_of_this_tenant(app, client, tenant):
    t = Tenants(app, client, tenant)
    # Reads first: once initech has written with acme's ids (a check naming acme's user is logged in
    # initech's decision log; syncUser by acme's user id makes an initech user of that name), its own
    # answers may rightly hold them.
    ordered = sorted(routes(app), key=lambda r: r.method != "GET")
    fail_on([f for route in ordered for f in other_tenant_problems(t, route)])


def test_the_credentials_used_are_otherwise_accepted(app, client, tenant):
    """Every GET with acme's own valid credential succeeds: the refusals above are the credentials'."""
    t = Tenants(app, client, tenant)
    failures = []
    for route in routes(app):
        if route.method != "GET" or route.endpoint in PUBLIC:
            continue
        for req, _owned in requests_for(route, t.acme.ids):
            where = surface(req.path)
            if where == "console":
                super_only = route.endpoint.startswith("admin.tenant")  # a tenant's admin gets 404
                resp = send((t.root if super_only else t.acme.console).client, req)
            elif where == "webhook":
                req.headers = webhook_credentials.valid_headers(route.endpoint, req.body, t.webhooks["acme"])
                resp = send(t.acme.client, req)
            elif where == "admin_api":
                resp = send(t.acme.client, req, t.operator)
            else:
                resp = send(t.acme.client, req, t.secrets[kind_of(req.path)])
            expected = 501 if route.endpoint == "scim.me" else 200  # RFC 7644 §3.11: /Me may be unsupported
            if resp.status_code != expected:
                failures.append((req, [f"{resp.status_code}, not {expected}: {resp.get_data(as_text=True)[:200]!r}"]))
    fail_on(failures)


def test_public_routes_are_listed_with_a_reason_and_exist(app):
    endpoints = {r.endpoint for r in routes(app)}
    assert set(PUBLIC) <= endpoints, f"PUBLIC names routes that no longer exist: {set(PUBLIC) - endpoints}"
    assert set(CALLERS_OWN_TENANT) <= endpoints
    assert all(reason.strip() for reason in (*PUBLIC.values(), *CALLERS_OWN_TENANT.values()))


def test_a_route_without_authentication_is_caught(app, client, tenant):
    """The enumeration and its checks fail on a route that authenticates nothing."""
    app.add_url_rule("/v1/unguarded", "unguarded_api", lambda: {"roles": ["acme-editor"]})
    app.add_url_rule("/scim/v2/Unguarded", "unguarded_scim", lambda: {"Resources": []})
    app.add_url_rule("/admin/unguarded", "unguarded_console", lambda: "<html><p>settings</p></html>")
    app.add_url_rule("/admin/unguarded/<thing>", "unguarded_thing", lambda thing: thing)
    t = Tenants(app, client, tenant)
    added = [r for r in routes(app) if r.endpoint.startswith("unguarded")]
    assert len(added) == 4
    for route in added:
        assert refusal_problems(t, route), f"{route} was not caught"
