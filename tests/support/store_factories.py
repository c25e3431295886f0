"""``SAML_STORE_URL=python:tests.support.store_factories:...``: stores an app might plug in.

``namespaced`` has a replay cache that can make namespaces (``scoped(namespace)``, as Redis's
does: with connections, each gets its own); ``plain`` has one that cannot (connections share
it, their keys prefixed ``c/{id}|``)."""

from __future__ import annotations

from collections.abc import Callable

from saml_middleware.stores import MemoryReplayCache, MemorySessionStore

__all__ = ["NamespacedReplay", "namespaced", "plain"]


class NamespacedReplay:
    """One in-process cache per namespace; every namespace made from it shares ``spaces``."""

    def __init__(
        self, namespace: str, spaces: dict[str, MemoryReplayCache], clock: Callable[[], float]
    ) -> None:
        self.namespace, self.spaces, self.clock = namespace, spaces, clock
        self.cache = spaces.setdefault(namespace, MemoryReplayCache(clock=clock))

    def add(self, key: str, expires_at: float) -> bool:
        return self.cache.add(key, expires_at)

    def scoped(self, namespace: str) -> NamespacedReplay:
        return NamespacedReplay(namespace, self.spaces, self.clock)


def namespaced(
    *, namespace: str, session_max_age: int, clock: Callable[[], float]
) -> tuple[NamespacedReplay, MemorySessionStore]:
    return NamespacedReplay(namespace, {}, clock), MemorySessionStore(clock=clock)


def plain(
    *, namespace: str, session_max_age: int, clock: Callable[[], float]
) -> tuple[MemoryReplayCache, MemorySessionStore]:
    return MemoryReplayCache(clock=clock), MemorySessionStore(clock=clock)
