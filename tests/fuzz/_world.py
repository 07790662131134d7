"""A seeded tenant to aim requests at, a request as bytes on the wire, and the oracle every answer
is held to: no 5xx, the protocol's error shape (RFC 7644 §3.12 for SCIM, {"error": …} for /v1, an
HTML page for the console) and no row changed by a request that was refused."""
from __future__ import annotations

import io
import itertools
import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from sqlalchemy import select, text

from scim_authz.db.extensions import db
from scim_authz.db.txn import intent
from tests.admin.conftest import PASSWORD, Console
from tests.api._api_helpers import scim_group, scim_user
from tests.conftest import APIClient, SCIMClient, issue_app_key

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_TYPES = {"invalidFilter", "tooMany", "uniqueness", "mutability", "invalidSyntax", "invalidPath", "noTarget",
              "invalidValue", "invalidVers", "sensitive"}
SCHEMA = ("entity folder {\n  relation viewer @user @group#member\n  permission view = viewer\n}\n\n"
          "entity document {\n  relation parent @folder\n  relation owner @user\n"
          "  relation viewer @user @group#member\n"
          "  permission view = owner or viewer or parent.view\n  permission edit = owner\n}\n")
# Rows the server writes on purpose when a request is refused or only reads, left out of "nothing changed":
EXCLUDED_TABLES = {
    # the decision log: every answered check is recorded (asynchronously, by a writer thread), even
    # when a later request of the same test is refused
    "decisions": "written by successful checks, asynchronously",
    # monthly active users, written with the decisions that make a user active
    "active_users": "written with the decision log",
    # SCIM writes per token and day: counted in memory and written by a thread about once a
    # second, so the counts of an earlier successful write may land during a later request
    "directory_write_counts": "written asynchronously by the instance's counter thread",
}
EXCLUDED_COLUMNS = {
    # a hint for the console, written by any authenticated request, refused ones included
    ("credentials", "last_used"): "written when a credential is used, whatever the answer",
}
TRACEBACK_SIGNS = ("Traceback (most recent call last)", "File \"/", "werkzeug.exceptions", "sqlalchemy.exc",
                   "psycopg.errors")


# ---- the world: one tenant with something of everything --------------------------------------

@dataclass(repr=False)
class World:
    """Tenant acme, seeded through its own APIs: two users, a nested group, a role, an assignment, a
    mapping, a schema, a relationship, a decision, a signed-in console admin."""

    app: object
    client: object  # SCIM and /v1 (they neither read nor set cookies)
    tenant_id: int
    scim_token: str
    api_key: str
    console: Console  # signed in as acme's admin, on a client of its own
    ids: dict = field(default_factory=dict)
    probe: Probe | None = None

    def __post_init__(self):
        self.probe = Probe(self.app)

    @property
    def scim(self) -> SCIMClient:
        return SCIMClient(self.client, self.scim_token)

    @property
    def api(self) -> APIClient:
        return APIClient(self.client, self.api_key)

    def csrf(self) -> str:
        return self.console.csrf()

    def __repr__(self) -> str:  # hypothesis prints the fixtures of a failing example
        return f"World(tenant {self.tenant_id})"


def build_world(app, client, tenant, *, prefix: str = "acme", admin: str | None = None) -> World:
    """Seed tenant `tenant` ((id, SCIM token)) with data whose names carry `prefix`."""
    tid, token = tenant
    key = issue_app_key(app, tid)
    scim, api = SCIMClient(client, token), APIClient(client, key)
    ann = scim_user(scim, f"ann.{prefix}-marker@{prefix}.test", displayName=f"Ann {prefix}-marker",
                    externalId=f"{prefix}-ext-ann", title="Engineer")
    bob = scim_user(scim, f"bob.{prefix}-marker@{prefix}.test", displayName=f"Bob {prefix}-marker")
    platform = scim_group(scim, f"{prefix}-marker Platform", [bob])
    eng = scim_group(scim, f"{prefix}-marker Engineering", [ann, platform])
    role = f"{prefix}-editor"
    _ok(api.post("/roles", {"key": role, "name": f"{prefix}-marker Editor", "description": f"{prefix}-marker role",
                            "permissions": ["document:edit", "document:view"]}))
    aid = _ok(api.post("/role-assignments", {"user": ann, "role": role, "resource": "document:1"}))["assignment"]["id"]
    mid = _ok(api.post("/group-mappings", {"group": eng, "role": role}))["mapping"]["id"]
    _ok(api.post("/schema", {"source": SCHEMA}))
    _ok(api.post("/relationships", {"relationships": [
        {"resource": f"document:{prefix}-marker-doc", "relation": "owner", "subject": f"user:{ann}"},
        {"resource": "folder:1", "relation": "viewer", "subject": f"group:{eng}#member"}]}))
    _ok(api.put(f"/resources/document/{prefix}-marker-doc", {"attributes": {"title": f"{prefix}-marker title"}}))
    _ok(api.post("/check", {"user": ann, "action": "edit", "resource": "document:1"}))
    _ok(api.patch("/tenant", {"name": f"{prefix}-marker Corp"}))
    admin = admin or f"ada@{prefix}.test"
    add_admin(app, admin, tid)
    console = Console(app.test_client())
    r = console.login(admin)
    assert r.status_code == 302, r.get_data(as_text=True)
    ids = {"ann": ann, "bob": bob, "platform": platform, "eng": eng, "role": role, "assignment": aid,
           "mapping": mid, "schema_version": 1, "admin": admin, "ann_name": f"ann.{prefix}-marker@{prefix}.test",
           "bob_name": f"bob.{prefix}-marker@{prefix}.test", "eng_name": f"{prefix}-marker Engineering",
           "platform_name": f"{prefix}-marker Platform", "tenant_name": f"{prefix}-marker Corp",
           "resource_id": f"{prefix}-marker-doc"}
    return World(app, client, tid, token, key, console, ids)


def add_admin(app, email: str, tenant_id: int) -> int:
    """An admin of the tenant (PASSWORD), created as a write from its first statement: the decision
    log's writer thread may commit meanwhile, and SQLite refuses a read transaction turned writer then."""
    from scim_authz.credentials.admins import create_admin
    with app.app_context(), intent(True):
        admin_id = create_admin(email, PASSWORD, tenant_id).id
        db.session.commit()
        db.session.remove()
    return admin_id


def _ok(r) -> dict:
    assert r.status_code in (200, 201), r.get_data(as_text=True)
    return r.get_json()


# ---- a request, as bytes on the wire ----------------------------------------------------------

@dataclass(repr=False)
class Req:
    """One HTTP request; `describe()` is the reproducer printed when it is answered wrongly."""

    method: str
    path: str
    body: bytes | None = None
    content_type: str | None = None
    query: str = ""  # percent-encoded
    headers: dict = field(default_factory=dict)
    chunked: bool = False  # sent without Content-Length, as Transfer-Encoding: chunked

    def __repr__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        out = [squeeze(f"{self.method} {self.path}" + (f"?{self.query}" if self.query else ""))]
        if self.content_type:
            out.append(f"Content-Type: {self.content_type!r}")
        if self.chunked:
            out.append("Transfer-Encoding: chunked")
        if self.body is not None:
            out.append(f"body: {squeeze(repr(self.body))}")
        return "\n    ".join(out)


def squeeze(s: str, limit: int = 600) -> str:
    """Long runs of one character or pair written as a count, then the whole cut to `limit`."""
    s = re.sub(r"(.{1,8}?)\1{11,}", lambda m: f"<{m.group(1)!r}×{len(m.group(0)) // len(m.group(1))}>", s)
    return s if len(s) <= limit else s[:limit] + f"…(+{len(s) - limit} chars)"


def query_string(pairs) -> str:
    """pairs of (name, value) as a query string; a value may be bytes (sent percent-encoded as is) or text
    (UTF-8, lone surrogates included as their 3-byte form)."""
    def enc(v) -> str:
        raw = v if isinstance(v, bytes) else str(v).encode("utf-8", "surrogatepass")
        return quote(raw, safe="")
    return "&".join(f"{enc(k)}={enc(v)}" for k, v in pairs)


_ADDRESSES = itertools.count(1)


def send(client, req: Req, auth: str | None = None):
    """Send `req` on `client` with an optional bearer token, from an address of its own: these tests
    are about answers, not the per-address rate limits, which hundreds of refusals would exhaust."""
    n = next(_ADDRESSES)
    headers = dict(req.headers)
    if auth is not None:
        headers["Authorization"] = f"Bearer {auth}"
    if req.content_type is not None:
        headers["Content-Type"] = req.content_type
    kw = {"environ_base": {"REMOTE_ADDR": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}}
    if req.chunked:  # as gunicorn hands a chunked body over: no length, a terminated stream
        headers["Transfer-Encoding"] = "chunked"
        kw["input_stream"] = io.BytesIO(req.body or b"")
        kw["environ_overrides"] = {"wsgi.input_terminated": True}
    elif req.body is not None:
        kw["data"] = req.body
    return client.open(req.path, method=req.method, query_string=req.query or None, headers=headers, **kw)


# ---- rows ------------------------------------------------------------------------------------

def snapshot(app, tenant_id: int | None = None) -> dict[str, list[str]]:
    """Every table's rows (less the tables and columns written on purpose by refused or read-only
    requests); with `tenant_id`, only that tenant's rows."""
    plans = app.extensions.setdefault("tests.fuzz.snapshot", {})
    with app.app_context(), db.engine.connect() as conn:
        plan = plans.get(tenant_id)
        if plan is None:
            plan = plans[tenant_id] = _snapshot_plan(conn.dialect.name, tenant_id)
        if isinstance(plan, list):
            return {name: sorted(repr(tuple(r)) for r in conn.execute(stmt)) for name, stmt in plan}
        out = {name: [] for name in plan.names}
        for name, row in conn.execute(plan.union):  # PostgreSQL: one round trip for every table
            out[name].append(row)
        return {name: sorted(rows) for name, rows in out.items()}


@dataclass
class _Union:
    names: list[str]
    union: object


def _snapshot_plan(dialect: str, tenant_id: int | None):
    tables = []
    for t in db.metadata.sorted_tables:
        if t.name in EXCLUDED_TABLES:
            continue
        owner = t.c.id if t.name == "tenants" else t.c.get("tenant_id")
        if tenant_id is not None and owner is None:
            raise AssertionError(f"table {t.name} has no tenant_id: say whose its rows are")
        tables.append((t, [c for c in t.columns if (t.name, c.name) not in EXCLUDED_COLUMNS], owner))
    if dialect != "postgresql":
        return [(t.name, select(*cols).where(owner == tenant_id) if tenant_id is not None else select(*cols))
                for t, cols, owner in tables]

    def quoted(name: str) -> str:
        return '"' + name + '"'
    parts = [f"SELECT '{t.name}' AS t, ROW({', '.join(quoted(c.name) for c in cols)})::text AS r FROM {quoted(t.name)}"
             + (f" WHERE {quoted(owner.name)} = {int(tenant_id)}" if tenant_id is not None else "")
             for t, cols, owner in tables]
    return _Union([t.name for t, _, _ in tables], text(" UNION ALL ".join(parts)))


def changed_tables(before: dict, after: dict) -> list[str]:
    out = []
    for name in before:
        if before[name] != after[name]:
            gone = sorted(set(before[name]) - set(after[name]))[:2]
            new = sorted(set(after[name]) - set(before[name]))[:2]
            out.append(f"{name} (removed {gone}, added {new})")
    return out


# ---- the oracle ------------------------------------------------------------------------------

def surface(path: str) -> str:
    if path.startswith("/scim/"):
        return "scim"
    if path.startswith(("/v1/", "/access/")) or path == "/v1":
        return "api"  # (AuthZEN's /access/v1 takes the same API keys and answers errors alike)
    if path.startswith("/admin/api/"):
        return "admin_api"  # the operator's JSON API (operator keys, /v1's error bodies)
    if path.startswith("/admin"):
        return "console"
    if path.startswith("/webhooks/"):
        return "webhook"  # (IdP webhooks: their own secrets, /v1's error bodies; docs/webhooks.md)
    return "other"


def shape_problems(resp, path: str) -> list[str]:
    """What is wrong with a response's status and body for its protocol."""
    status, where = resp.status_code, surface(path)
    body_text = resp.get_data(as_text=True)
    if status >= 500:
        return [f"{status} {body_text[:300]!r}"]
    if where == "console":
        if any(sign in body_text for sign in TRACEBACK_SIGNS):
            return [f"{status}: the page shows a traceback {body_text[:300]!r}"]
        if status >= 400 and not (resp.mimetype == "text/html" and "<html" in body_text.lower()):
            return [f"{status}: an error that is not an HTML page ({resp.content_type}) {body_text[:200]!r}"]
        return []
    if status < 400:
        return []
    problems = []
    if status == 401 and not resp.headers.get("WWW-Authenticate"):
        problems.append("401 without WWW-Authenticate (RFC 7235 §3.1)")
    try:
        body = json.loads(body_text)
    except ValueError:
        return problems + [f"{status}: the error body is not JSON ({resp.content_type}) {body_text[:200]!r}"]
    if where == "scim":
        if resp.mimetype != "application/scim+json":
            problems.append(f"{status}: Content-Type {resp.content_type}, not application/scim+json")
        if not isinstance(body, dict):
            return problems + [f"{status}: the error body is not an object: {body_text[:200]!r}"]
        if SCIM_ERROR not in (body.get("schemas") or []):
            problems.append(f"{status}: schemas lacks {SCIM_ERROR}: {body_text[:200]!r}")
        if body.get("status") != str(status):
            problems.append(f"{status}: body status {body.get('status')!r} is not the string {str(status)!r}")
        if not isinstance(body.get("detail"), str):
            problems.append(f"{status}: detail is not a string: {body_text[:200]!r}")
        if "scimType" in body and body["scimType"] not in SCIM_TYPES:
            problems.append(f"{status}: scimType {body['scimType']!r} is not one of RFC 7644 §3.12's")
    elif where in ("api", "webhook", "admin_api"):
        if resp.mimetype != "application/json":
            problems.append(f"{status}: Content-Type {resp.content_type}, not application/json")
        err = body.get("error") if isinstance(body, dict) else None
        if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(err, dict):
            return problems + [f'{status}: the body is not {{"error": {{…}}}}: {body_text[:200]!r}']
        if type(err.get("status")) is not int or err["status"] != status:
            problems.append(f"{status}: error.status is {err.get('status')!r}")
        if not isinstance(err.get("code"), str) or not err["code"]:
            problems.append(f"{status}: error.code is {err.get('code')!r}")
        if not isinstance(err.get("message"), str):
            problems.append(f"{status}: error.message is {err.get('message')!r}")
        if set(err) - {"status", "code", "message", "details"}:
            problems.append(f"{status}: unexpected keys {sorted(set(err) - {'status', 'code', 'message', 'details'})}")
    return problems


class Probe:
    """Sends requests and judges the answers. Rows are compared around every refused request; the
    snapshot after one refusal is the one before the next request, so a run of refusals costs one
    snapshot each (an accepted request may write, so the next request takes a fresh one)."""

    def __init__(self, app):
        self.app, self.rows = app, None

    def __call__(self, client, req: Req, auth: str | None = None) -> tuple[object, list[str]]:
        """Send `req`; the response and every problem with it (a 5xx, a wrong shape, a refused request that wrote)."""
        before = self.rows if self.rows is not None else snapshot(self.app)
        self.rows = None
        resp = send(client, req, auth)
        problems = shape_problems(resp, req.path)
        if resp.status_code >= 400:
            self.rows = snapshot(self.app)
            changed = changed_tables(before, self.rows)
            if changed:
                problems.append(f"{resp.status_code} but rows changed: {'; '.join(changed)}")
        return resp, problems


def verify(app, client, req: Req, auth: str | None = None) -> tuple[object, list[str]]:
    """Send `req` once; the response and its problems (see Probe)."""
    return Probe(app)(client, req, auth)


def report(failures: list[tuple[Req, list[str]]]) -> str:
    """Failures as reproducers, one per distinct (method, path, problem)."""
    seen, lines = set(), []
    for req, problems in failures:
        for p in problems:
            key = (req.method, req.path, p[:60])
            if key in seen:
                continue
            seen.add(key)
            lines.append(f"{p}\n    {req.describe()}")
    return f"{len(lines)} distinct problem(s):\n" + "\n".join(lines)


def fail_on(failures: list[tuple[Req, list[str]]]) -> None:
    """Fail the test with every failure's reproducer (and nothing else: the bodies can be megabytes)."""
    if failures:
        pytest.fail(report(failures), pytrace=False)
