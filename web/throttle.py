"""Per-client request budgets for what anyone may call without signing in (the anonymous
search API): a sliding window kept in this process's memory.

Limits that protect people or data across processes (sign-in attempts, registrations,
interests) are counted in the database by the domain; this one only keeps a single client
from monopolizing a web process, so a per-process window is what it needs."""

from __future__ import annotations

import threading
import time
from collections import deque

from matcher.errors import TooManyRequests


class Throttle:
    def __init__(self, limit: int, window_s: float, *, max_keys: int = 50_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, message: str = "请求过于频繁，请稍后再试") -> None:
        """Count one request for `key`; TooManyRequests when over the budget."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self.max_keys:
                    self._evict(now)
                hits = self._hits[key] = deque()
            while hits and now - hits[0] > self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                raise TooManyRequests(message)
            hits.append(now)

    def _evict(self, now: float) -> None:
        stale = [k for k, v in self._hits.items() if not v or now - v[-1] > self.window_s]
        for k in stale:
            del self._hits[k]
        if len(self._hits) >= self.max_keys:  # still full: forget the oldest half
            for k in list(self._hits)[: self.max_keys // 2]:
                del self._hits[k]
