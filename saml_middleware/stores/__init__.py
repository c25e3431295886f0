"""Shared state: the replay cache and, with ``SAML_SESSION_STORE=server``, the sessions.

``SAML_STORE_URL`` picks the implementation: ``memory://`` (one process, the
default) or ``redis://`` / ``rediss://`` (several processes or hosts, through
redis-py; Valkey and Redis Cluster speak the same protocol). Each store is a
small :class:`~typing.Protocol`; ``tests/test_stores.py`` runs one suite
against every implementation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from ..errors import ConfigError
from .memory import MemoryReplayCache, MemorySessionStore

__all__ = [
    "MemoryReplayCache",
    "MemorySessionStore",
    "ReplayCache",
    "SessionStore",
    "open_stores",
    "store_scheme",
]


class ReplayCache(Protocol):
    """Remembers one-time keys (assertion IDs, consumed login requests)."""

    def add(self, key: str, expires_at: float) -> bool:
        """Record ``key`` until ``expires_at`` (epoch seconds).

        :returns: ``True`` if the key was new, ``False`` if it was already
            there (a replay). Must be atomic across every process sharing the store.
        :raises StoreUnavailable: when the store cannot be reached (fail closed).
        """
        ...


class SessionStore(Protocol):
    """Server-side session records, keyed by a random session id, indexed by e-mail.

    Records are opaque bytes (the session manager's versioned, compressed
    format: :mod:`saml_middleware.sessions.record`). Every method raises
    :class:`~saml_middleware.errors.StoreUnavailable` when the store cannot be
    reached. One store holds one namespace (an SP entity ID): :meth:`revoke_all`
    never reaches another app's or another connection's sessions.
    """

    def get(self, sid: str) -> bytes | None:
        """The record of a live session, or ``None`` (unknown, expired, deleted)."""
        ...

    def put(self, sid: str, email: str, record: bytes, expires_at: float, *, existing: bool = False) -> bool:
        """Store ``record`` until ``expires_at`` (epoch seconds) and index it under ``email``.

        :param existing: only overwrite a session that still exists (an
            activity update must not bring back a session ended meanwhile).
        :returns: ``False`` when ``existing`` and the session is gone.

        A new session's write also drops the ids of that user's expired sessions
        from the index (work bounded by what expired), so the index of a user
        who signs in every day stays as small as their live sessions.
        """
        ...

    def delete(self, sid: str, email: str) -> None:
        """End one session (logout)."""
        ...

    def revoke(self, email: str) -> int:
        """End every session of ``email`` (compared by :func:`~saml_middleware.user.normalize_email`:
        NFC, ``A-Z`` lower-cased, no other folding); returns how many were live."""
        ...

    def sessions(self, email: str) -> dict[str, bytes]:
        """The live sessions indexed under ``email`` (compared as in :meth:`revoke`), ``{sid: record}``
        (single logout picks the ones whose NameID and SessionIndex match)."""
        ...

    def revoke_all(self) -> int:
        """End every session of this namespace (``sessions revoke --all``); returns how many
        were live. Sessions written while it runs may survive it."""
        ...


def store_scheme(url: str) -> str:
    """The scheme of a ``SAML_STORE_URL``: ``"memory"``, ``"redis"`` or ``"rediss"``.

    :raises ConfigError: for any other scheme (the message never shows a password).
    """
    scheme = url.split(":", 1)[0]
    if scheme not in ("memory", "redis", "rediss"):
        from .redis import safe_url

        raise ConfigError([f"SAML_STORE_URL={safe_url(url)!r}: use memory:// or redis://..."])
    return scheme


def open_stores(
    url: str, *, namespace: str, session_max_age: int, clock: Callable[[], float] = time.time
) -> tuple[ReplayCache, SessionStore]:
    """The replay cache and the session store named by ``SAML_STORE_URL``, sharing one connection pool.

    :param namespace: the SP entity ID (keys of several SPs sharing a Redis never collide).
    :param session_max_age: ``SAML_SESSION_MAX_AGE``, the longest a session lives.
    :param clock: the clock expiry times are computed with.
    """
    if store_scheme(url) == "memory":
        return MemoryReplayCache(clock=clock), MemorySessionStore(clock=clock)
    from .redis import RedisReplayCache, RedisSessionStore, connect

    try:
        client = connect(url)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    return (
        RedisReplayCache(client, namespace, clock=clock),
        RedisSessionStore(client, namespace, index_ttl=session_max_age, clock=clock),
    )
