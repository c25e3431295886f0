"""Redis (or Valkey) behind the replay cache and server-side sessions, through redis-py.

Every key of one namespace (the SP entity ID; with many connections, each connection's) lives
under ``saml-middleware:{<sha256(namespace)[:16]>}:``. The braces are a Redis Cluster hash
tag: one namespace's keys share one slot (its multi-key transactions stay legal, no
``CROSSSLOT``), and different namespaces spread over the slots.

* ``...:replay:<key>`` - a random token, set with ``SET NX PX`` until the key's expiry.
* ``...:session:<sid>`` - the session record (versioned, compressed), expiring with the session.
  With connections the sid starts with the connection id and a dot (``acme.``).
* ``...:user-sessions:<sha256(normalize_email(e-mail))[:32]>`` - a sorted set of that user's
  session ids scored by the latest moment each can live (its creation + the max age), for
  revocation; a new session's write drops the expired ones (``ZREMRANGEBYSCORE``).
* ``...:user:<same digest>`` - the plain set earlier versions kept instead; still read and
  cleaned until it expires by itself.

Every key name is built by :func:`key_prefix` and the ``_*_key`` methods of the stores
(sessions: :mod:`saml_middleware.stores.redissessions`).

Expiry times are sent as durations (``PX``) computed with the injected clock,
so a clock difference between the app hosts and the Redis host does not matter.
Every Redis error becomes :class:`~saml_middleware.errors.StoreUnavailable`:
the callers fail closed.

**Retries.** A command that failed on the connection (a failover, a master turned replica:
redis-py's Sentinel client then drops the connection) is retried once, on a fresh
connection. A retried replay write is safe: its value is a random token, so when the retry
finds the key, the token tells "my first attempt landed" from "someone else recorded it" (a
replay); it is never counted twice and never lost.

**Replicas.** With ``wait_replicas=N`` in the URL, each recorded replay key is followed by
``WAIT N wait_timeout`` on the same connection; fewer acknowledgements fail closed (503), so
a failover cannot lose a key that let a login in.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import redis

from ..errors import StoreUnavailable
from ..masking import redact

__all__ = ["RedisReplayCache", "connect", "key_prefix", "safe_url"]

T = TypeVar("T")


def safe_url(url: str) -> str:
    """``url`` with its password masked, for messages and logs (:func:`~saml_middleware.masking.redact`).

    >>> safe_url("redis://:s3cret@cache:6379/0")
    'redis://:***@cache:6379/0'
    >>> safe_url("redis://:pa/ss?w#d@cache:6379/0")
    'redis://:***@cache:6379/0'
    """
    return redact(url)


def connect(url: str) -> Any:
    """A lazy client for any Redis ``SAML_STORE_URL`` (:func:`saml_middleware.stores.clients.connect`).

    :raises ValueError: a bad URL (the message never shows the password).
    """
    from ..errors import ConfigError
    from .clients import connect as open_connect

    try:
        return open_connect(url)
    except ConfigError as exc:
        raise ValueError("; ".join(exc.problems)) from None


def key_prefix(namespace: str) -> str:
    """The key prefix of the namespace (SP or connection entity ID), hash tag included.

    >>> key_prefix("https://sp.example/saml/metadata")
    'saml-middleware:{4609cd8cfad6aa35}:'
    """
    digest = hashlib.sha256(namespace.encode("utf-8")).hexdigest()[:16]
    return f"saml-middleware:{{{digest}}}:"


def _where(client: Any) -> str:
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", {})
    host = kwargs.get("host", kwargs.get("path", "cluster" if pool is None else "?"))
    return f"{host}:{kwargs.get('port', '')}"


class _Link:
    """One client, how to name it in errors, and the retry rule."""

    def __init__(self, client: Any, where: str | None, retry: bool) -> None:
        self.client = client
        self.where = where or _where(client)
        self.retry = retry

    @contextmanager
    def failing_closed(self, what: str) -> Iterator[None]:
        try:
            yield
        except (redis.RedisError, OSError, TypeError, ValueError) as exc:
            # TypeError/ValueError: a client misconfigured past validation; never a "malformed" response
            raise StoreUnavailable(
                redact(f"redis {self.where}: {what}: {type(exc).__name__}: {exc}")
            ) from None

    def run(self, what: str, call: Callable[[], T]) -> T:
        """``call()``, retried once after a connection failure when the link retries."""
        with self.failing_closed(what):
            try:
                return call()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if isinstance(exc, redis.TimeoutError) and not self.retry:
                    raise  # the same server again: twice the wait for nothing
            return call()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _ms_until(expires_at: float, now: float) -> int:
    return max(1, int((expires_at - now) * 1000))


class RedisReplayCache:
    """A :class:`~saml_middleware.stores.ReplayCache` shared by every process using one Redis.

    :param client: from :func:`connect`.
    :param namespace: the SP entity ID; keys of other SPs never collide.
    :param clock: epoch seconds, the clock ``expires_at`` values are computed with.
    :param where: how errors name the store (the URL without password).
    :param retry: retry once after a connection failure even when it was a time-out (Sentinel);
        a refused or dropped connection is always retried once.
    :param wait: ``(replicas, timeout_ms)``: ``WAIT`` after each new key (``replicas == 0``: no wait).
    :param token: randomness for the value of each key.
    """

    def __init__(
        self,
        client: Any,
        namespace: str,
        *,
        clock: Callable[[], float] = time.time,
        where: str | None = None,
        retry: bool = False,
        wait: tuple[int, int] = (0, 500),
        token: Callable[[int], str] = secrets.token_hex,
    ) -> None:
        self.client = client
        self.link = _Link(client, where, retry)
        self.prefix = key_prefix(namespace) + "replay:"
        self.clock = clock
        self.wait = wait
        self.token = token

    def scoped(self, namespace: str) -> RedisReplayCache:
        """The replay cache of another namespace (a connection's) on this one's client.

        Its keys carry their own hash tag (on a Redis Cluster, another slot); the client, its
        connection pool, the retry and ``WAIT`` rules are shared: 10,000 connections, one pool.
        """
        twin = copy.copy(self)
        twin.prefix = key_prefix(namespace) + "replay:"
        return twin

    def add(self, key: str, expires_at: float) -> bool:
        full, mine = self.prefix + key, self.token(16).encode()
        ttl = _ms_until(expires_at, self.clock())
        with self.link.failing_closed("recording a one-time key"):
            try:
                return self._first(full, mine, ttl)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if isinstance(exc, redis.TimeoutError) and not self.link.retry:
                    raise
            # the first SET may or may not have landed: its token tells
            if self._first(full, mine, ttl):
                return True
            if self.client.get(full) != mine:
                return False  # someone else's: a replay
            self._replicated(self.client.pipeline(transaction=False).set(full, mine, xx=True, keepttl=True))
            return True

    def _first(self, full: str, mine: bytes, ttl: int) -> bool:
        pipe = self.client.pipeline(transaction=False)
        pipe.set(full, mine, nx=True, px=ttl)
        if not self.wait[0]:
            return bool(pipe.execute()[0])
        return self._replicated(pipe)

    def _replicated(self, pipe: Any) -> bool:
        """Run ``pipe`` (a write) then ``WAIT`` on its connection; fail closed on too few replicas."""
        replicas, timeout = self.wait
        if not replicas:
            return bool(pipe.execute()[0])
        pipe.execute_command("WAIT", replicas, timeout)
        written, acked = pipe.execute()
        if written and int(acked) < replicas:
            raise redis.ConnectionError(
                f"WAIT: {acked} of {replicas} replicas acknowledged within {timeout} ms"
            )
        return bool(written)
