"""Where connections live: the ``ConnectionRegistry`` Protocol and its in-memory default.

Every registry (memory here; SQL, file and ``python:module:function`` beside it) is read
the same way, so the index and the gate never branch on a concrete type.

>>> from .model import Connection
>>> r = MemoryRegistry()
>>> r.put(Connection("acme", domains=("acme.com",)))
>>> [c.id for c in r.all()], r.get("acme").domains
(['acme'], ('acme.com',))
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Protocol, runtime_checkable

from ..errors import ConfigError
from .model import Connection

__all__ = [
    "ConnectionRegistry",
    "DomainTaken",
    "MemoryRegistry",
    "ReadOnlyRegistry",
    "RegistryUnavailable",
    "claimed_elsewhere",
]


class DomainTaken(ConfigError):
    """A connection claims an e-mail domain or host another connection has."""


class ReadOnlyRegistry(ConfigError):
    """The registry cannot be changed here (``file:`` registries are edited in git)."""


class RegistryUnavailable(ConfigError):
    """The registry cannot be reached now (database down): a running lookup keeps its last index."""


@runtime_checkable
class ConnectionRegistry(Protocol):
    """What the middleware reads connections from (and the CLI and setup page write to)."""

    def all(self) -> list[Connection]:
        """Every connection, enabled or not."""

    def get(self, connection_id: str) -> Connection | None:
        """One connection, or ``None``."""

    def put(self, connection: Connection) -> None:
        """Add or replace a connection.

        :raises DomainTaken: a domain or host belongs to another connection.
        :raises ReadOnlyRegistry: this registry cannot be written.
        """

    def remove(self, connection_id: str) -> bool:
        """Remove a connection; ``False`` if there was none."""

    def version(self) -> str:
        """A cheap marker that changes whenever any connection changes (refresh checks it)."""


def claimed_elsewhere(connection: Connection, others: Iterable[Connection]) -> list[str]:
    """The domains and hosts of ``connection`` that another connection already has."""
    problems: list[str] = []
    for other in others:
        if other.id == connection.id:
            continue
        problems.extend(
            f"domain {d} belongs to connection {other.id}" for d in connection.domains if d in other.domains
        )
        problems.extend(
            f"host {h} belongs to connection {other.id}" for h in connection.hosts if h in other.hosts
        )
    return problems


class MemoryRegistry:
    """Connections in a dict: tests, and apps that build their list in code.

    :param connections: the initial records.
    :param clock: epoch seconds, stamped into ``updated_at`` on :meth:`put`.
    """

    def __init__(
        self, connections: Iterable[Connection] = (), *, clock: Callable[[], float] | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Connection] = {}
        self._clock = clock
        self._version = 0
        for c in connections:
            self.put(c)

    def __repr__(self) -> str:
        return f"MemoryRegistry({len(self._by_id)} connections)"

    def all(self) -> list[Connection]:
        return list(self._by_id.values())

    def get(self, connection_id: str) -> Connection | None:
        return self._by_id.get(connection_id)

    def put(self, connection: Connection) -> None:
        with self._lock:
            problems = claimed_elsewhere(connection, self._by_id.values())
            if problems:
                raise DomainTaken(problems)
            if self._clock is not None:
                connection = replace(connection, updated_at=self._clock())
            self._by_id[connection.id] = connection
            self._version += 1

    def put_many(self, connections: Iterable[Connection]) -> None:
        """Add or replace several connections: all or none (``connections import``).

        :raises DomainTaken: listing every clash, with others or among ``connections``.
        """
        with self._lock:
            batch = list(connections)
            ids = {c.id for c in batch}
            kept = [c for c in self._by_id.values() if c.id not in ids]
            problems = [p for i, c in enumerate(batch) for p in claimed_elsewhere(c, kept + batch[:i])]
            if problems:
                raise DomainTaken(problems)
            for c in batch:
                if self._clock is not None:
                    c = replace(c, updated_at=self._clock())
                self._by_id[c.id] = c
            self._version += 1

    def remove(self, connection_id: str) -> bool:
        with self._lock:
            found = self._by_id.pop(connection_id, None) is not None
            self._version += found
            return found

    def version(self) -> str:
        return str(self._version)
