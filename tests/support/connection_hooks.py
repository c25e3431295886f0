"""``SAML_CONNECTIONS=python:tests.support.connection_hooks:...``: an app keeping its tenants
in its own store (here a list it changes), handing them over the ways the Protocol allows."""

from __future__ import annotations

from typing import Any

from saml_middleware.connections import Connection

#: the app's own tenant table
TENANTS: list[dict[str, Any]] = []


def tenants() -> list[dict[str, Any]]:
    """The connections themselves, as dicts: called again at every refresh."""
    return [dict(t) for t in TENANTS]


async def tenants_async() -> list[Connection]:
    """The same from an async data layer, as Connection records."""
    return [Connection.from_dict(t) for t in TENANTS]


class AppRegistry:
    """A registry object with async reads and writes and its own cheap version."""

    def __init__(self) -> None:
        self.rows: dict[str, Connection] = {}
        self.changes = 0

    async def all(self) -> list[Connection]:
        return list(self.rows.values())

    def version(self) -> str:
        return str(self.changes)

    async def put(self, connection: Connection) -> None:
        self.rows[connection.id] = connection
        self.changes += 1

    def remove(self, connection_id: str) -> bool:
        self.changes += 1
        return self.rows.pop(connection_id, None) is not None


def registry() -> AppRegistry:
    return AppRegistry()


def nothing_useful() -> int:
    return 42
