"""Redis (or Valkey) behind the replay cache and server-side sessions, through redis-py.

Every key of one SP lives under ``saml-middleware:{<sha256(entity ID)[:16]>}:``,
so several apps can share a Redis; the braces are a Redis Cluster hash tag,
which keeps one SP's keys in one slot (multi-key transactions stay legal).

* ``...:replay:<key>`` - ``"1"``, set with ``SET NX PX`` until the key's expiry.
* ``...:session:<sid>`` - the session record (versioned, compressed), expiring with the session.
* ``...:user-sessions:<sha256(normalize_email(e-mail))[:32]>`` - a sorted set of that user's
  session ids scored by the latest moment each can live (its creation + the max age), for
  revocation; a new session's write drops the expired ones (``ZREMRANGEBYSCORE``).
* ``...:user:<same digest>`` - the plain set earlier versions kept instead; still read and
  cleaned until it expires by itself.

Every key name is built by :func:`key_prefix` and the ``_*_key`` methods below (one place
to change the layout, such as a hash tag per connection).

Expiry times are sent as durations (``PX``) computed with the injected clock,
so a clock difference between the app hosts and the Redis host does not matter.
Every Redis error becomes :class:`~saml_middleware.errors.StoreUnavailable`:
the callers fail closed. Commands are not retried (a retried ``SET NX`` whose
first attempt did land would look like a replay); the connection pool
reconnects on the next command once Redis is back.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import chain

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..errors import StoreUnavailable
from ..masking import redact
from ..user import normalize_email

__all__ = ["RedisReplayCache", "RedisSessionStore", "connect", "key_prefix", "safe_url"]

#: Seconds to wait for a connection or an answer before failing closed.
SOCKET_TIMEOUT = 2.0


def safe_url(url: str) -> str:
    """``url`` with its password masked, for messages and logs (:func:`~saml_middleware.masking.redact`).

    >>> safe_url("redis://:s3cret@cache:6379/0")
    'redis://:***@cache:6379/0'
    """
    return redact(url)


def connect(url: str) -> redis.Redis:
    """A client for ``redis://`` / ``rediss://`` (TLS) URLs; lazy, opens no socket yet.

    Timeouts default to :data:`SOCKET_TIMEOUT`; URL query options such as
    ``?socket_timeout=5`` override them.
    """
    try:
        return redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=30,
        )
    except ValueError as exc:
        raise ValueError(f"SAML_STORE_URL={safe_url(url)!r}: {redact(str(exc))}") from None


def key_prefix(namespace: str) -> str:
    """The key prefix of the SP with entity ID ``namespace``."""
    digest = hashlib.sha256(namespace.encode("utf-8")).hexdigest()[:16]
    return f"saml-middleware:{{{digest}}}:"


@contextmanager
def _failing_closed(client: redis.Redis, what: str) -> Iterator[None]:
    try:
        yield
    except redis.RedisError as exc:
        kwargs = client.connection_pool.connection_kwargs
        where = f"{kwargs.get('host', kwargs.get('path', '?'))}:{kwargs.get('port', '')}"
        raise StoreUnavailable(f"redis {where}: {what}: {type(exc).__name__}: {exc}") from None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _ms_until(expires_at: float, now: float) -> int:
    return max(1, int((expires_at - now) * 1000))


class RedisReplayCache:
    """A :class:`~saml_middleware.stores.ReplayCache` shared by every process using one Redis.

    :param client: from :func:`connect`.
    :param namespace: the SP entity ID; keys of other SPs never collide.
    :param clock: epoch seconds, the clock ``expires_at`` values are computed with.
    """

    def __init__(
        self, client: redis.Redis, namespace: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.client = client
        self.prefix = key_prefix(namespace) + "replay:"
        self.clock = clock

    def add(self, key: str, expires_at: float) -> bool:
        with _failing_closed(self.client, "recording a one-time key"):
            done = self.client.set(self.prefix + key, b"1", nx=True, px=_ms_until(expires_at, self.clock()))
        return bool(done)


class RedisSessionStore:
    """A :class:`~saml_middleware.stores.SessionStore` in Redis.

    :param client: from :func:`connect`.
    :param namespace: the SP entity ID.
    :param index_ttl: seconds a user's index of sessions outlives its latest
        write; at least the longest session (``SAML_SESSION_MAX_AGE``).
    :param clock: epoch seconds.
    """

    #: keys deleted per command by :meth:`revoke_all`
    BATCH = 500

    def __init__(
        self,
        client: redis.Redis,
        namespace: str,
        *,
        index_ttl: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
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
        with _failing_closed(self.client, "reading a session"):
            value = self.client.get(self._session_key(sid))
        return None if value is None else _bytes(value)

    def put(self, sid: str, email: str, record: bytes, expires_at: float, *, existing: bool = False) -> bool:
        now = self.clock()
        ttl = _ms_until(expires_at, now)
        with _failing_closed(self.client, "writing a session"):
            if existing:
                return bool(self.client.set(self._session_key(sid), record, px=ttl, xx=True))
            index = self._index_key(email)
            pipe = self.client.pipeline(transaction=True)
            pipe.set(self._session_key(sid), record, px=ttl)
            # scored by the latest moment the session can live: an activity update never
            # pushes a session past its creation + the max age
            pipe.zadd(index, {sid: now + max(self.index_ttl, ttl / 1000)})
            pipe.zremrangebyscore(index, "-inf", now)  # the expired ones: bounded by what expired
            pipe.expire(index, max(self.index_ttl, ttl // 1000 + 1))
            pipe.execute()
        return True

    def delete(self, sid: str, email: str) -> None:
        with _failing_closed(self.client, "deleting a session"):
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(self._session_key(sid))
            pipe.zrem(self._index_key(email), sid)
            pipe.srem(self._user_key(email), sid)
            pipe.execute()

    def _indexed(self, email: str) -> list[str]:
        pipe = self.client.pipeline(transaction=False)
        pipe.zrange(self._index_key(email), 0, -1)  # the session keys' own expiry decides what is live
        pipe.smembers(self._user_key(email))
        current, legacy = pipe.execute()
        return sorted({_text(s) for s in current} | {_text(s) for s in legacy})

    def sessions(self, email: str) -> dict[str, bytes]:
        with _failing_closed(self.client, "listing sessions"):
            sids = self._indexed(email)
            records = self.client.mget([self._session_key(s) for s in sids]) if sids else []
        return {sid: _bytes(r) for sid, r in zip(sids, records, strict=False) if r is not None}  # type: ignore[union-attr]

    def revoke(self, email: str) -> int:
        with _failing_closed(self.client, "revoking sessions"):
            sids = self._indexed(email)
            if not sids:
                return 0
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(*(self._session_key(s) for s in sids))
            pipe.zrem(self._index_key(email), *sids)
            pipe.srem(self._user_key(email), *sids)
            deleted, _, _ = pipe.execute()
        return int(deleted)

    def revoke_all(self) -> int:
        """``SCAN`` for this namespace's session and index keys (never its replay keys) and delete
        them in batches of :attr:`BATCH`: the cost grows with the database, not with one command."""
        deleted = 0
        with _failing_closed(self.client, "revoking every session"):
            for kind in ("session:", "user-sessions:", "user:"):
                keys = self.client.scan_iter(match=_glob(self.prefix + kind) + "*", count=self.BATCH)
                batch: list[bytes] = []
                for key in chain(keys, [None]):  # None: the last, partial batch
                    if key is not None:
                        batch.append(key)
                    if batch and (key is None or len(batch) >= self.BATCH):
                        gone = int(self.client.delete(*batch))  # type: ignore[arg-type]
                        deleted += gone if kind == "session:" else 0
                        batch = []
        return deleted


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _glob(text: str) -> str:
    """``text`` as a literal in a Redis ``MATCH`` pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
