"""In-process stores: the replay cache (bounded, expiring) and server-side sessions; thread-safe."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from ..user import normalize_email

__all__ = ["MemoryReplayCache", "MemorySessionStore"]


class MemoryReplayCache:
    """A replay cache for a single process.

    :param max_entries: hard bound on memory; when full, the entries closest
        to expiry are dropped first (they are the least useful to an attacker).
    :param clock: epoch seconds, injectable so tests can freeze time.

    >>> cache = MemoryReplayCache(clock=lambda: 1000.0)
    >>> cache.add("assertion-1", expires_at=1300.0), cache.add("assertion-1", 1300.0)
    (True, False)

    Keys are kept as 16-byte digests, and expiry is tracked in one-minute
    buckets of plain lists (about 130 bytes per entry in all, so the default
    bound costs under 30 MB).

    .. warning:: with several worker processes each has its own cache, so a
       response replayed to another worker is not caught: use ``redis://``.
    """

    BUCKET = 60.0

    def __init__(self, max_entries: int = 200_000, clock: Callable[[], float] = time.time) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self._max = max_entries
        self._clock = clock
        self._expiry: dict[bytes, float] = {}
        self._buckets: dict[int, list[bytes]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def add(self, key: str, expires_at: float) -> bool:
        now = self._clock()
        digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
        with self._lock:
            self._prune(now)
            seen = self._expiry.get(digest)
            if seen is not None and seen > now:
                return False
            while len(self._expiry) >= self._max and self._buckets:
                self._drop(min(self._buckets), lambda _: True)
            self._expiry[digest] = expires_at
            self._buckets.setdefault(int(expires_at // self.BUCKET), []).append(digest)
            return True

    def _prune(self, now: float) -> None:
        done = int(now // self.BUCKET)
        for index in [i for i in self._buckets if i < done]:
            self._drop(index, lambda digest: self._expiry[digest] <= now)

    def _drop(self, index: int, expired: Callable[[bytes], bool]) -> None:
        for digest in self._buckets.pop(index):
            if digest in self._expiry and expired(digest):
                del self._expiry[digest]


class MemorySessionStore:
    """Server-side sessions for a single process (``SAML_SESSION_STORE=server`` with ``memory://``).

    :param clock: epoch seconds.

    >>> store = MemorySessionStore(clock=lambda: 1000.0)
    >>> store.put("sid-1", "a@example.com", b"record", expires_at=2000.0)
    True
    >>> store.get("sid-1"), store.revoke("A@example.com"), store.get("sid-1")
    (b'record', 1, None)

    .. warning:: sessions die with the process and are not seen by other
       workers: use ``redis://`` as soon as there is more than one.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._records: dict[str, tuple[str, bytes, float]] = {}  # sid -> (email, record, expires_at)
        self._index: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._writes = 0

    def __len__(self) -> int:
        return len(self._records)

    def index_size(self, email: str) -> int:
        """How many session ids are indexed under ``email``, live or not (for tests and metrics)."""
        return len(self._index.get(normalize_email(email), ()))

    def get(self, sid: str) -> bytes | None:
        found = self._records.get(sid)
        if found is None or found[2] <= self._clock():
            return None
        return found[1]

    def put(self, sid: str, email: str, record: bytes, expires_at: float, *, existing: bool = False) -> bool:
        key = normalize_email(email)
        with self._lock:
            now = self._clock()
            if existing and self.get(sid) is None:
                return False
            sids = self._index.setdefault(key, set())
            if not existing:  # a new session: this user's expired ones leave the index (and memory)
                for old in [s for s in sids if s not in self._records or self._records[s][2] <= now]:
                    sids.discard(old)
                    self._records.pop(old, None)
            self._records[sid] = (key, record, expires_at)
            sids.add(sid)
            self._writes += 1
            if self._writes % 1024 == 0:
                self._prune(now)
        return True

    def delete(self, sid: str, email: str) -> None:
        with self._lock:
            self._forget(sid)

    def revoke(self, email: str) -> int:
        now = self._clock()
        with self._lock:
            sids = self._index.pop(normalize_email(email), set())
            live = sum(1 for s in sids if s in self._records and self._records[s][2] > now)
            for sid in sids:
                self._records.pop(sid, None)
        return live

    def revoke_all(self, sid_prefix: str = "") -> int:
        now = self._clock()
        with self._lock:
            ended = [sid for sid in self._records if sid.startswith(sid_prefix)]
            live = sum(1 for sid in ended if self._records[sid][2] > now)
            for sid in ended:
                self._forget(sid)
        return live

    def sessions(self, email: str) -> dict[str, bytes]:
        now = self._clock()
        with self._lock:
            live = [(s, self._records.get(s)) for s in self._index.get(normalize_email(email), ())]
            return {sid: found[1] for sid, found in live if found is not None and found[2] > now}

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
