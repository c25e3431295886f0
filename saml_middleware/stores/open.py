"""The one store factory: :func:`open_store` turns ``SAML_STORE_URL`` into working stores.

Used by the middleware, ``check`` and every ``sessions`` command, so they all accept the
same URLs (:mod:`saml_middleware.stores.urls`) and reach the same keys.

* Redis in every form (clients.py builds the redis-py client): :mod:`saml_middleware.stores.redis`.
* ``python:module:factory`` - ``factory(namespace=..., session_max_age=..., clock=...)``
  returns ``(replay_cache, session_store)``.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..errors import ConfigError
from .clients import connect, number_option
from .memory import MemoryReplayCache, MemorySessionStore
from .ready import Readiness, always_ready, probe
from .urls import StoreURL, parse_store_url

__all__ = ["READY_DEADLINE", "Stores", "open_missing", "open_store"]

#: Seconds the readiness probe may take.
READY_DEADLINE = 0.5


@dataclass(frozen=True)
class Stores:
    """What :func:`open_store` returns.

    :ivar replay: the :class:`~saml_middleware.stores.ReplayCache`.
    :ivar sessions: the :class:`~saml_middleware.stores.SessionStore` (server sessions).
    :ivar ready: the readiness probe (``/saml/ready``, ``check``).
    :ivar shown: the URL without its password.
    """

    replay: Any
    sessions: Any
    ready: Callable[[], Readiness]
    shown: str


def _python_factory(url: StoreURL) -> Callable[..., tuple[Any, Any]]:
    module_name, name = url.factory.split(":")
    try:
        factory = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError([f"SAML_STORE_URL={url.shown!r}: cannot load the factory: {exc}"]) from None
    if not callable(factory):
        raise ConfigError([f"SAML_STORE_URL={url.shown!r}: {url.factory} is not callable"])
    return factory  # type: ignore[no-any-return]


def open_store(
    url: str, *, namespace: str, session_max_age: int, clock: Callable[[], float] = time.time
) -> Stores:
    """The replay cache, the session store and the readiness probe named by ``url``.

    :param url: ``SAML_STORE_URL`` (every form of :mod:`~saml_middleware.stores.urls`).
    :param namespace: the SP entity ID (with many connections: the connection's own): every key
        carries a Redis Cluster hash tag derived from it.
    :param session_max_age: ``SAML_SESSION_MAX_AGE``, the longest a session lives.
    :param clock: the clock expiry times are computed with.
    :raises ConfigError: a bad URL (shown without its password).

    >>> stores = open_store("memory://", namespace="https://sp.example/saml/metadata", session_max_age=60)
    >>> stores.replay.add("k", 2e9), stores.replay.add("k", 2e9), stores.ready().ok
    (True, False, True)
    """
    parsed = parse_store_url(url)
    if parsed.scheme == "memory":
        return Stores(
            MemoryReplayCache(clock=clock), MemorySessionStore(clock=clock), always_ready, parsed.shown
        )
    if parsed.scheme == "python":
        replay, sessions = _python_factory(parsed)(
            namespace=namespace, session_max_age=session_max_age, clock=clock
        )
        own: Callable[[], Readiness] = getattr(replay, "ready", always_ready)
        return Stores(replay, sessions, own, parsed.shown)
    from .redis import RedisReplayCache, key_prefix
    from .redissessions import RedisSessionStore

    client = connect(parsed)
    wait = (
        int(number_option(parsed, "wait_replicas", int) or 0),
        int(number_option(parsed, "wait_timeout", int) or 500),
    )
    retry = parsed.scheme.endswith("+sentinel")  # a failover: the next connection finds the new master
    replay = RedisReplayCache(client, namespace, clock=clock, where=parsed.shown, retry=retry, wait=wait)
    sessions = RedisSessionStore(
        client, namespace, index_ttl=session_max_age, clock=clock, where=parsed.shown, retry=retry
    )
    probe_client: list[Any] = []

    def ready() -> Readiness:
        if not probe_client:
            probe_client.append(connect(parsed, timeout=READY_DEADLINE))
        return probe(probe_client[0], key_prefix(namespace), parsed.shown)

    return Stores(replay, sessions, ready, parsed.shown)


def open_missing(
    settings: Settings,
    replay: Any,
    session_store: Any,
    *,
    sessions_needed: bool,
    clock: Callable[[], float] = time.time,
) -> tuple[Any, Any, Callable[[], Readiness]]:
    """What a gate was not handed, opened from ``SAML_STORE_URL`` under the SP entity ID:
    ``(replay cache, session store or None, readiness probe)``. An injected replay cache may
    bring its own ``ready``; otherwise an injected store counts as always ready.

    :param sessions_needed: the session kind keeps sessions in the store (server sessions, or
        cookie sessions that may overflow there).
    :raises ConfigError: a bad URL.
    """
    readiness: Callable[[], Readiness] = getattr(replay, "ready", always_ready)
    if replay is None or (session_store is None and sessions_needed):
        opened = open_store(
            settings.store_url,
            namespace=settings.sp_entity_id,
            session_max_age=settings.session_max_age,
            clock=clock,
        )
        replay = replay if replay is not None else opened.replay
        session_store = session_store if session_store is not None else opened.sessions
        readiness = opened.ready
    return replay, session_store, readiness
