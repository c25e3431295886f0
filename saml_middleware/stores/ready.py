"""Readiness: does the store take a write now? (``/saml/ready``, ``saml-middleware check``).

:func:`probe` sends ``PING``, then ``SET <prefix>ready:<random> NX PX`` and ``DEL`` of it: a
namespaced write, so a wrong ACL (key patterns, commands), a read-only replica or the wrong
cluster node shows here and not at the first login. :func:`diagnose` names what went wrong.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from ..masking import redact

__all__ = ["REASONS", "Readiness", "always_ready", "diagnose", "probe"]

#: reason -> what to fix (the ``reason`` of a failed :class:`Readiness`)
REASONS = {
    "auth": "the store refused the credentials or the ACL user may not run SET/DEL on these keys: "
    "fix the user and password in SAML_STORE_URL or the ACL (~saml-middleware:* +@write +ping)",
    "tls": "the TLS handshake failed: rediss:// with the server's CA (ssl_ca_certs=...), "
    "a client certificate for mutual TLS (ssl_certfile=, ssl_keyfile=), or redis:// for a plain port",
    "moved": "this node does not own the keys' slot: the server is a Redis Cluster, "
    "use redis+cluster://HOST:PORT (any node)",
    "read_only": "the server is a read-only replica: point at the master, or use "
    "redis+sentinel://... so the master is found after every failover",
    "unreachable": "nothing answers at that address (host, port, socket path, firewall)",
    "timeout": "the store did not answer within the deadline (overloaded, paused, packets dropped)",
    "no_master": "no sentinel named a master for this service: check the service name, that a "
    "sentinel is reachable, and sentinel_password / sentinel_username (a sentinel refusing them is skipped)",
    "error": "the store answered with an error",
}


@dataclass(frozen=True)
class Readiness:
    """The result of a probe: ``ok``, and when not, a ``reason`` (a key of :data:`REASONS`) and detail."""

    ok: bool
    reason: str = ""
    detail: str = ""

    def as_json(self) -> dict[str, str]:
        if self.ok:
            return {"status": "ready"}
        return {"status": "unavailable", "reason": self.reason}  # the detail (addresses) is logged only


def always_ready() -> Readiness:
    """In-process stores are always ready."""
    return Readiness(True)


def diagnose(exc: BaseException) -> str:
    """The :data:`REASONS` key for an exception raised by redis-py (or the OS)."""
    import redis
    from redis.sentinel import MasterNotFoundError

    text = str(exc)
    name = type(exc).__name__
    if isinstance(exc, MasterNotFoundError):
        return "no_master"
    if isinstance(exc, (redis.AuthenticationError, redis.exceptions.NoPermissionError)) or any(
        word in text for word in ("WRONGPASS", "NOAUTH", "NOPERM", "invalid password", "invalid username")
    ):
        return "auth"
    if "SSL" in text or "ssl" in name.lower() or "certificate" in text.lower() or "handshake" in text.lower():
        return "tls"
    if text.startswith("MOVED") or name == "MovedError" or "CROSSSLOT" in text:
        return "moved"
    if isinstance(exc, redis.ReadOnlyError) or "previous master is now a slave" in text or "READONLY" in text:
        return "read_only"
    if isinstance(exc, redis.TimeoutError) or "Timeout" in name or "timed out" in text:
        return "timeout"
    if isinstance(exc, (redis.ConnectionError, OSError)):
        return "unreachable"
    return "error"


def probe(client: Any, prefix: str, shown: str) -> Readiness:
    """PING, then a namespaced ``SET NX PX`` and ``DEL``, on ``client`` (built with the deadline as
    its socket timeouts). Never raises for a store problem; a failure says why."""
    key = f"{prefix}ready:{secrets.token_hex(8)}"
    try:
        client.ping()
        if not client.set(key, b"1", nx=True, px=5000):
            return Readiness(False, "error", f"{shown}: the probe key already existed")
        client.delete(key)
    except Exception as exc:  # redis-py raises many kinds; each is a reason
        return Readiness(False, diagnose(exc), redact(f"{shown}: {type(exc).__name__}: {exc}"))
    return Readiness(True)
