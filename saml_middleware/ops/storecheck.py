"""What ``saml-middleware check`` says about ``SAML_STORE_URL``.

* :func:`store_problem` - the readiness probe (PING and a namespaced ``SET NX``/``DEL``), with the
  problem named: unknown option, authentication/ACL, TLS, ``MOVED`` (a cluster node given as
  ``redis://``), read-only replica, unreachable, no master known to the sentinels.
* :func:`store_warnings` - a ``maxmemory-policy`` that may evict replay keys.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..errors import ConfigError
from ..stores.clients import connect
from ..stores.open import open_store
from ..stores.ready import REASONS
from ..stores.urls import parse_store_url

__all__ = ["eviction_warning", "store_problem", "store_warnings"]

_NO_SERVER = ("memory", "python")


def store_problem(settings: Settings) -> str | None:
    """``None`` if the store takes a namespaced write (``memory://`` always does), else why not.

    The message names the URL with its password removed and says what to fix.
    """
    try:
        parsed = parse_store_url(settings.store_url)
        if parsed.scheme in _NO_SERVER:
            return None
        stores = open_store(
            settings.store_url, namespace=settings.sp_entity_id, session_max_age=settings.session_max_age
        )
    except ConfigError as exc:
        return "; ".join(exc.problems)
    result = stores.ready()
    if result.ok:
        return None
    shown = parsed.shown
    if result.reason in ("unreachable", "timeout", "no_master"):
        return (
            f"SAML_STORE_URL={shown}: the store does not answer ({result.reason}: {result.detail}). "
            f"{REASONS[result.reason]}. Start it or fix the host, port and password; with one process, "
            "SAML_STORE_URL=memory:// needs no server"
        )
    return f"SAML_STORE_URL={shown}: {result.reason}: {REASONS[result.reason]} ({result.detail})"


def eviction_warning(policy: str) -> str | None:
    """The warning for a ``maxmemory-policy`` (``None`` for ``noeviction``).

    >>> eviction_warning("noeviction") is None
    True
    >>> "replay" in (eviction_warning("volatile-ttl") or "")
    True
    """
    if policy == "noeviction":
        return None
    return (
        f"the store's maxmemory-policy is {policy}: under memory pressure Redis may evict replay keys "
        "(they have the shortest TTLs) and a replayed SAML response would then be accepted. "
        "Set maxmemory-policy noeviction (a full Redis then refuses writes: logins fail closed with 503)"
    )


def _policies(client: Any) -> list[str]:
    answer = client.config_get("maxmemory-policy")
    if "maxmemory-policy" in answer:
        return [str(answer["maxmemory-policy"])]
    return [
        str(v["maxmemory-policy"]) for v in answer.values() if isinstance(v, dict) and "maxmemory-policy" in v
    ]


def store_warnings(settings: Settings) -> list[str]:
    """Warnings about a store that works: an eviction policy that may drop replay keys.

    Nothing when the server refuses ``CONFIG GET`` (managed services, ACLs): the docs say what to set.
    """
    try:
        parsed = parse_store_url(settings.store_url)
        if parsed.scheme in _NO_SERVER:
            return []
        client = connect(parsed, timeout=0.5)
        policies = sorted(set(_policies(client)))
        client.close()
    except Exception:  # refused CONFIG, unreachable (store_problem reports that), bad URL (likewise)
        return []
    return [w for w in (eviction_warning(p) for p in policies) if w]
