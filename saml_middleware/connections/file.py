"""Connections in a JSON file kept in git: ``SAML_CONNECTIONS=file:/etc/app/connections.json``.

The file is a JSON list of records in the form ``connections export`` prints (or an object
with a ``connections`` list). It is read-only here: change it in git and deploy it; each
instance picks up the new file within ``SAML_CONNECTIONS_REFRESH`` seconds (its version
is the file's modification time and size). A bad file is refused as a whole, with every
bad record listed; a running lookup keeps the last good one.

>>> import json, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "connections.json")
>>> with open(path, "w") as f:
...     json.dump([{"id": "acme", "domains": ["acme.com"]}], f)
>>> r = FileRegistry(path)
>>> [c.id for c in r.all()], r.get("acme").domains
(['acme'], ('acme.com',))
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .model import Connection
from .registry import ReadOnlyRegistry, RegistryUnavailable, claimed_elsewhere

__all__ = ["FileRegistry", "parse_connections"]


def parse_connections(data: Any, source: str) -> list[Connection]:
    """Records from decoded JSON (a list, or ``{"connections": [...]}``), checked together.

    :raises ConfigError: listing every bad record, repeated id, and shared domain or host.
    """
    if isinstance(data, dict) and set(data) == {"connections"}:
        data = data["connections"]
    if not isinstance(data, list):
        raise ConfigError([f"{source}: expected a JSON list of connections"])
    problems: list[str] = []
    found: list[Connection] = []
    for number, item in enumerate(data, 1):
        if not isinstance(item, dict):
            problems.append(f"{source}: record {number}: expected an object, got {type(item).__name__}")
            continue
        try:
            found.append(Connection.from_dict(item))
        except ConfigError as exc:
            problems.extend(f"{source}: record {number}: {p}" for p in exc.problems)
        except (TypeError, ValueError) as exc:
            problems.append(f"{source}: record {number}: {exc}")
    seen: dict[str, Connection] = {}
    for c in found:
        if c.id in seen:
            problems.append(f"{source}: connection id {c.id} appears twice")
        else:
            problems.extend(f"{source}: {p}" for p in claimed_elsewhere(c, seen.values()))
            seen[c.id] = c
    if problems:
        raise ConfigError(problems)
    return found


class FileRegistry:
    """A read-only :class:`~.registry.ConnectionRegistry` over a JSON file.

    :param path: the file.
    :raises ConfigError: the file is missing or unreadable, is not JSON, or has bad records.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._loaded: tuple[str, dict[str, Connection]] = ("", {})
        self._records()

    def __repr__(self) -> str:
        return f"FileRegistry({str(self.path)!r})"

    def version(self) -> str:
        try:
            st = self.path.stat()
        except OSError as exc:
            raise RegistryUnavailable([f"SAML_CONNECTIONS=file:{self.path}: {exc.strerror}"]) from None
        return f"{st.st_mtime_ns}.{st.st_size}"

    def _records(self) -> dict[str, Connection]:
        version = self.version()
        with self._lock:
            if self._loaded[0] == version:
                return self._loaded[1]
            source = f"SAML_CONNECTIONS=file:{self.path}"
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise RegistryUnavailable([f"{source}: {exc.strerror}"]) from None
            except (ValueError, UnicodeDecodeError) as exc:
                raise ConfigError([f"{source}: not valid JSON: {exc}"]) from None
            records = {c.id: c for c in parse_connections(data, source)}
            self._loaded = (version, records)
            return records

    def all(self) -> list[Connection]:
        return list(self._records().values())

    def get(self, connection_id: str) -> Connection | None:
        return self._records().get(connection_id)

    def _refuse(self) -> ReadOnlyRegistry:
        return ReadOnlyRegistry(
            [f"SAML_CONNECTIONS=file:{self.path} is read-only: edit the file (kept in git) and deploy it"]
        )

    def put(self, connection: Connection) -> None:
        raise self._refuse()

    def put_many(self, connections: Iterable[Connection]) -> None:
        raise self._refuse()

    def remove(self, connection_id: str) -> bool:
        raise self._refuse()
