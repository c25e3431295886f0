"""Opening the registry ``SAML_CONNECTIONS`` names, and the refreshing lookup the gate asks.

======================================  ===============================================
``sqlite:///var/lib/app/connections.db``  embedded SQL registry (:class:`~.sql.SQLRegistry`)
``postgresql://user:pw@db/app``           the same in PostgreSQL, shared by every instance
(any other SQLAlchemy URL)                the same in that database
``file:/etc/app/connections.json``        read-only JSON kept in git (:class:`~.file.FileRegistry`)
``python:myapp.sso:connections``          the app's own code (:class:`~.python.PythonRegistry`)
``memory:``                               in this process only (tests, examples)
======================================  ===============================================

:class:`RefreshingLookup` answers every routing question from an in-memory
:class:`~.index.ConnectionIndex` (O(1)); at most once per ``refresh`` seconds one caller
asks the registry for its ``version()`` and rebuilds the index only when it changed. Others
never wait for that check: they use the index they have. A registry that fails keeps the
last good index, logged once until it recovers.

>>> from .model import Connection
>>> registry = open_registry("memory:")
>>> now = [0.0]
>>> lookup = RefreshingLookup(registry, 5, clock=lambda: now[0])
>>> registry.put(Connection("acme", domains=("acme.com",)))
>>> lookup.by_domain("acme.com") is None  # checked again 5 seconds after the last check
True
>>> now[0] = 5.0
>>> lookup.by_email("alice@acme.com").id
'acme'
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..config import Settings
from ..errors import ConfigError
from ..masking import redact
from .index import ConnectionIndex
from .model import Connection
from .registry import ConnectionRegistry, MemoryRegistry

__all__ = ["RefreshingLookup", "open_lookup", "open_registry"]

log = logging.getLogger("saml_middleware.connections")


def open_registry(url: str) -> ConnectionRegistry:
    """The registry ``url`` names (the value of ``SAML_CONNECTIONS``).

    :raises ConfigError: an unknown kind, or a registry that cannot be opened (the message
        shows the URL with its password masked).
    :raises RegistryUnavailable: the database cannot be reached.
    """
    scheme, sep, rest = url.partition(":")
    if not sep:
        raise ConfigError(
            [
                "SAML_CONNECTIONS: expected sqlite:///PATH, postgresql://..., "
                "file:PATH or python:module:function"
            ]
        )
    if scheme == "memory":
        return MemoryRegistry()
    if scheme == "file":
        from .file import FileRegistry

        return FileRegistry(rest)
    if scheme == "python":
        from .python import PythonRegistry

        return PythonRegistry(rest)
    if not rest.startswith("//"):
        raise ConfigError(
            [
                f"SAML_CONNECTIONS: unknown kind {scheme!r}; expected sqlite:///PATH, "
                "a SQLAlchemy URL (postgresql://...), file:PATH or python:module:function"
            ]
        )
    from .sql import SQLRegistry

    return SQLRegistry(url)


class RefreshingLookup:
    """A :class:`~.index.ConnectionLookup` kept up to date with a registry.

    :param registry: where connections live.
    :param refresh_seconds: a change in the registry is seen within this many seconds.
    :param clock: monotonic seconds (injected in tests).
    :raises ConfigError: the first read fails (there is no last good index to keep).
    """

    def __init__(
        self,
        registry: ConnectionRegistry,
        refresh_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if refresh_seconds <= 0:
            raise ConfigError(["SAML_CONNECTIONS_REFRESH must be a positive number of seconds"])
        self.registry = registry
        self._refresh = refresh_seconds
        self._clock = clock
        self._checking = threading.Lock()
        self._failing = False
        version = registry.version()
        self._index = ConnectionIndex(registry.all())
        self._version = version
        self._next_check = clock() + refresh_seconds

    def _current(self) -> ConnectionIndex:
        if self._clock() >= self._next_check:
            self.refresh(wait=False)
        return self._index

    def refresh(self, *, wait: bool = True) -> bool:
        """Check the registry now (after a write in this process); ``True`` if the index changed.

        :param wait: wait for a check another thread is making (``False``: skip instead).
        """
        if not self._checking.acquire(blocking=wait):
            return False
        try:
            self._next_check = self._clock() + self._refresh
            version = self.registry.version()
            if version == self._version:
                changed = False
            else:
                self._index = ConnectionIndex(self.registry.all())
                self._version = version
                changed = True
            if self._failing:
                log.warning("connections registry %s is readable again", self._name())
                self._failing = False
            return changed
        except Exception as exc:  # keep serving the last good index
            if not self._failing:
                log.error(
                    "connections registry %s failed; keeping the last %d connections read: %s",
                    self._name(),
                    len(self._index),
                    redact(str(exc)),
                )
                self._failing = True
            return False
        finally:
            self._checking.release()

    def _name(self) -> str:
        return redact(repr(self.registry))

    def get(self, connection_id: str) -> Connection | None:
        return self._current().get(connection_id)

    def by_host(self, host: str) -> Connection | None:
        return self._current().by_host(host)

    def by_domain(self, domain: str) -> Connection | None:
        return self._current().by_domain(domain)

    def by_email(self, email: str) -> Connection | None:
        return self._current().by_email(email)

    def all(self) -> list[Connection]:
        return list(self._current())

    def __len__(self) -> int:
        return len(self._current())


def open_lookup(
    settings: Settings, *, clock: Callable[[], float] = time.monotonic
) -> RefreshingLookup | None:
    """The lookup for ``settings.connections`` (``None`` without ``SAML_CONNECTIONS``).

    :raises ConfigError: the registry cannot be opened or read.
    """
    if not settings.connections:
        return None
    return RefreshingLookup(open_registry(settings.connections), settings.connections_refresh, clock=clock)
