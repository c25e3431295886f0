"""Shared state: the replay cache and, with ``SAML_SESSION_STORE=server``, the sessions.

``SAML_STORE_URL`` picks the implementation: ``memory://`` (one process, the
default), ``redis://``, ``rediss://``, ``unix://``, ``redis+sentinel://``, ``redis+cluster://``
(several processes or hosts, through redis-py; Valkey speaks the same protocol) or
``python:module:factory`` (urls.py parses, open.py opens: the one factory). Each store is a
small :class:`~typing.Protocol`; ``tests/test_stores.py`` runs one suite
against every implementation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from .memory import MemoryReplayCache, MemorySessionStore
from .open import Stores, open_store
from .ready import Readiness
from .urls import StoreURL, parse_store_url

__all__ = [
    "MemoryReplayCache",
    "MemorySessionStore",
    "Readiness",
    "ReplayCache",
    "SessionStore",
    "StoreURL",
    "Stores",
    "open_store",
    "open_stores",
    "parse_store_url",
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

    def revoke_all(self, sid_prefix: str = "") -> int:
        """End every session of this namespace (``sessions revoke --all``), or only those whose
        id starts with ``sid_prefix`` (a connection's ``"acme."``: ``--connection acme``); returns
        how many were live. Sessions written while it runs may survive it."""
        ...


def store_scheme(url: str) -> str:
    """The scheme of a ``SAML_STORE_URL``: ``"memory"``, ``"redis"``, ``"rediss"``, ``"unix"``,
    ``"redis+sentinel"``, ``"redis+cluster"`` (``rediss+...`` with TLS) or ``"python"``.

    :raises ConfigError: an unknown scheme or option, a bad host or port (never shows a password).

    >>> store_scheme("redis+cluster://node1:7000,node2:7001")
    'redis+cluster'
    """
    return parse_store_url(url).scheme


def open_stores(
    url: str, *, namespace: str, session_max_age: int, clock: Callable[[], float] = time.time
) -> tuple[ReplayCache, SessionStore]:
    """The replay cache and the session store named by ``SAML_STORE_URL``, sharing one connection pool
    (:func:`~saml_middleware.stores.open.open_store` also gives the readiness probe).

    :param namespace: the SP entity ID, or a connection's (keys of several SPs sharing a Redis never
        collide, and each namespace has its own Redis Cluster hash tag).
    :param session_max_age: ``SAML_SESSION_MAX_AGE``, the longest a session lives.
    :param clock: the clock expiry times are computed with.
    :raises ConfigError: a bad URL.
    """
    stores = open_store(url, namespace=namespace, session_max_age=session_max_age, clock=clock)
    return stores.replay, stores.sessions
