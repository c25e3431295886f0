"""The one store factory: :func:`open_store` turns ``SAML_STORE_URL`` into working stores.

Used by the middleware, ``check`` and every ``sessions`` command, so they all accept the
same URLs (:mod:`saml_middleware.stores.urls`) and reach the same keys.

* ``redis://``, ``rediss://``, ``unix://`` - one server (``redis.Redis``).
* ``redis+sentinel://`` - the master of a service, found through the sentinels and found
  again after a failover (``redis.sentinel``): a connection to a master that became a
  replica is dropped and the command retried once on the new master.
* ``redis+cluster://`` - any node; the client learns the slot map (``redis.cluster``).
* ``python:module:factory`` - ``factory(namespace=..., session_max_age=..., clock=...)``
  returns ``(replay_cache, session_store)``.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .memory import MemoryReplayCache, MemorySessionStore
from .ready import Readiness, always_ready, probe
from .urls import StoreURL, parse_store_url

__all__ = ["SOCKET_TIMEOUT", "Stores", "client_options", "connect", "open_store"]

#: Seconds to wait for a connection or an answer before failing closed.
SOCKET_TIMEOUT = 2.0
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


def _number(url: StoreURL, name: str, kind: type[float] | type[int]) -> float | int | None:
    text = url.options.get(name)
    if text is None:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError([f"SAML_STORE_URL={url.shown!r}: option {name}={text!r} is not a number"]) from None
    if value < 0:
        raise ConfigError([f"SAML_STORE_URL={url.shown!r}: option {name} must not be negative"])
    return value


def client_options(url: StoreURL, *, timeout: float = SOCKET_TIMEOUT) -> dict[str, Any]:
    """redis-py keyword arguments for ``url``'s data connections (auth, TLS, timeouts).

    :raises ConfigError: an option value of the wrong kind.
    """
    out: dict[str, Any] = {
        "socket_timeout": _number(url, "socket_timeout", float) or timeout,
        "socket_connect_timeout": _number(url, "socket_connect_timeout", float) or timeout,
        "health_check_interval": _number(url, "health_check_interval", int) or 30,
        "username": url.username,
        "password": url.password,
    }
    if "client_name" in url.options:
        out["client_name"] = url.options["client_name"]
    if url.tls:
        out["ssl"] = True
        reqs = url.options.get("ssl_cert_reqs", "required")
        if reqs not in ("none", "optional", "required"):
            raise ConfigError(
                [f"SAML_STORE_URL={url.shown!r}: ssl_cert_reqs must be none, optional or required"]
            )
        out["ssl_cert_reqs"] = reqs
        for name in ("ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile", "ssl_password"):
            if name in url.options:
                out[name] = url.options[name]
        check = url.options.get("ssl_check_hostname", "true" if reqs == "required" else "false")
        out["ssl_check_hostname"] = check.lower() in ("1", "true", "yes")
    return out


def connect(url: str | StoreURL, *, timeout: float = SOCKET_TIMEOUT) -> Any:
    """A lazy redis-py client for a Redis ``SAML_STORE_URL`` (opens no socket yet).

    ``redis.Redis`` for ``redis``/``rediss``/``unix`` and Sentinel (the master, re-discovered),
    ``redis.cluster.RedisCluster`` for a cluster. Commands are not retried by redis-py
    (:mod:`saml_middleware.stores.redis` retries once where that is safe).

    :param timeout: connect and read timeout unless the URL's options say otherwise.
    :raises ConfigError: a URL that is not a Redis one, or a bad option value.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    parsed = url if isinstance(url, StoreURL) else parse_store_url(url)
    options = client_options(parsed, timeout=timeout)
    no_retry = Retry(NoBackoff(), 0)
    if parsed.scheme in ("redis", "rediss"):
        ((host, port),) = parsed.hosts
        return redis.Redis(host=host, port=port, db=parsed.db, retry=no_retry, **options)
    if parsed.scheme == "unix":
        options = {k: v for k, v in options.items() if k not in ("socket_connect_timeout",)}
        return redis.Redis(unix_socket_path=parsed.path, db=parsed.db, retry=no_retry, **options)
    if parsed.scheme.endswith("+sentinel"):
        from redis.sentinel import Sentinel

        sentinel_options = {
            k: v for k, v in options.items() if k not in ("username", "password", "client_name")
        }
        sentinel_options["username"] = parsed.options.get("sentinel_username") or None
        sentinel_options["password"] = parsed.options.get("sentinel_password") or None
        sentinel_options.pop("health_check_interval", None)
        manager = Sentinel(list(parsed.hosts), sentinel_kwargs=sentinel_options, **options)  # type: ignore[no-untyped-call]
        return manager.master_for(parsed.service, db=parsed.db, retry=no_retry)  # type: ignore[no-untyped-call]
    if parsed.scheme.endswith("+cluster"):
        from redis.cluster import ClusterNode, RedisCluster

        nodes = [ClusterNode(host, port) for host, port in parsed.hosts]  # type: ignore[no-untyped-call]
        return RedisCluster(startup_nodes=nodes, retry=Retry(NoBackoff(), 2), **options)
    raise ConfigError([f"SAML_STORE_URL={parsed.shown!r}: not a Redis URL"])


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
    from .redis import RedisReplayCache, RedisSessionStore, key_prefix

    client = connect(parsed)
    wait = (int(_number(parsed, "wait_replicas", int) or 0), int(_number(parsed, "wait_timeout", int) or 500))
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
