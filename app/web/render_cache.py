"""A bounded in-process cache of rendered immutable things (report JSON, HTML, Markdown).

Reports never change once final, so a rendering can be reused. Whether a report still
exists (it may have been deleted through another process) is asked of the database at most
once per `ttl_s` (ADVISOR_READ_CACHE_TTL_S); a delete in this process forgets at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

from app.web.lru import LRU


class RenderCache:
    """Bounded LRU of rendered bytes, plus a short-lived memory of which reports exist."""

    def __init__(self, max_entries: int, ttl_s: float = 0.0, max_bytes: int | None = None):
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._rendered: LRU[bytes] = LRU(max_entries, max_bytes)
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def exists(self, report_id: str, check: Callable[[], bool]) -> bool:
        """Return whether the report exists, asking the database at most once per ttl_s.

        Only positive answers are remembered; a delete in this process forgets at once,
        a delete through another process is seen here within ttl_s."""
        now = time.monotonic()
        with self._lock:
            expires = self._seen.get(report_id)
            if expires is not None and expires > now:
                return True
        if not check():
            return False
        if self.ttl_s > 0:
            with self._lock:
                if len(self._seen) > 10 * max(self.max_entries, 1):
                    self._seen = {k: v for k, v in self._seen.items() if v > now}
                self._seen[report_id] = now + self.ttl_s
        return True

    def known(self, report_id: str) -> bool:
        """Return whether the report was seen to exist within ttl_s; never asks the database
        (an async route may call it on the event loop)."""
        with self._lock:
            expires = self._seen.get(report_id)
        return expires is not None and expires > time.monotonic()

    def peek(self, key: Hashable) -> bytes | None:
        return self._rendered.get(key)

    def store(self, key: Hashable, rendered: bytes) -> None:
        self._rendered.put(key, rendered, len(rendered))

    def forget(self, report_id: str) -> None:
        """Drop every rendering of one report (after it is deleted here)."""
        with self._lock:
            self._seen.pop(report_id, None)
        self._rendered.drop(lambda key: isinstance(key, tuple) and report_id in key)
