"""Rate limits for every edge: per credential, per client address, and failed authentications per
client address, each a token bucket in the table all workers of the instance share
(scim_authz/web/shared_table.py), so four workers allow what one would, not four times as much.

A bucket holds at most `burst` tokens and gains `rate` a second; a request takes one, and is
answered 429 with Retry-After (in its surface's own error format) when none is left. Settings,
one per surface and kind ("RATE,BURST", see config/settings.py), name the limits; 0 turns one off:

    surface  per credential         per client address         failed authentications per address
    scim     RATE_LIMIT_SCIM_TOKEN  RATE_LIMIT_SCIM_ADDRESS     RATE_LIMIT_SCIM_AUTH_FAILURES
    api      RATE_LIMIT_API_KEY     RATE_LIMIT_API_ADDRESS      RATE_LIMIT_API_AUTH_FAILURES
    console  -                      RATE_LIMIT_CONSOLE_ADDRESS  sign-ins: scim_authz/admin/throttle.py
    webhook  -                      RATE_LIMIT_WEBHOOK_ADDRESS  RATE_LIMIT_WEBHOOK_AUTH_FAILURES

Failed authentications are counted by address because an invalid key names no credential. Once
an address has used its allowance its requests are refused before any key is looked at, a valid
one's too, so a flood of made-up keys costs no database look-up. A failure is counted when it has
happened, so requests already past that check when the allowance ran out (at most one per worker)
are still heard. The client address is request.remote_addr: behind a reverse proxy that is the
proxy's, shared by every client, unless the proxy is named in TRUSTED_PROXIES, whose forwarded
client address is then believed (scim_authz/web/proxy.py); else raise the per-address limits.
Several instances each count for themselves: a store they share (Redis, say) would take
SharedTable's place here, behind the same calls.

Cost: one short critical section a request (two when its authentication fails), a few microseconds.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import Flask, current_app, g, request
from werkzeug.exceptions import TooManyRequests

from scim_authz.web.shared_table import SharedTable, key_of

EXTENSION = "scim_authz.rate_limits"
_RETRY_AFTER = "_rate_limit_retry_after"
_UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0}
SURFACES = {  # surface: settings of its (credential, address, failures) limits
    "scim": ("RATE_LIMIT_SCIM_TOKEN", "RATE_LIMIT_SCIM_ADDRESS", "RATE_LIMIT_SCIM_AUTH_FAILURES"),
    "api": ("RATE_LIMIT_API_KEY", "RATE_LIMIT_API_ADDRESS", "RATE_LIMIT_API_AUTH_FAILURES"),
    "console": (None, "RATE_LIMIT_CONSOLE_ADDRESS", None),
    "webhook": (None, "RATE_LIMIT_WEBHOOK_ADDRESS", "RATE_LIMIT_WEBHOOK_AUTH_FAILURES"),
}
Limit = tuple[float, float]  # (tokens a second, burst)


def parse_limit(value, name: str = "a rate limit") -> Limit | None:
    """A limit from setting `name`: "2000/s,4000", "1/min,20", "500" (burst 500), a (rate, burst)
    pair, or 0 / "0" / None for none. A bad value stops the app from starting, naming the setting."""
    if value is None or value == 0 or (isinstance(value, str) and value.strip() in ("", "0")):
        return None
    try:
        if isinstance(value, (int, float)):
            rate, burst = float(value), None
        elif isinstance(value, (tuple, list)) and len(value) == 2:
            rate, burst = float(value[0]), float(value[1])
        else:
            rate_text, _, burst_text = str(value).partition(",")
            count, _, unit = rate_text.strip().partition("/")
            rate = float(count) / _UNITS[unit.strip() or "s"]
            burst = float(burst_text) if burst_text.strip() else None
    except (ValueError, KeyError) as e:
        raise ValueError(f"{name}={value!r}: write RATE,BURST, as in 2000/s,4000 or 1/min,20 (0 for none)") from e
    if burst is None:
        burst = max(1.0, rate)
    if rate <= 0 or burst <= 0:
        return None
    if burst < 1:
        raise ValueError(f"{name}={value!r}: the burst must let at least one request through")
    return rate, burst


def take(table: SharedTable, key: int, limit: Limit, now: float, *, peek: bool = False) -> float:
    """Take a token from `key`'s bucket: 0.0 when there was one, else the seconds until there is.
    `peek` only looks. Call under `table.lock`. (Every request runs this twice: kept to plain
    arithmetic, no helper calls.)"""
    rate, burst = limit
    slot, tokens, stamp = table.find(key)
    if tokens is None:
        if peek:
            return 0.0
        tokens = burst
    elif now > stamp:  # another process may have written a stamp a hair later than this `now`
        tokens += (now - stamp) * rate
        if tokens > burst:
            tokens = burst
    if tokens >= 1.0:
        if not peek:
            table.store(slot, key, tokens - 1.0, now)
        return 0.0
    if not peek:
        table.store(slot, key, tokens, now)  # written even so: a bucket in use is never the one evicted
    return (1.0 - tokens) / rate


def charge(table: SharedTable, key: int, limit: Limit, now: float) -> None:
    """Take a token whether or not there is one left (a failure that has happened). Under the lock."""
    rate, burst = limit
    slot, tokens, stamp = table.find(key)
    tokens = burst if tokens is None else min(burst, tokens + max(0.0, now - stamp) * rate)
    table.store(slot, key, max(0.0, tokens - 1.0), now)


def refuse(wait: float, error: Callable[[str], Exception], why: str):
    """Raise the surface's 429 error; Retry-After (whole seconds, at least 1) is added to whatever
    response that error becomes (see init_app), since each surface renders its own."""
    seconds = max(1, math.ceil(wait))
    setattr(g, _RETRY_AFTER, seconds)
    raise error(f"{why}; retry after {seconds} second{'s' if seconds != 1 else ''}.")


def client_address() -> str:
    """The address a request is counted under: request.remote_addr, the peer's, or the client's
    that a proxy named in TRUSTED_PROXIES forwarded (see the module's docstring)."""
    return request._get_current_object().remote_addr or "-"  # the proxy's own attribute look-up costs ~1 µs


class RateLimits:
    """The instance's limits, by surface, over the shared table."""

    def __init__(self, table: SharedTable, config, clock: Callable[[], float] = time.monotonic):
        self.table, self.clock = table, clock
        self.limits = {surface: tuple(parse_limit(config.get(name), name) if name else None for name in names)
                       for surface, names in SURFACES.items()}

    def admit(self, surface: str, address: str, authorization: str | None,
              error: Callable[[str], Exception]) -> None:
        """Before authentication, in one critical section: refuse (raise `error`, a 429) an address
        that has used up its failed authentications or is over its request limit, or a credential
        over its own. The credential is counted by the secret it presents, which names it as well
        as its row would: so a throttled key costs no look-up, and a request takes the lock once."""
        per_credential, per_address, failures = self.limits[surface]
        if per_credential is None and per_address is None and failures is None:
            return
        now, wait, why = self.clock(), 0.0, ""
        with self.table.lock:
            if failures is not None:
                wait = take(self.table, key_of(surface, "failed", address), failures, now, peek=True)
                why = "Too many failed authentications from this address"
            if not wait and per_address is not None:
                wait = take(self.table, key_of(surface, "address", address), per_address, now)
                why = "Too many requests from this address"
            if not wait and per_credential is not None and authorization:
                # The header's last word: the token of every header that authenticates ("Bearer x").
                secret = authorization.strip().rpartition(" ")[2]
                wait = take(self.table, key_of(surface, "credential", secret), per_credential, now)
                why = "Too many requests with this credential"
        if wait:
            refuse(wait, error, why)

    def auth_failed(self, surface: str, address: str) -> None:
        """Count a failed authentication against the address it came from."""
        failures = self.limits[surface][2]
        if failures is not None:
            now = self.clock()
            with self.table.lock:
                charge(self.table, key_of(surface, "failed", address), failures, now)


def limits(app: Flask | None = None) -> RateLimits:
    """The instance's rate limits (made by init_app)."""
    return (app or current_app._get_current_object()).extensions[EXTENSION]


def init_app(app: Flask) -> None:
    """Make the shared table now, in the process that will fork the workers, and hook the console's
    per-address limit and the Retry-After header in. RATE_LIMIT_CLOCK (tests only) replaces the
    monotonic clock, which every process of the machine reads alike."""
    table = SharedTable(slots=int(app.config.get("RATE_LIMIT_TABLE_SLOTS", 65_536)))
    app.extensions[EXTENSION] = RateLimits(table, app.config, app.config.get("RATE_LIMIT_CLOCK") or time.monotonic)

    def _console_limit():
        limits(app).admit("console", client_address(), None, TooManyRequests)

    # Run for the console's blueprint only (the blueprint is registered already, so through the app's
    # per-blueprint table): SCIM and /v1 count in their authentication, which sees the key.
    app.before_request_funcs.setdefault("admin", []).insert(0, _console_limit)

    @app.after_request
    def _retry_after(resp):
        if resp.status_code == 429:  # looked at first: `g` is a context look-up, ~1 µs a request
            seconds = g.get(_RETRY_AFTER)
            if seconds is not None:
                resp.headers["Retry-After"] = str(seconds)
        return resp
