"""Configuration classes. Every value can be set from the environment; the defaults are safe for one machine."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE = f"sqlite:///{ROOT / 'instance' / 'scim-authz.db'}"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _secret_key() -> str:
    """SECRET_KEY from the environment, or one generated once for this installation and kept in
    instance/secret_key (never in the repository), so console sessions survive a restart."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = ROOT / "instance" / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key


def normalise_database_url(url: str) -> str:
    """Accept plain postgres:// URLs and point them at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ.get("DATABASE_URL", DEFAULT_SQLITE))
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # "FULL" makes every SQLite commit durable on power loss, not only on a process crash.
    SQLITE_SYNCHRONOUS = os.environ.get("SQLITE_SYNCHRONOUS", "FULL")
    SECRET_KEY = _secret_key()
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Secure cookies when served over HTTPS (PUBLIC_BASE_URL says so); plain HTTP on 127.0.0.1 otherwise.
    SESSION_COOKIE_SECURE = os.environ.get("PUBLIC_BASE_URL", "").startswith("https://")
    # Announced in /ServiceProviderConfig and enforced.
    SCIM_BULK_MAX_OPERATIONS = _int("SCIM_BULK_MAX_OPERATIONS", 1000)
    SCIM_BULK_MAX_PAYLOAD = _int("SCIM_BULK_MAX_PAYLOAD", 1_048_576)
    SCIM_FILTER_MAX_RESULTS = _int("SCIM_FILTER_MAX_RESULTS", 1000)
    SCIM_MAX_REQUEST_BYTES = _int("SCIM_MAX_REQUEST_BYTES", 16 * 1_048_576)
    # A public base URL (https://idp-facing.example.com) when behind a proxy; else taken from the request.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")
    # The decision engine.
    AUTHZ_MAX_DEPTH = _int("AUTHZ_MAX_DEPTH", 32)
    # 0: every check reads the tenant's revision (one indexed row), so a write made through any
    # instance is seen by the next check everywhere. Raise it to trade that for fewer reads.
    AUTHZ_REVISION_POLL_SECONDS = float(os.environ.get("AUTHZ_REVISION_POLL_SECONDS", "0"))
    # On SQLite, "file" (the default) reads the revision only after a commit has been announced in
    # a shared file beside the database (scim_authz/pdp/revision_signal.py); "none" reads it per check.
    AUTHZ_REVISION_SIGNAL = os.environ.get("AUTHZ_REVISION_SIGNAL", "file").lower()
    AUTHZ_AUDIT_FLUSH_SECONDS = float(os.environ.get("AUTHZ_AUDIT_FLUSH_SECONDS", "0.2"))
    AUTHZ_BULK_MAX_CHECKS = _int("AUTHZ_BULK_MAX_CHECKS", 10_000)
    AUTHZ_LOOKUP_PAGE_MAX = _int("AUTHZ_LOOKUP_PAGE_MAX", 10_000)
    # A tenant's jwks_url may not point at a private, loopback or link-local address unless this
    # is set (an IdP inside your own network): see scim_authz/credentials/safe_fetch.py.
    AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS = os.environ.get("AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS", "").lower() in (
        "1", "true", "yes")
    TESTING = False


class DevelopmentConfig(Config):
    pass


class ProductionConfig(Config):
    pass


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "tests-only-secret-key"
    SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ.get("TEST_DATABASE_URL") or "sqlite://")
    SQLITE_SYNCHRONOUS = "OFF"


def config_for(name: str | None) -> type[Config]:
    """The settings class for an environment name (development, production, testing)."""
    return {
        "production": ProductionConfig,
        "testing": TestingConfig,
    }.get((name or os.environ.get("SCIM_AUTHZ_ENV", "development")).lower(), DevelopmentConfig)
