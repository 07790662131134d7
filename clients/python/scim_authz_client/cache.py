"""A small in-process cache of decisions, so a hot check costs a dict lookup instead of a round trip.

Entries are keyed by the check and the newest revision the client knows of, so a write the client
makes (or learns of) leaves older answers unreachable at once; they then age out by TTL or LRU.
A decision another writer changed can be served for up to `ttl_seconds`: keep it short.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from time import monotonic
from typing import Any

from scim_authz_client.results import CheckResult


class DecisionCache:
    """Bounded in size (least recently used goes first) and in time (`ttl_seconds` per entry)."""

    def __init__(self, max_entries: int = 10_000, ttl_seconds: float = 5.0):
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive; pass cache=None for no cache")
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._entries: OrderedDict[tuple, tuple[float, CheckResult]] = OrderedDict()
        self._lock = threading.Lock()  # for puts only: the hit path takes no lock
        self._scope: str | None = None

    def bind(self, scope: str) -> None:
        """Tie the cache to the one server and API key (so tenant) whose answers it keeps: its keys
        name no tenant, so a cache shared by clients of two tenants would mix their answers."""
        with self._lock:
            if self._scope is None:
                self._scope = scope
            elif self._scope != scope:
                raise ValueError("a DecisionCache keeps the answers of one server and API key; "
                                 "give each client of another key its own cache")

    def get(self, key: tuple) -> CheckResult | None:
        """The cached decision, or None if absent or expired. The hot path: keep it lean."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < monotonic():
            self._entries.pop(key, None)
            return None
        try:
            self._entries.move_to_end(key)
        except KeyError:  # evicted by another thread just now; the answer is still good
            pass
        return entry[1]

    def put(self, key: tuple, result: CheckResult) -> None:
        """Remember a decision the server gave; evicts the least recently used beyond max_entries."""
        with self._lock:
            self._entries[key] = (monotonic() + self.ttl_seconds, result)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def scope_of(base_url: str, api_key: str) -> str:
    """What a cache is bound to: the server and the key (hashed: the cache need not hold the key)."""
    return hashlib.sha256(f"{base_url}\n{api_key}".encode()).hexdigest()


def cache_key(user: Any, action: str, resource: Any, context: dict | None, revision: int | None) -> tuple:
    """The key of one check. Plain strings and no context (most checks) cost a tuple; anything else
    is serialized so that equal dicts make equal keys."""
    if type(user) is not str:
        user = json.dumps(user, sort_keys=True, separators=(",", ":"))
    if type(resource) is not str:
        resource = json.dumps(resource, sort_keys=True, separators=(",", ":"))
    ctx = json.dumps(context, sort_keys=True, separators=(",", ":"), default=str) if context else None
    return (user, action, resource, ctx, revision)
