"""scim-authz: SCIM 2.0 provisioning into tenants, roles and relationship rules, and one check endpoint."""
from __future__ import annotations

from pathlib import Path

from flask import Flask


def create_app(config: type | dict | None = None) -> Flask:
    """Build the application: config, extensions, blueprints, error handlers; nothing else."""
    from scim_authz.admin import bp as admin_bp
    from scim_authz.admin.sessions import ConsoleSessions
    from scim_authz.api import (
        authzen_search,
        authzen_views,
        check_views,
        docs_views,
        governance_views,
        pdp_sync_views,
        policy_file_views,
        policy_views,
        resources_views,
        tenant_admin_views,
        users_views,
    )
    from scim_authz.cli import register_cli
    from scim_authz.config import config_for
    from scim_authz.config.settings import check_production, instance_path, instance_secret_key
    from scim_authz.db import setup as db_setup
    from scim_authz.db.extensions import db, migrate
    from scim_authz.http_errors import register_error_handlers
    from scim_authz.ops import health, logs, metrics
    from scim_authz.scim.views import bp as scim_bp
    from scim_authz.web import deadline, guard, proxy
    from scim_authz.web.rate_limit import init_app as init_rate_limits
    from scim_authz.webhooks.views import bp as webhooks_bp

    app = Flask(__name__, instance_path=str(instance_path()))
    if isinstance(config, dict):
        app.config.from_object(config_for(config.get("ENV_NAME")))
        app.config.update(config)
    else:
        app.config.from_object(config or config_for(None))
    check_production(app.config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(Path(app.instance_path))
    logs.init_app(app)  # request ids; logging itself, unless gunicorn (or a test runner) set it up

    from scim_authz.credentials import end_user_jwt as auth_jwt
    auth_jwt.NETWORK["allow_private"] = bool(app.config.get("AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS"))

    db_setup.engine_defaults(app.config)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(db_setup.MIGRATIONS_DIR), render_as_batch=True)
    db_setup.configure_engine(app)

    app.register_blueprint(scim_bp)
    for module in (check_views, policy_views, policy_file_views, resources_views, governance_views, users_views,
                   authzen_views, authzen_search, docs_views, tenant_admin_views, pdp_sync_views):
        app.register_blueprint(module.bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(health.bp)
    app.session_interface = ConsoleSessions()
    register_error_handlers(app)
    guard.register(app)
    deadline.register(app)
    proxy.init_app(app)  # TRUSTED_PROXIES' forwarded headers, before anything reads the client's address
    metrics.init_app(app)  # /metrics, and the per-request counts (unless METRICS_ENABLED is off)
    init_rate_limits(app)  # before gunicorn forks: every worker shares the counts
    register_cli(app)
    return app
