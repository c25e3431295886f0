"""Finding a connection: by id, by host, by e-mail domain, in O(1).

``ConnectionLookup`` is what the gate asks on every login and ACS; ``ConnectionIndex``
is its default, a snapshot of a registry's records in three dicts. (A refreshing
lookup over a shared registry builds a new index when the registry's version changes.)

>>> from .model import Connection
>>> index = ConnectionIndex([Connection("acme", domains=("acme.com",), hosts=("acme.example.com",))])
>>> index.by_domain("ACME.com").id, index.by_host("acme.example.com").id, index.by_email("a@acme.com").id
('acme', 'acme', 'acme')
>>> index.by_email("a@other.com") is None
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from ..user import normalize_email
from .model import Connection

__all__ = ["ConnectionIndex", "ConnectionLookup"]


class ConnectionLookup(Protocol):
    """What the gate asks to route a request to a connection."""

    def get(self, connection_id: str) -> Connection | None: ...

    def by_host(self, host: str) -> Connection | None: ...

    def by_domain(self, domain: str) -> Connection | None: ...


class ConnectionIndex:
    """An immutable snapshot of connections, indexed by id, host and domain.

    :param connections: the records (ids, hosts and domains unique, as registries ensure).
    """

    def __init__(self, connections: Iterable[Connection]) -> None:
        self._by_id: dict[str, Connection] = {}
        self._by_host: dict[str, Connection] = {}
        self._by_domain: dict[str, Connection] = {}
        for c in connections:
            self._by_id[c.id] = c
            for h in c.hosts:
                self._by_host[h] = c
            for d in c.domains:
                self._by_domain[d] = c

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Connection]:
        return iter(self._by_id.values())

    def get(self, connection_id: str) -> Connection | None:
        return self._by_id.get(connection_id)

    def by_host(self, host: str) -> Connection | None:
        """The connection whose hosts include ``host`` (``Host`` header, any case)."""
        return self._by_host.get(host.lower())

    def by_domain(self, domain: str) -> Connection | None:
        """The connection owning e-mail domain ``domain``."""
        return self._by_domain.get(normalize_email(domain))

    def by_email(self, email: str) -> Connection | None:
        """The connection owning the domain of ``email`` (``None`` for a non-address)."""
        _, at, domain = email.strip().rpartition("@")
        return self.by_domain(domain) if at and domain else None
