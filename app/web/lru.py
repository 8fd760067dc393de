"""A bounded, thread-safe least-recently-used map (the in-process caches are built on it)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRU(Generic[V]):
    """At most `max_entries` values and `max_bytes` of their stated sizes; 0 in either
    disables it (nothing is kept). A value larger than the whole budget is not kept."""

    def __init__(self, max_entries: int, max_bytes: int | None = None):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: V, size: int = 0) -> None:
        """Keep the value; `size` is what it costs in bytes (the key counts too, when it is
        text or bytes), evicting the least recently used values until everything fits."""
        if isinstance(key, str | bytes):
            size += len(key)
        if self.max_entries <= 0 or (self.max_bytes is not None and size > self.max_bytes):
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self.bytes -= previous[1]
            self._entries[key] = (value, size)
            self.bytes += size
            while len(self._entries) > self.max_entries or (
                    self.max_bytes is not None and self.bytes > self.max_bytes):
                _, (_, dropped) = self._entries.popitem(last=False)
                self.bytes -= dropped

    def drop(self, matches: Callable[[Hashable], bool]) -> None:
        """Remove every entry whose key matches."""
        with self._lock:
            for key in [k for k in self._entries if matches(k)]:
                self.bytes -= self._entries.pop(key)[1]
