"""Shared state: the replay cache (and, with ``SAML_SESSION_STORE=server``, sessions).

``SAML_STORE_URL`` picks the implementation: ``memory://`` (one process, the
default) or ``redis://`` (several processes or hosts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from ..errors import ConfigError
from .memory import MemoryReplayCache

__all__ = ["MemoryReplayCache", "ReplayCache", "replay_cache_from_url"]


class ReplayCache(Protocol):
    """Remembers one-time keys (assertion IDs, consumed login requests)."""

    def add(self, key: str, expires_at: float) -> bool:
        """Record ``key`` until ``expires_at`` (epoch seconds).

        :returns: ``True`` if the key was new, ``False`` if it was already
            there (a replay). Must be atomic across every process sharing the store.
        :raises StoreUnavailable: when the store cannot be reached (fail closed).
        """
        ...


def replay_cache_from_url(url: str, *, clock: Callable[[], float] = time.time) -> ReplayCache:
    """Build the replay cache named by ``SAML_STORE_URL``.

    :param clock: must be the clock the expiry times are computed with.
    """
    scheme = url.split(":", 1)[0]
    if scheme == "memory":
        return MemoryReplayCache(clock=clock)
    shown = url.split("@")[-1]  # never echo a password
    raise ConfigError([f"SAML_STORE_URL={shown!r}: this version supports memory:// only"])
