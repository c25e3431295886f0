"""Server-side sessions in Redis (or Valkey): :class:`RedisSessionStore`.

Keys, retries and failing closed as for the replay cache (:mod:`saml_middleware.stores.redis`,
which documents the key layout).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from itertools import chain
from typing import Any

from ..user import normalize_email
from .redis import _Link, _ms_until, _text, key_prefix

__all__ = ["RedisSessionStore"]


class RedisSessionStore:
    """A :class:`~saml_middleware.stores.SessionStore` in Redis.

    :param client: from :func:`connect`.
    :param namespace: the SP entity ID.
    :param index_ttl: seconds a user's index of sessions outlives its latest
        write; at least the longest session (``SAML_SESSION_MAX_AGE``).
    :param clock: epoch seconds.
    :param where: how errors name the store (the URL without password).
    :param retry: as for :class:`RedisReplayCache` (every operation here is idempotent).
    """

    #: keys deleted per command by :meth:`revoke_all`
    BATCH = 500

    def __init__(
        self,
        client: Any,
        namespace: str,
        *,
        index_ttl: int,
        clock: Callable[[], float] = time.time,
        where: str | None = None,
        retry: bool = True,
    ) -> None:
        self.client = client
        self.link = _Link(client, where, retry)
        self.prefix = key_prefix(namespace)
        self.index_ttl = index_ttl
        self.clock = clock

    def _session_key(self, sid: str) -> str:
        return f"{self.prefix}session:{sid}"

    def _digest(self, email: str) -> str:
        return hashlib.sha256(normalize_email(email).encode("utf-8")).hexdigest()[:32]

    def _index_key(self, email: str) -> str:
        return f"{self.prefix}user-sessions:{self._digest(email)}"

    def _user_key(self, email: str) -> str:
        """The index of earlier versions (a plain set); read and cleaned, never written."""
        return f"{self.prefix}user:{self._digest(email)}"

    def get(self, sid: str) -> bytes | None:
        value = self.link.run("reading a session", lambda: self.client.get(self._session_key(sid)))
        return None if value is None else _bytes(value)

    def put(self, sid: str, email: str, record: bytes, expires_at: float, *, existing: bool = False) -> bool:
        now = self.clock()
        ttl = _ms_until(expires_at, now)
        if existing:
            return bool(
                self.link.run(
                    "writing a session",
                    lambda: self.client.set(self._session_key(sid), record, px=ttl, xx=True),
                )
            )
        index = self._index_key(email)

        def write() -> None:
            pipe = self.client.pipeline(transaction=True)
            pipe.set(self._session_key(sid), record, px=ttl)
            # scored by the latest moment the session can live: an activity update never
            # pushes a session past its creation + the max age
            pipe.zadd(index, {sid: now + max(self.index_ttl, ttl / 1000)})
            pipe.zremrangebyscore(index, "-inf", now)  # the expired ones: bounded by what expired
            pipe.expire(index, max(self.index_ttl, ttl // 1000 + 1))
            pipe.execute()

        self.link.run("writing a session", write)
        return True

    def delete(self, sid: str, email: str) -> None:
        def remove() -> None:
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(self._session_key(sid))
            pipe.zrem(self._index_key(email), sid)
            pipe.srem(self._user_key(email), sid)
            pipe.execute()

        self.link.run("deleting a session", remove)

    def _indexed(self, email: str) -> list[str]:
        pipe = self.client.pipeline(transaction=False)
        pipe.zrange(self._index_key(email), 0, -1)  # the session keys' own expiry decides what is live
        pipe.smembers(self._user_key(email))
        current, legacy = pipe.execute()
        return sorted({_text(s) for s in current} | {_text(s) for s in legacy})

    def sessions(self, email: str) -> dict[str, bytes]:
        def read() -> dict[str, bytes]:
            sids = self._indexed(email)
            records = self.client.mget([self._session_key(s) for s in sids]) if sids else []
            return {sid: _bytes(r) for sid, r in zip(sids, records, strict=False) if r is not None}

        return self.link.run("listing sessions", read)

    def revoke(self, email: str) -> int:
        def end() -> int:
            sids = self._indexed(email)
            if not sids:
                return 0
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(*(self._session_key(s) for s in sids))
            pipe.zrem(self._index_key(email), *sids)
            pipe.srem(self._user_key(email), *sids)
            deleted, _, _ = pipe.execute()
            return int(deleted)

        return self.link.run("revoking sessions", end)

    def revoke_all(self, sid_prefix: str = "") -> int:
        """``SCAN`` for this namespace's session and index keys (never its replay keys) and delete
        them in batches of :attr:`BATCH`: the cost grows with the database, not with one command.
        With ``sid_prefix`` (a connection's ``"acme."``) only those sessions; their index entries
        point at nothing from then on and expire with the index."""
        kinds = ("session:",) if sid_prefix else ("session:", "user-sessions:", "user:")

        def end() -> int:
            deleted = 0
            for kind in kinds:
                pattern = _glob(self.prefix + kind + (sid_prefix if kind == "session:" else "")) + "*"
                batch: list[Any] = []
                for key in chain(self.client.scan_iter(match=pattern, count=self.BATCH), [None]):
                    if key is not None:
                        batch.append(key)
                    if batch and (key is None or len(batch) >= self.BATCH):  # None: the last batch
                        gone = int(self.client.delete(*batch))
                        deleted += gone if kind == "session:" else 0
                        batch = []
            return deleted

        return self.link.run("revoking every session", end)


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _glob(text: str) -> str:
    """``text`` as a literal in a Redis ``MATCH`` pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
