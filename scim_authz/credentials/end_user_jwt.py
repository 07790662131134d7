"""End users' identity tokens (JWT) verified against the tenant's issuer, audience and keys. Flask-free.

Keys behind a jwks_url are cached per URL, least recently used first out once JWKS_CACHE_MAX_URLS
URLs are held: any tenant can name any number of URLs, and each would otherwise stay for good.
A fetch that fails tells the caller only that the keys could not be fetched (JWTError.public); what
the network answered (refused, timed out, no such host, the banner of whatever listens there) is in
JWTError.reason, for the server log, since it would map the server's network for a tenant.
"""
from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from scim_authz.credentials import safe_fetch

MAX_TOKEN_CHARS = 16 * 1024
DEFAULT_LEEWAY_SECONDS = 30
FETCH_TIMEOUT_SECONDS = 5
JWKS_CACHE_SECONDS = 300
# An unknown kid may mean the IdP rotated its keys; refetch at most this often per URL, so a flood of
# junk kids costs the IdP one request a minute, not one per token.
REFETCH_MIN_INTERVAL_SECONDS = 60
# After a failed fetch, fail fast for a while instead of making every request wait on a dead IdP.
FETCH_FAILURE_BACKOFF_SECONDS = 10
MIN_HS256_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key must be at least as long as the hash
MIN_RSA_BITS = 2048
JWKS_CACHE_MAX_URLS = 1000  # an IdP's keys are a few kilobytes: a full cache is a few megabytes
KEYS_UNAVAILABLE = "the identity provider's keys could not be fetched"
_ALLOWED_ALGS = frozenset({"RS256", "ES256", "HS256"})
_SAFE_NAME = re.compile(r"[A-Za-z0-9._+-]{1,32}")

_monotonic = time.monotonic  # the cache's clock; a module attribute so tests can move it
# Whether a jwks_url may point into a private network (AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS, set when
# the app is made): see safe_fetch.
NETWORK = {"allow_private": False}
# Called (no arguments) after each fetch of a JWKS that failed, when set (the metrics count them).
HOOKS = {"fetch_failed": None}


class JWTError(Exception):
    """A token that is not verified. .reason is for the server log, .public for the caller who sent
    the token; they differ only where the reason describes the server's network. Neither ever
    contains the token."""

    def __init__(self, reason: str, public: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.public = public or reason


@dataclass(frozen=True)
class _Key:
    kid: str | None
    alg: str  # the one algorithm this key verifies: decided by the key, never by the token header
    key: Any  # a cryptography public key, or the HS256 secret as bytes


@dataclass(frozen=True)
class _Config:
    issuer: str
    audience: str
    leeway: float
    jwks: list[_Key] | None
    jwks_url: str | None
    secret: bytes | None


@dataclass
class _CacheEntry:
    # (keys, fetched_at), replaced as a whole so readers never need the lock.
    snapshot: tuple[list[_Key], float] | None = None
    forced_at: float = -math.inf  # last refetch caused by an unknown kid
    failed_at: float = -math.inf
    failure: str = ""
    # One fetch per URL at a time: concurrent requests on a cold cache wait for it instead of piling on.
    lock: threading.Lock = field(default_factory=threading.Lock)


_cache: OrderedDict[str, _CacheEntry] = OrderedDict()  # least recently used first
_cache_lock = threading.Lock()


def clear_jwks_cache() -> None:
    """Forget every fetched JWKS (for tests, or after an admin changes a tenant's keys)."""
    with _cache_lock:
        _cache.clear()


def jwt_configured(settings: Mapping | None) -> bool:
    """True when the tenant has asked for JWT verification (even if its settings are incomplete)."""
    # Incomplete settings count as configured, so callers fail closed with a clear reason
    # instead of silently skipping verification.
    return isinstance(settings, Mapping) and any(
        settings.get(k) for k in ("issuer", "audience", "jwks", "jwks_url", "hs256_secret"))


def verify_end_user_jwt(token: str, settings: Mapping | None, *, now: float | None = None) -> dict:
    """The verified claims of `token` under the tenant's JWT `settings`; JWTError for anything else."""
    cfg = _config(settings)
    header = _header(token)
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise JWTError("malformed token")
    if alg.strip().lower() == "none":
        raise JWTError("algorithm none is never accepted")
    if alg not in _ALLOWED_ALGS:
        raise JWTError(f"algorithm {_show(alg)} is not allowed")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise JWTError("malformed token")
    # jku/x5u/jwk/x5c headers are ignored on purpose: keys come only from the tenant's settings.
    key = _select_key(cfg, alg, kid)
    if key.alg != alg:
        raise JWTError(f"algorithm {alg} is not allowed for this key")
    claims = _decode(token, key, cfg)
    _check_times(claims, time.time() if now is None else now, cfg.leeway)
    return claims


def _config(settings: Mapping | None) -> _Config:
    if not jwt_configured(settings):
        raise JWTError("this tenant has no JWT verification configured")

    def bad(what: str) -> JWTError:
        return JWTError(f"JWT verification is misconfigured: {what}")

    issuer, audience = settings.get("issuer"), settings.get("audience")
    if not isinstance(issuer, str) or not issuer:
        raise bad("no issuer set")
    if not isinstance(audience, str) or not audience:
        raise bad("no audience set")
    jwks, url, secret = settings.get("jwks"), settings.get("jwks_url"), settings.get("hs256_secret")
    if jwks and url:
        raise bad("set either jwks or jwks_url, not both")
    if not (jwks or url or secret):
        raise bad("no jwks, jwks_url or hs256_secret set")
    if url and not (isinstance(url, str) and urlparse(url).scheme.lower() in ("http", "https")
                    and urlparse(url).netloc):
        raise bad("jwks_url must be an http(s) URL")
    keys = None
    if jwks:
        try:
            keys = _parse_jwks(jwks)
        except TypeError:
            raise bad("jwks is not a JWKS (it needs a 'keys' list)") from None
    if secret:
        if not isinstance(secret, (str, bytes)):
            raise bad("hs256_secret must be a string")
        secret = secret.encode() if isinstance(secret, str) else secret
        if len(secret) < MIN_HS256_SECRET_BYTES:
            raise bad(f"hs256_secret must be at least {MIN_HS256_SECRET_BYTES} bytes")
    leeway = settings.get("leeway_seconds")
    leeway = DEFAULT_LEEWAY_SECONDS if leeway is None else leeway
    if isinstance(leeway, bool) or not isinstance(leeway, (int, float)) or not 0 <= leeway < math.inf:
        raise bad("leeway_seconds must be a non-negative number")
    return _Config(issuer, audience, float(leeway), keys, url or None, secret or None)


def _header(token: str) -> dict:
    if not isinstance(token, str) or not token:
        raise JWTError("malformed token")
    # Refuse huge tokens before any base64/JSON work on attacker-supplied input.
    if len(token) > MAX_TOKEN_CHARS:
        raise JWTError("token too large")
    if not token.isascii() or token.count(".") != 2:
        raise JWTError("malformed token")
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.PyJWTError, ValueError, TypeError):
        raise JWTError("malformed token") from None
    if not isinstance(header, dict):
        raise JWTError("malformed token")
    return header


def _show(value: str) -> str:
    """A header value fit for a log line: as is when plainly a name, else quoted, escaped and cut short."""
    return value if _SAFE_NAME.fullmatch(value) else repr(value[:32])


def _select_key(cfg: _Config, alg: str, kid: str | None) -> _Key:
    # The HS256 secret is a key of its own that only verifies HS256; an HS256 token never reaches a
    # JWKS key, so a public key can never be used as an HMAC secret (algorithm confusion).
    if alg == "HS256" and cfg.secret is not None:
        return _Key(None, "HS256", cfg.secret)
    if cfg.jwks is not None:
        key = _pick(cfg.jwks, kid, alg)
    elif cfg.jwks_url is not None:
        keys, fresh = _url_keys(cfg.jwks_url)
        key = _pick(keys, kid, alg)
        if key is None and not fresh:  # maybe the IdP rotated its keys since we cached them
            keys = _refetch_for_kid(cfg.jwks_url, kid)
            key = _pick(keys, kid, alg) if keys is not None else None
    else:  # only an HS256 secret is configured
        raise JWTError(f"algorithm {alg} is not allowed for this key")
    if key is None:
        raise JWTError(f"unknown key id {kid[:64]!r}")
    return key


def _pick(keys: list[_Key], kid: str | None, alg: str) -> _Key | None:
    """The key for `kid` (None when unknown), or the only suitable key when the token has no kid."""
    if kid is not None:
        matches = [k for k in keys if k.kid == kid]
    elif not keys:
        raise JWTError("the JWKS has no usable keys (RSA for RS256, or EC P-256 for ES256)")
    else:
        matches = list(keys)
    if len(matches) > 1:
        # Narrowing by algorithm is safe: a key is only ever used with its own algorithm.
        matches = [k for k in matches if k.alg == alg] or matches
        if len(matches) > 1:
            raise JWTError("token has no kid and the JWKS has several keys" if kid is None
                           else f"key id {kid[:64]!r} is not unique in the JWKS")
    return matches[0] if matches else None


def _parse_jwks(data: Any) -> list[_Key]:
    if not isinstance(data, Mapping) or not isinstance(data.get("keys"), list):
        raise TypeError("the response is not a JWKS (no 'keys' list)")
    return [k for k in map(_usable_key, data["keys"]) if k is not None]


def _usable_key(jwk: Any) -> _Key | None:
    """A JWK as a verification key bound to one algorithm, or None when we never use such a key."""
    if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
        return None
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        return None
    if jwk.get("kty") == "RSA":
        alg = "RS256"
    elif jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        alg = "ES256"
    else:  # oct keys included: the only symmetric secret we accept is the configured hs256_secret
        return None
    if jwk.get("alg", alg) != alg:  # a key published for RS384, PS256, ... is not ours to use
        return None
    try:
        key = jwt.PyJWK(jwk, algorithm=alg).key
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        key = key.public_key()  # a JWKS that leaks private parts still only verifies
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return None
    return _Key(kid, alg, key)


def _entry(url: str) -> _CacheEntry:
    with _cache_lock:
        entry = _cache.get(url)
        if entry is not None:
            _cache.move_to_end(url)
            return entry
        entry = _cache[url] = _CacheEntry()
        # A request still holding an evicted entry finishes with it; the URL's next use starts afresh.
        while len(_cache) > JWKS_CACHE_MAX_URLS:
            _cache.popitem(last=False)
        return entry


def _url_keys(url: str) -> tuple[list[_Key], bool]:
    """The cached keys of `url`, fetched when missing or stale; True when fetched by this call."""
    entry = _entry(url)
    # Lock-free fast path: while one request refetches, the others keep using the cached keys.
    snap = entry.snapshot
    if snap is not None and _monotonic() - snap[1] < JWKS_CACHE_SECONDS:
        return snap[0], False
    with entry.lock:
        now, snap = _monotonic(), entry.snapshot  # another request may have fetched while we waited
        if snap is not None and now - snap[1] < JWKS_CACHE_SECONDS:
            return snap[0], False
        return _fetch_into(entry, url, now), True


def _refetch_for_kid(url: str, kid: str | None) -> list[_Key] | None:
    """Fresh keys after an unknown kid, or None when a refetch happened too recently."""
    entry = _entry(url)
    with entry.lock:
        keys = entry.snapshot[0] if entry.snapshot else []
        if any(k.kid == kid for k in keys):  # another request refetched while we waited
            return keys
        now = _monotonic()
        if now - entry.forced_at < REFETCH_MIN_INTERVAL_SECONDS:
            return None
        entry.forced_at = now  # set before fetching: a failing refetch is rate-limited too
        return _fetch_into(entry, url, now)


def _fetch_into(entry: _CacheEntry, url: str, now: float) -> list[_Key]:
    """Fetch the JWKS at `url` into `entry` (caller holds entry.lock); fails closed with JWTError."""
    if now - entry.failed_at < FETCH_FAILURE_BACKOFF_SECONDS:
        raise JWTError(f"could not fetch the JWKS: {entry.failure}", KEYS_UNAVAILABLE)
    try:
        data = safe_fetch.fetch_json(url, timeout=FETCH_TIMEOUT_SECONDS, allow_private=NETWORK["allow_private"])
        keys = _parse_jwks(data)
    except (safe_fetch.FetchError, TypeError) as exc:
        entry.failed_at, entry.failure = now, getattr(exc, "reason", None) or str(exc)
        if HOOKS["fetch_failed"] is not None:
            HOOKS["fetch_failed"]()
        raise JWTError(f"could not fetch the JWKS: {entry.failure}", KEYS_UNAVAILABLE) from None
    entry.snapshot, entry.failed_at = (keys, now), -math.inf
    return keys


def _decode(token: str, key: _Key, cfg: _Config) -> dict:
    try:
        return jwt.decode(
            token, key.key, algorithms=[key.alg], audience=cfg.audience, issuer=cfg.issuer,
            # Times are checked by _check_times, against the caller's `now`.
            options={"require": ["exp", "iss", "aud"], "verify_exp": False, "verify_nbf": False,
                     "verify_iat": False})
    except jwt.InvalidSignatureError:
        raise JWTError("signature does not verify") from None
    except jwt.MissingRequiredClaimError as exc:
        raise JWTError(f"token has no {exc.claim} claim") from None
    except jwt.InvalidAudienceError:
        raise JWTError("wrong audience") from None
    except jwt.InvalidIssuerError:
        raise JWTError("wrong issuer") from None
    except jwt.InvalidAlgorithmError:
        raise JWTError(f"algorithm {key.alg} is not allowed for this key") from None
    except (jwt.DecodeError, ValueError, TypeError):
        raise JWTError("malformed token") from None
    except jwt.PyJWTError as exc:  # e.g. a non-string sub or jti
        raise JWTError(f"token refused ({type(exc).__name__})") from None


def _check_times(claims: dict, now: float, leeway: float) -> None:
    def numeric(name: str) -> float | None:
        value = claims.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise JWTError(f"invalid {name} claim")
        return value

    exp, nbf, iat = numeric("exp"), numeric("nbf"), numeric("iat")
    if exp is None or exp <= now - leeway:
        raise JWTError("token expired" if exp is not None else "token has no exp claim")
    if nbf is not None and nbf > now + leeway:
        raise JWTError("token not yet valid")
    if iat is not None and iat > now + leeway:
        raise JWTError("token issued in the future")
