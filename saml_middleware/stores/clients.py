"""redis-py clients for a parsed ``SAML_STORE_URL``: :func:`connect` (used by open.py and ``check``).

* ``redis://``, ``rediss://``, ``unix://`` - one server (``redis.Redis``).
* ``redis+sentinel://`` - the master of a service, found through the sentinels and found
  again after a failover (``redis.sentinel``): a connection to a master that became a
  replica is dropped (redis-py raises ``ConnectionError``) and the store retries once.
* ``redis+cluster://`` - any node; the client learns the slot map (``redis.cluster``).
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .urls import StoreURL, parse_store_url

__all__ = ["SOCKET_TIMEOUT", "client_options", "connect", "number_option"]

#: Seconds to wait for a connection or an answer before failing closed.
SOCKET_TIMEOUT = 2.0


def number_option(url: StoreURL, name: str, kind: type[float] | type[int]) -> float | int | None:
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
        "socket_timeout": number_option(url, "socket_timeout", float) or timeout,
        "socket_connect_timeout": number_option(url, "socket_connect_timeout", float) or timeout,
        "health_check_interval": number_option(url, "health_check_interval", int) or 30,
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
