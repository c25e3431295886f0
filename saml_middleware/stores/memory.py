"""In-process stores: the replay cache (bounded, expiring) and server-side sessions; thread-safe."""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable

__all__ = ["MemoryReplayCache", "MemorySessionStore"]


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


class MemorySessionStore:
    """Server-side sessions for a single process (``SAML_SESSION_STORE=server`` with ``memory://``).

    :param clock: epoch seconds.

    >>> store = MemorySessionStore(clock=lambda: 1000.0)
    >>> store.put("sid-1", "a@example.com", '{"u": {}}', expires_at=2000.0)
    True
    >>> store.get("sid-1"), store.revoke("A@example.com"), store.get("sid-1")
    ('{"u": {}}', 1, None)

    .. warning:: sessions die with the process and are not seen by other
       workers: use ``redis://`` as soon as there is more than one.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._records: dict[str, tuple[str, str, float]] = {}  # sid -> (email, record, expires_at)
        self._index: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._writes = 0

    def __len__(self) -> int:
        return len(self._records)

    def get(self, sid: str) -> str | None:
        found = self._records.get(sid)
        if found is None or found[2] <= self._clock():
            return None
        return found[1]

    def put(self, sid: str, email: str, record: str, expires_at: float, *, existing: bool = False) -> bool:
        key = email.lower()
        with self._lock:
            if existing and self.get(sid) is None:
                return False
            self._records[sid] = (key, record, expires_at)
            self._index.setdefault(key, set()).add(sid)
            self._writes += 1
            if self._writes % 1024 == 0:
                self._prune(self._clock())
        return True

    def delete(self, sid: str, email: str) -> None:
        with self._lock:
            self._forget(sid)

    def revoke(self, email: str) -> int:
        now = self._clock()
        with self._lock:
            sids = self._index.pop(email.lower(), set())
            live = sum(1 for s in sids if s in self._records and self._records[s][2] > now)
            for sid in sids:
                self._records.pop(sid, None)
        return live

    def _forget(self, sid: str) -> None:
        found = self._records.pop(sid, None)
        if found is not None:
            sids = self._index.get(found[0])
            if sids is not None:
                sids.discard(sid)
                if not sids:
                    del self._index[found[0]]

    def _prune(self, now: float) -> None:
        for sid in [s for s, (_, _, exp) in self._records.items() if exp <= now]:
            self._forget(sid)
