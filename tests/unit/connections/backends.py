"""The registries of the shared suite, each behind one small interface the tests write through.

``file:`` registries are read-only: their "writes" rewrite the JSON file, as a deploy does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from saml_middleware.connections import Connection, ConnectionRegistry, MemoryRegistry
from saml_middleware.connections.file import FileRegistry
from saml_middleware.connections.sql import SQLRegistry

KINDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.needs("postgresql")),
    "file",
]
WRITABLE = [k for k in KINDS if k != "file"]
SQL = ["sqlite", pytest.param("postgres", marks=pytest.mark.needs("postgresql"))]


class Backend:
    """One registry under test and how to change it."""

    def __init__(self, kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self.kind = kind
        self.path = tmp_path / "connections.json"
        self.url = ""
        self.registry: ConnectionRegistry
        if kind == "memory":
            self.registry = MemoryRegistry()
        elif kind == "file":
            self.path.write_text("[]")
            self.registry = FileRegistry(self.path)
        else:
            self.url = (
                f"sqlite:///{tmp_path / 'connections.db'}"
                if kind == "sqlite"
                else request.getfixturevalue("postgres_url")
            )
            self.registry = SQLRegistry(self.url, clock=lambda: 1_800_000_000.0)

    def put(self, connection: Connection) -> None:
        if self.kind != "file":
            self.registry.put(connection)
            return
        records = [c.to_dict() for c in self.registry.all() if c.id != connection.id]
        self._write([*records, connection.to_dict()])

    def remove(self, connection_id: str) -> bool:
        if self.kind != "file":
            return self.registry.remove(connection_id)
        records = [c.to_dict() for c in self.registry.all()]
        kept = [r for r in records if r["id"] != connection_id]
        self._write(kept)
        return len(kept) != len(records)

    def _write(self, records: list[dict[str, object]]) -> None:
        before = self.path.stat().st_mtime_ns
        self.path.write_text(json.dumps(records, indent=2))
        os.utime(self.path, ns=(before + 1_000_000, before + 1_000_000))  # a deploy on a coarse clock

    def close(self) -> None:
        if isinstance(self.registry, SQLRegistry):
            self.registry.dispose()
