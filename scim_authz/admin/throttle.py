"""Sign-in throttling for the console, counted in the table every worker shares.

SignInThrottle limits guessing three ways, each kept in scim_authz/web/shared_table.py so that all
workers of the instance see one count (a per-worker count let four workers hear four times the
guesses):

* By client address, whatever the email: a token bucket of failed sign-ins, so one password tried
  over many emails (spraying) from one address stops after the burst.
* By email, from every address: a few free failures, then a wait that doubles after each further
  failure up to `max_backoff` and never beyond, so guessing one admin's password from many
  addresses slows to one try per `max_backoff`. The level falls by one for every `max_backoff`
  without failures, so the email recovers on its own once guessing stops.
* By email and address together: an address that has failed on a backed-off email waits twice the
  email's wait. The turn the backoff opens therefore goes to an address that has not been failing,
  which is where the real admin signs in from: an attacker at one address cannot keep the admin out
  for more than `max_backoff` (one with many addresses can take turns, and then the admin waits too,
  which is the price of limiting guesses on one email at all).

An attempt is counted as a failure when it is let through, before the password is checked, and
taken back by `succeeded`; parallel requests cannot all pass through one opening.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable

from scim_authz.web.rate_limit import Limit, charge, parse_limit, take
from scim_authz.web.shared_table import SharedTable, key_of


class SignInThrottle:
    """Whether a sign-in may be heard now, by email and client address."""

    def __init__(self, table: SharedTable, *, clock: Callable[[], float] = time.monotonic, free_failures: int = 5,
                 backoff: float = 1.0, max_backoff: float = 900.0, address_limit: Limit | None = (1 / 60, 20)):
        self.table, self.clock = table, clock
        # A wait only ever follows a failure, so at least one is free.
        self.free, self.backoff, self.max_backoff = max(1, free_failures), backoff, max_backoff
        self.address_limit = address_limit
        self.backs_off = backoff > 0 and max_backoff > 0
        # The level at which the wait reaches max_backoff: more failures change nothing, so none are kept.
        self.top = self.free + max(0, math.ceil(math.log2(max_backoff / backoff))) if self.backs_off else 0

    @classmethod
    def configured(cls, table: SharedTable, config, clock: Callable[[], float]) -> SignInThrottle:
        """The throttle the settings describe (config/settings.py, CONSOLE_SIGN_IN_*)."""
        return cls(table, clock=clock, free_failures=int(config.get("CONSOLE_SIGN_IN_FREE_FAILURES", 5)),
                   backoff=float(config.get("CONSOLE_SIGN_IN_BACKOFF_SECONDS", 1)),
                   max_backoff=float(config.get("CONSOLE_SIGN_IN_MAX_BACKOFF_SECONDS", 900)),
                   address_limit=parse_limit(config.get("RATE_LIMIT_CONSOLE_SIGN_IN_FAILURES", "1/min,20"),
                                             "RATE_LIMIT_CONSOLE_SIGN_IN_FAILURES"))

    def _delay(self, level: float) -> float:
        """The wait after an email's latest failure at `level`: none for the free ones, then doubling."""
        if not self.backs_off or level < self.free:
            return 0.0
        return min(self.max_backoff, self.backoff * 2 ** int(level - self.free))

    def _level(self, value: float | None, stamp: float, now: float) -> float:
        """An email's failure level now: its stored level, less one for each max_backoff since."""
        if value is None or not self.backs_off:
            return 0.0
        return max(0.0, value - math.floor(max(0.0, now - stamp) / self.max_backoff))

    def attempt(self, email: str, address: str) -> tuple[float, str | None]:
        """(0, None) when a sign-in may be heard now, counted as a failure until `succeeded`; else
        the seconds to wait and which limit holds it back, "address" or "email"."""
        t = self.table
        keys = (key_of("sign-in", "email", email), key_of("sign-in", "address", address),
                key_of("sign-in", "pair", email, address))
        now = self.clock()
        with t.lock:
            if self.address_limit is not None:
                wait = take(t, keys[1], self.address_limit, now, peek=True)
                if wait:
                    return wait, "address"
            _, value, stamp = t.find(keys[0])
            level = self._level(value, stamp, now)
            delay = self._delay(level)
            wait = stamp + delay - now if delay else 0.0
            _, failing, since = t.find(keys[2])
            if delay and failing:
                wait = max(wait, since + 2 * delay - now)
            if wait > 0:
                return wait, "email"
            # Each record is looked up again as it is written: two missing keys may share a free slot.
            if self.backs_off:
                t.store(t.find(keys[0])[0], keys[0], min(level + 1.0, self.top), now)
                t.store(t.find(keys[2])[0], keys[2], 1.0, now)
            if self.address_limit is not None:
                charge(t, keys[1], self.address_limit, now)
        return 0.0, None

    def succeeded(self, email: str, address: str) -> None:
        """The password was right: forget the email's failures and this address's on it, and give
        the address back the failure `attempt` counted."""
        now = self.clock()
        with self.table.lock:
            for key in (key_of("sign-in", "email", email), key_of("sign-in", "pair", email, address)):
                slot, value, _ = self.table.find(key)
                if value:
                    self.table.store(slot, key, 0.0, now)  # level 0; for the pair, not failing
            if self.address_limit is not None:
                key, (rate, burst) = key_of("sign-in", "address", address), self.address_limit
                slot, tokens, stamp = self.table.find(key)
                if tokens is not None:
                    self.table.store(slot, key, min(burst, tokens + max(0.0, now - stamp) * rate + 1.0), now)
