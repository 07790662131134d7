"""GET /v1/openapi.json (the description of /v1 and /access/v1) and /v1/docs, a page that reads it.

Neither needs a credential: they describe the API and hold nothing of any tenant. The page is Swagger
UI from the flask-swagger-ui distribution's bundled files, served by this app: users run it inside
closed networks, where a CDN is out of reach. Nothing on the page calls out (`validatorUrl` is off)."""
from __future__ import annotations

import json
from importlib.resources import files

from flask import Blueprint, Response, current_app, send_from_directory, url_for
from markupsafe import escape
from werkzeug.exceptions import NotFound

from scim_authz.api import openapi

bp = Blueprint("api_docs", __name__, url_prefix="/v1")

DIST = files("flask_swagger_ui") / "dist"
# The distribution's files the page loads; nothing else of the package is served.
ASSETS = ("swagger-ui.css", "index.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
          "favicon-32x32.png", "favicon-16x16.png")
# Ours, not the distribution's: the page starts Swagger UI from a script file, so its policy needs no inline script.
INIT = "init.js"
INIT_JS = """window.addEventListener("load", function () {
  var spec = document.getElementById("swagger-ui").getAttribute("data-spec");
  window.ui = SwaggerUIBundle({
    url: spec, dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"
  });
});
"""
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'none'")
ASSET_MAX_AGE = 86_400


@bp.get("/openapi.json")
def openapi_json():
    resp = Response(json.dumps(openapi.document(current_app._get_current_object())), content_type="application/json")
    resp.headers["Cache-Control"] = "max-age=300"
    return resp


@bp.get("/docs")
def docs_page():
    asset = lambda name: escape(url_for("api_docs.docs_asset", filename=name))  # noqa: E731
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>scim-authz API</title>
<link rel="stylesheet" href="{asset("swagger-ui.css")}">
<link rel="stylesheet" href="{asset("index.css")}">
<link rel="icon" type="image/png" href="{asset("favicon-32x32.png")}" sizes="32x32">
</head>
<body>
<div id="swagger-ui" data-spec="{escape(url_for("api_docs.openapi_json"))}"></div>
<script src="{asset("swagger-ui-bundle.js")}"></script>
<script src="{asset("swagger-ui-standalone-preset.js")}"></script>
<script src="{asset(INIT)}"></script>
</body>
</html>
"""
    resp = Response(page, content_type="text/html; charset=utf-8")
    resp.headers["Content-Security-Policy"] = PAGE_CSP
    resp.headers["X-Frame-Options"] = "DENY"
    return resp


@bp.get("/docs/<filename>")
def docs_asset(filename):
    if filename == INIT:
        resp = Response(INIT_JS, content_type="text/javascript; charset=utf-8")
    elif filename in ASSETS:
        resp = send_from_directory(str(DIST), filename, max_age=ASSET_MAX_AGE)
    else:
        raise NotFound()
    resp.headers.setdefault("Cache-Control", f"max-age={ASSET_MAX_AGE}")
    return resp
