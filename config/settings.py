"""Configuration classes. Every value can be set from the environment; the defaults are safe for one
machine. Importing this module reads the environment and writes nothing."""
import os
import secrets
import time
from datetime import timedelta
from pathlib import Path


def instance_path() -> Path:
    """The folder the server keeps its own files in (the embedded SQLite database, a generated
    secret key): SCIM_AUTHZ_INSTANCE, or ./instance under the current directory."""
    return Path(os.environ.get("SCIM_AUTHZ_INSTANCE") or "instance").resolve()


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _flag(name: str, default: bool) -> bool:
    """An on/off setting: 1, true or yes turn it on, any other value off, unset leaves `default`."""
    value = os.environ.get(name, "")
    return default if not value else value.lower() in ("1", "true", "yes")


def console_session_lifetime() -> timedelta:
    """How long a console sign-in lasts, from CONSOLE_SESSION_HOURS (8 by default). Counted from
    the sign-in, not from the last request: an admin in use is still asked to sign in again."""
    raw = os.environ.get("CONSOLE_SESSION_HOURS", "8")
    try:
        hours = float(raw)
    except ValueError:
        hours = 0.0
    if not 0 < hours < 24 * 366:  # also refuses nan and inf, which no timedelta takes
        raise ValueError(f"CONSOLE_SESSION_HOURS must be a positive number of hours, at most a year, not {raw!r}")
    return timedelta(hours=hours)


def instance_secret_key(folder: Path) -> str:
    """The secret key generated once for this installation and kept in `folder`/secret_key (never
    in the repository), so console sessions survive a restart. Called when an app is made, not at
    import. Processes starting together agree: the key is written whole to a file of its own, then
    linked into place, which only one of them can do; the others read the winner's."""
    path = folder / "secret_key"
    for _ in range(50):
        try:
            key = path.read_text().strip()
        except FileNotFoundError:
            key = ""
        if key:
            return key
        folder.mkdir(parents=True, exist_ok=True)
        draft = folder / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)
        except FileExistsError:
            time.sleep(0.01)
        finally:
            draft.unlink()
    raise RuntimeError(f"could not read or create {path}")


def _trusted_hosts(public_base_url: str) -> list[str] | None:
    listed = [h.strip() for h in os.environ.get("TRUSTED_HOSTS", "").split(",") if h.strip()]
    if listed:
        return listed
    if public_base_url:
        return None  # nothing is built from the Host header
    return ["localhost", "127.0.0.1", "::1"]


class ConfigurationError(RuntimeError):
    """A setting the server cannot start without is missing or wrong; the message names it."""


def check_production(config) -> None:
    """Refuse to start in production on settings that are only safe on one's own machine, naming
    every one that is missing in one message."""
    if config.get("ENV_NAME", os.environ.get("SCIM_AUTHZ_ENV", "")).lower() != "production":
        return
    missing = []
    if not config.get("SECRET_KEY"):
        missing.append("SECRET_KEY (signs console sessions: the same long random value on every instance, "
                       "e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")
    uri = config.get("SQLALCHEMY_DATABASE_URI")
    if not uri or (uri == DEFAULT_DATABASE_URI and not os.environ.get("DATABASE_URL")):
        missing.append("DATABASE_URL (the database every instance shares, e.g. "
                       "postgresql://scim_authz@db.internal/scim_authz; not the embedded SQLite file)")
    if not config.get("PUBLIC_BASE_URL") and not os.environ.get("TRUSTED_HOSTS"):
        missing.append("PUBLIC_BASE_URL (the origin IdPs and browsers use) or TRUSTED_HOSTS, so no URL the "
                       "server gives out is built from an untrusted Host header")
    if missing:
        raise ConfigurationError("SCIM_AUTHZ_ENV=production refuses to start without "
                                 + "; ".join(f"{n}. {m}" for n, m in enumerate(missing, 1)))


def normalise_database_url(url: str) -> str:
    """Accept plain postgres:// URLs and point them at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# The embedded database, when DATABASE_URL is not set (refused in production).
DEFAULT_DATABASE_URI = f"sqlite:///{instance_path() / 'scim-authz.db'}"


class Config:
    SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URI)
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # "FULL" makes every SQLite commit durable on power loss, not only on a process crash.
    SQLITE_SYNCHRONOUS = os.environ.get("SQLITE_SYNCHRONOUS", "FULL")
    # At FULL, the WAL is flushed by the committing code once SQLite's write lock is free, before the
    # answer, rather than inside SQLite's COMMIT (scim_authz/db/wal_sync.py): the same guarantee,
    # without writers queueing for each other's flush. "0" leaves the flush to SQLite.
    SQLITE_GROUP_COMMIT = os.environ.get("SQLITE_GROUP_COMMIT", "1").lower() not in ("0", "false", "no", "off")
    # How long a SQLite writer outside the writers' turn (scim_authz/db/write_turn.py) waits for
    # the write lock before failing; the turn makes request writes wait for none.
    SQLITE_BUSY_TIMEOUT_MS = int(os.environ.get("SQLITE_BUSY_TIMEOUT_MS", "10000"))
    # From the environment; when unset, create_app takes (or makes) the instance folder's own.
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Secure cookies when served over HTTPS (PUBLIC_BASE_URL says so); plain HTTP on 127.0.0.1 otherwise.
    SESSION_COOKIE_SECURE = os.environ.get("PUBLIC_BASE_URL", "").startswith("https://")
    # Flask's name for the console session's lifetime (its default is 31 days): the cookie's expiry,
    # and the age from sign-in past which the server refuses a session whatever the cookie says.
    PERMANENT_SESSION_LIFETIME = console_session_lifetime()
    # Announced in /ServiceProviderConfig and enforced.
    SCIM_BULK_MAX_OPERATIONS = _int("SCIM_BULK_MAX_OPERATIONS", 1000)
    SCIM_BULK_MAX_PAYLOAD = _int("SCIM_BULK_MAX_PAYLOAD", 1_048_576)
    SCIM_FILTER_MAX_RESULTS = _int("SCIM_FILTER_MAX_RESULTS", 1000)
    SCIM_MAX_REQUEST_BYTES = _int("SCIM_MAX_REQUEST_BYTES", 16 * 1_048_576)
    # GET /Groups/{id} reads a group's members this many at a time; a group with more is streamed.
    SCIM_GROUP_MEMBERS_CHUNK = _int("SCIM_GROUP_MEMBERS_CHUNK", 5000)
    # Request bodies are capped before they are read (chunked ones too) on every surface, and the
    # URL of any request (scim_authz/web/guard.py); a JSON body nests at most this deep. /v1's cap
    # is also read from MAX_CONTENT_LENGTH; API_MAX_REQUEST_BYTES wins when both are set.
    API_MAX_REQUEST_BYTES = _int("API_MAX_REQUEST_BYTES", _int("MAX_CONTENT_LENGTH", 8 * 1_048_576))
    CONSOLE_MAX_REQUEST_BYTES = _int("CONSOLE_MAX_REQUEST_BYTES", 1_048_576)
    # An IdP webhook delivery (/webhooks, docs/webhooks.md): one Logto event, or a batch of Okta events.
    WEBHOOK_MAX_REQUEST_BYTES = _int("WEBHOOK_MAX_REQUEST_BYTES", 1_048_576)
    MAX_URL_BYTES = _int("MAX_URL_BYTES", 65_536)
    MAX_JSON_DEPTH = _int("MAX_JSON_DEPTH", 64)
    # A request still running after this many seconds is stopped with a 503 in its protocol's shape
    # (scim_authz/web/deadline.py), before gunicorn's own timeout (GUNICORN_TIMEOUT) aborts the worker.
    REQUEST_DEADLINE_SECONDS = float(os.environ.get("REQUEST_DEADLINE_SECONDS",
                                                    max(1, int(os.environ.get("GUNICORN_TIMEOUT", 30)) - 5)))

    # A public base URL (https://idp-facing.example.com) when behind a proxy; else taken from the request.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")
    # The Host headers believed (Flask answers any other with 400). Without PUBLIC_BASE_URL the URLs
    # the server gives out (meta.location, the console's SCIM URL) are built from the Host header, so
    # only this machine's own names are believed unless TRUSTED_HOSTS (comma-separated) says more.
    TRUSTED_HOSTS = _trusted_hosts(PUBLIC_BASE_URL)
    # The reverse proxies whose X-Forwarded-For/-Proto/-Host are believed (scim_authz/web/proxy.py):
    # comma-separated addresses and networks (10.0.0.0/8). Empty, the default: none, so the client
    # address is the peer's. gunicorn's forwarded_allow_ips is set from the same value.
    TRUSTED_PROXIES = os.environ.get("TRUSTED_PROXIES", "")
    # Logs (scim_authz/ops/logs.py): "json" lines (the default under gunicorn) or "text" (the default
    # elsewhere), at LOG_LEVEL and above.
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    # How long GET /readyz waits for the database to answer (scim_authz/ops/health.py).
    READYZ_TIMEOUT_SECONDS = float(os.environ.get("READYZ_TIMEOUT_SECONDS", "2"))
    # Prometheus metrics at GET /metrics (scim_authz/ops/metrics.py, docs/operations.md), served to
    # clients in METRICS_ALLOW_FROM (comma-separated networks; empty: none) or presenting
    # METRICS_TOKEN as a bearer token; 403 to anyone else.
    METRICS_ENABLED = _flag("METRICS_ENABLED", True)
    METRICS_ALLOW_FROM = os.environ.get("METRICS_ALLOW_FROM", "127.0.0.0/8,::1/128")
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
    # The admin API's operator keys (/admin/api, docs/operations.md): comma-separated NAME:SHA256
    # entries made by `scim-authz admin-keys generate NAME`. Empty, the default: the API refuses all.
    ADMIN_API_KEYS = os.environ.get("ADMIN_API_KEYS", "")
    # Decision points' keys that sync every tenant (docs/dataplane.md): NAME:SHA256 entries made by
    # `scim-authz pdp-keys generate NAME`, as ADMIN_API_KEYS. A tenant's own PDP keys are tokens
    # (`tokens issue <tenant> --kind pdp`) and need no setting.
    PDP_KEYS = os.environ.get("PDP_KEYS", "")
    # The decision engine.
    AUTHZ_MAX_DEPTH = _int("AUTHZ_MAX_DEPTH", 32)
    # 0: every check reads the tenant's revision (one indexed row), so a write made through any
    # instance is seen by the next check everywhere. Raise it to trade that for fewer reads.
    AUTHZ_REVISION_POLL_SECONDS = float(os.environ.get("AUTHZ_REVISION_POLL_SECONDS", "0"))
    # How a check learns that a tenant changed without reading its revision: "auto" (the default) is
    # "file" on SQLite (a shared file beside the database, scim_authz/pdp/revision_signal.py) and
    # "listen" on PostgreSQL (LISTEN/NOTIFY, scim_authz/pdp/revision_feed.py); "none" reads it per check.
    AUTHZ_REVISION_SIGNAL = os.environ.get("AUTHZ_REVISION_SIGNAL", "auto").lower()
    # How long the administrative change log keeps an entry (`flask prune-admin-changes`, run from
    # cron, deletes older ones; nothing else in the application deletes or changes an entry).
    AUTHZ_ADMIN_CHANGES_RETENTION_DAYS = _int("AUTHZ_ADMIN_CHANGES_RETENTION_DAYS", 400)
    AUTHZ_AUDIT_FLUSH_SECONDS = float(os.environ.get("AUTHZ_AUDIT_FLUSH_SECONDS", "0.2"))
    AUTHZ_BULK_MAX_CHECKS = _int("AUTHZ_BULK_MAX_CHECKS", 10_000)
    AUTHZ_LOOKUP_PAGE_MAX = _int("AUTHZ_LOOKUP_PAGE_MAX", 10_000)
    # Rate limits (scim_authz/web/rate_limit.py), one budget for all workers of an instance, answered
    # with 429 and Retry-After. Each is "RATE,BURST": requests a second ("N/min", "N/h" also do) and
    # how many may come at once; "0" turns it off. Per credential; per client address, every request;
    # and failed authentications per client address, refused before any key is looked at. The client
    # address is the peer's, or behind a proxy named in TRUSTED_PROXIES the client's it forwarded.
    RATE_LIMIT_SCIM_TOKEN = os.environ.get("RATE_LIMIT_SCIM_TOKEN", "2000/s,4000")
    RATE_LIMIT_SCIM_ADDRESS = os.environ.get("RATE_LIMIT_SCIM_ADDRESS", "10000/s,20000")
    RATE_LIMIT_SCIM_AUTH_FAILURES = os.environ.get("RATE_LIMIT_SCIM_AUTH_FAILURES", "10/s,50")
    RATE_LIMIT_API_KEY = os.environ.get("RATE_LIMIT_API_KEY", "20000/s,40000")
    RATE_LIMIT_API_ADDRESS = os.environ.get("RATE_LIMIT_API_ADDRESS", "20000/s,40000")
    RATE_LIMIT_API_AUTH_FAILURES = os.environ.get("RATE_LIMIT_API_AUTH_FAILURES", "10/s,50")
    RATE_LIMIT_CONSOLE_ADDRESS = os.environ.get("RATE_LIMIT_CONSOLE_ADDRESS", "50/s,200")
    # IdP webhooks (/webhooks): per client address, and refused signatures or secrets per address.
    RATE_LIMIT_WEBHOOK_ADDRESS = os.environ.get("RATE_LIMIT_WEBHOOK_ADDRESS", "1000/s,2000")
    RATE_LIMIT_WEBHOOK_AUTH_FAILURES = os.environ.get("RATE_LIMIT_WEBHOOK_AUTH_FAILURES", "10/s,50")
    # Console sign-in (scim_authz/admin/throttle.py): failed sign-ins per client address, whatever
    # the email; and per email, a few free failures, then a wait that doubles from BACKOFF up to
    # MAX_BACKOFF (0: no wait) and shrinks again while nobody fails.
    RATE_LIMIT_CONSOLE_SIGN_IN_FAILURES = os.environ.get("RATE_LIMIT_CONSOLE_SIGN_IN_FAILURES", "1/min,20")
    CONSOLE_SIGN_IN_FREE_FAILURES = _int("CONSOLE_SIGN_IN_FREE_FAILURES", 5)
    CONSOLE_SIGN_IN_BACKOFF_SECONDS = float(os.environ.get("CONSOLE_SIGN_IN_BACKOFF_SECONDS", "1"))
    CONSOLE_SIGN_IN_MAX_BACKOFF_SECONDS = float(os.environ.get("CONSOLE_SIGN_IN_MAX_BACKOFF_SECONDS", "900"))
    # Slots of the shared table the counts are kept in (24 bytes each): the busiest keys stay.
    RATE_LIMIT_TABLE_SLOTS = _int("RATE_LIMIT_TABLE_SLOTS", 65_536)
    # A tenant's jwks_url may not point at a private, loopback or link-local address unless this
    # is set (an IdP inside your own network): see scim_authz/credentials/safe_fetch.py.
    AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS = os.environ.get("AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS", "").lower() in (
        "1", "true", "yes")
    # A tenant's jwks_url must be https (keys fetched over plain HTTP can be swapped on the way).
    # On by default in production only, so an IdP on a laptop can be tried without a certificate.
    AUTHZ_JWKS_REQUIRE_HTTPS = _flag("AUTHZ_JWKS_REQUIRE_HTTPS", False)
    TESTING = False


class DevelopmentConfig(Config):
    pass


class ProductionConfig(Config):
    AUTHZ_JWKS_REQUIRE_HTTPS = _flag("AUTHZ_JWKS_REQUIRE_HTTPS", True)


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
