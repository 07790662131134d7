"""The OpenAPI description (GET /v1/openapi.json) is a valid OpenAPI 3.1 document, names every route
of /v1, /access/v1 and the AuthZEN well-known with its methods, and the documentation page
(GET /v1/docs) is served with all its assets from the app itself."""
from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from scim_authz.api import openapi
from tests.test_route_auth import PUBLIC

VAR = re.compile(r"<(?:[^:<>]+:)?(\w+)>")
DESCRIBED = ("/v1/", "/access/v1/", "/.well-known/authzen-configuration")


def _described_routes(app) -> dict[tuple[str, str], str]:
    """(method, OpenAPI path) -> endpoint, for every route the description must hold."""
    out = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(DESCRIBED):
            continue
        path = VAR.sub(r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            out[(method.lower(), path)] = rule.endpoint
    return out


@pytest.fixture
def document(client):
    r = client.get("/v1/openapi.json")  # no credential: it describes the API and holds nothing of a tenant
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.get_json()


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_route_is_described_with_its_methods(app, document):
    described = {(m, p) for p, ops in document["paths"].items() for m in ops if m != "parameters"}
    routes = _described_routes(app)
    missing = sorted(f"{m.upper()} {p} ({endpoint})" for (m, p), endpoint in routes.items() if (m, p) not in described)
    assert not missing, "routes missing from the OpenAPI description (add a row to scim_authz/api/openapi.py " \
                        "OPERATIONS):\n" + "\n".join(missing)
    extra = sorted(f"{m.upper()} {p}" for m, p in described - routes.keys())
    assert not extra, "the description names operations no route serves:\n" + "\n".join(extra)


def test_the_operations_without_a_credential_are_exactly_the_public_routes(app, document):
    routes = _described_routes(app)
    for (method, path), endpoint in routes.items():
        op = document["paths"][path][method]
        security = op.get("security", document["security"])
        assert (security == []) == (endpoint in PUBLIC), f"{method.upper()} {path}: security {security}"
        assert op["summary"]
        statuses = set(op["responses"])
        assert statuses & {"200", "201", "204"}, f"{method.upper()} {path}: no success response"
        if security:
            assert {"400", "401"} <= statuses, f"{method.upper()} {path}: errors undocumented"
            assert op["responses"]["401"] == {"$ref": "#/components/responses/E401"}
        if "requestBody" in op:
            assert "413" in statuses


def test_every_error_response_has_the_shared_error_body(document):
    for code, response in document["components"]["responses"].items():
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, code
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["properties"]["error"]["required"] == ["status", "code", "message"]


def test_the_document_is_built_once_per_app(app, client):
    first = client.get("/v1/openapi.json").get_json()
    assert app.extensions[openapi.KEY] is openapi.document(app)
    assert client.get("/v1/openapi.json").get_json() == first


def test_bearer_api_keys_are_the_security_scheme(document):
    scheme = document["components"]["securitySchemes"][openapi.SECURITY]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert document["paths"]["/.well-known/authzen-configuration"]["get"]["security"] == []


def test_marshmallow_and_hand_written_rules_reach_the_document(document):
    schemas = document["components"]["schemas"]
    role = schemas["RoleRequest"]
    assert role["required"] == ["key"] and role["additionalProperties"] is False
    assert "pattern" in role["properties"]["permissions"]["items"]
    assert schemas["LookupResourcesRequest"]["properties"]["user"] == {"$ref": "#/components/schemas/UserRef"}
    check = schemas["CheckRequest"]
    assert sorted(check["required"]) == ["action", "resource", "user"] and check["additionalProperties"] is False
    assert schemas["BulkCheckRequest"]["properties"]["checks"]["maxItems"] == 10_000
    assert "additionalProperties" not in schemas["AuthZENEvaluation"]  # AuthZEN ignores unknown members


def test_the_docs_page_is_served_with_its_assets_from_the_app(client):
    r = client.get("/v1/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert not re.search(r"(?i)(https?:)?//", html), "the page refers to another origin"
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "<script>" not in html  # no inline script: the policy allows none
    urls = re.findall(r'(?:src|href|data-spec)="([^"]+)"', html)
    assert "/v1/openapi.json" in urls and any(u.endswith("swagger-ui-bundle.js") for u in urls)
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.data, url
        asset.close()


@pytest.mark.parametrize("name", ["LICENSE", "README.md", "flask_swagger_ui.py", "..%2F__init__.py"])
def test_only_the_pages_assets_are_served(client, name):
    r = client.get(f"/v1/docs/{name}")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


# ---- the live app against its own description (schemathesis) ---------------------------------

EXAMPLES = 12  # per operation: about 40 operations, well under a minute in all


def _seed(scim, api) -> None:
    """A user, a group and a role, so that generated requests now and then name what exists."""
    assert scim.post("/Users", {"userName": "ada@example.com"}).status_code == 201
    assert scim.post("/Groups", {"displayName": "Eng"}).status_code == 201
    assert api.post("/roles", {"key": "editor", "permissions": ["document:edit"]}).status_code == 201


def _run_operation(operation, origin: str, headers: dict, checks: list, failures: dict) -> None:
    """EXAMPLES generated requests to one operation; what went wrong is added to failures by operation."""
    from hypothesis import HealthCheck, given, settings
    from schemathesis.core.failures import FailureGroup

    label = f"{operation.method.upper()} {operation.path}"

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case):
        response = case.call(base_url=origin, headers=headers, timeout=10)
        try:
            case.validate_response(response, checks=checks)
            if response.status_code >= 400:
                error = response.json()["error"]
                assert error["status"] == response.status_code and error["code"], error
        except (Exception, FailureGroup) as e:  # every failure of every operation, not the first alone
            found = [str(x).splitlines()[0] for x in getattr(e, "exceptions", [e])]
            failures.setdefault(label, []).append(f"{case.method} {case.formatted_path}: {'; '.join(found)[:300]}"
                                                  f" -> {response.status_code} {response.text[:300]}")

    run()


def test_the_live_app_answers_as_its_description_says(app, scim, api):
    """Generated requests to every operation, with a valid API key: no 5xx, every status documented,
    every body (each error's above all) in its documented shape."""
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    from tests.integration.live import serving

    _seed(scim, api)
    schema = schemathesis.openapi.from_dict(openapi.document(app))
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    failures: dict[str, list[str]] = {}
    with serving(app) as origin:
        for result in schema.get_all_operations():
            _run_operation(result.ok(), origin, {"Authorization": f"Bearer {api.key}"}, checks, failures)
    summary = "\n\n".join(f"{label}:\n  " + "\n  ".join(sorted(set(found))[:3]) for label, found in failures.items())
    assert not failures, f"{len(failures)} operations answered unlike their description:\n{summary}"


@pytest.mark.parametrize("method, path", [
    ("DELETE", "/role-assignments/3000000000"), ("DELETE", "/group-mappings/3000000000"),
    ("GET", "/schema?version=3000000000"), ("GET", "/relationships?cursor=3000000000"),
])
def test_an_id_past_32_bits_is_not_a_server_error(api, method, path):
    """Found by the schemathesis run: PostgreSQL's INTEGER columns refuse a 64-bit number with an
    error; numbers in a URL past 32 bits are refused as the request's mistake."""
    r = api.request(method, path)
    assert r.status_code == 400, r.get_data(as_text=True)
