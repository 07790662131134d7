"""In-process sign-in throttling: at most LIMIT failures per email within WINDOW seconds.

Pure (no Flask, no database), so it is tested alone. Per process: with several workers an
attacker gets LIMIT tries per worker, still a handful, which is the point.
"""
from __future__ import annotations

import threading
import time
from collections import deque


class LoginThrottle:
    """Counts recent failures per key and says when a key must wait."""

    def __init__(self, limit: int = 5, window: float = 300.0, clock=time.monotonic, max_keys: int = 10_000):
        self.limit, self.window, self.clock, self.max_keys = limit, window, clock, max_keys
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.get(key)
        if q is None:
            return deque()
        while q and now - q[0] >= self.window:
            q.popleft()
        if not q:
            del self._failures[key]
        return q

    def blocked(self, key: str) -> bool:
        """Whether `key` has used up its failures for now."""
        with self._lock:
            return len(self._recent(key, self.clock())) >= self.limit

    def failed(self, key: str) -> None:
        """Count one failure of `key`."""
        with self._lock:
            now = self.clock()
            if len(self._failures) >= self.max_keys:  # bounded memory: forget expired keys first
                for k in list(self._failures):
                    self._recent(k, now)
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, key: str) -> None:
        """Forget `key`'s failures after a successful sign-in."""
        with self._lock:
            self._failures.pop(key, None)
