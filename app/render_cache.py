"""A bounded in-process cache of rendered immutable things (report JSON, HTML, Markdown).

Reports never change after they are made, so a rendering can be reused; whether the report
still exists (it may have been deleted through another process) is checked on every read."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable


class RenderCache:
    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_render(self, key: Hashable, render: Callable[[], bytes]) -> bytes:
        """Return the cached bytes for key, rendering (outside the lock) on a miss."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        rendered = render()
        if self.max_entries > 0:
            with self._lock:
                self._entries[key] = rendered
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return rendered

    def forget(self, prefix_id: str) -> None:
        """Drop every rendering of one report (after it is deleted here)."""
        with self._lock:
            for key in [k for k in self._entries if isinstance(k, tuple) and prefix_id in k]:
                del self._entries[key]
