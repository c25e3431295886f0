"""In-process replay cache: bounded, expiring, thread-safe."""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable

__all__ = ["MemoryReplayCache"]


class MemoryReplayCache:
    """A replay cache for a single process.

    :param max_entries: hard bound on memory; when full, the entries closest
        to expiry are dropped first (they are the least useful to an attacker).
    :param clock: epoch seconds, injectable so tests can freeze time.

    >>> cache = MemoryReplayCache(clock=lambda: 1000.0)
    >>> cache.add("assertion-1", expires_at=1300.0), cache.add("assertion-1", 1300.0)
    (True, False)

    .. warning:: with several worker processes each has its own cache, so a
       response replayed to another worker is not caught: use ``redis://``.
    """

    def __init__(self, max_entries: int = 200_000, clock: Callable[[], float] = time.time) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self._max = max_entries
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def add(self, key: str, expires_at: float) -> bool:
        now = self._clock()
        with self._lock:
            self._prune(now)
            if key in self._expiry:
                return False
            while len(self._expiry) >= self._max:
                _, old = heapq.heappop(self._heap)
                self._expiry.pop(old, None)
            self._expiry[key] = expires_at
            heapq.heappush(self._heap, (expires_at, key))
            return True

    def _prune(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            if self._expiry.get(key, now + 1) <= now:
                del self._expiry[key]
