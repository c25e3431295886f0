"""Connections from the app's own code: ``SAML_CONNECTIONS=python:module:function``.

For apps that already keep their tenants in their own database. ``function`` is called
once, with no arguments, when the middleware starts, and returns either

* **a registry object** (:class:`RegistrySource`): ``all()`` and, optionally,
  ``version()``, ``get(id)``, ``put(connection)`` and ``remove(id)``; or
* **the connections themselves**: an iterable of :class:`~.model.Connection` or of dicts
  in the ``connections export`` form. The function is then called again at every refresh
  (at most once per ``SAML_CONNECTIONS_REFRESH`` seconds) and the connections' digest
  is the version.

Any of these may be ``async``: an awaitable is run to completion on its own event loop in
a worker thread (so do not share connections bound to the app's event loop). Without
``put``/``remove`` the registry is read-only (:class:`~.registry.ReadOnlyRegistry`).

.. code-block:: python

    # myapp/sso.py
    def connections():
        return [{"id": t.slug, "name": t.name, "domains": t.domains,
                 "idp_metadata_url": t.federation_metadata_url} for t in Tenant.objects.all()]
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import inspect
import json
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from ..errors import ConfigError
from .file import parse_connections
from .model import Connection
from .registry import ReadOnlyRegistry

__all__ = ["PythonRegistry", "RegistrySource", "resolve"]

T = TypeVar("T")
Records = Iterable[Connection | Mapping[str, Any]]


class RegistrySource(Protocol):
    """The least a ``python:`` registry object provides (each method may be ``async``).

    Optional, used when present: ``version() -> str`` (cheap, changes with any connection;
    default: a digest of ``all()``), ``get(id) -> Connection | None``,
    ``put(connection) -> None`` and ``remove(id) -> bool``.
    """

    def all(self) -> Records | Awaitable[Records]: ...


def resolve(value: T | Awaitable[T]) -> T:
    """``value``, or what it resolves to when it is awaitable (run on a worker thread's loop)."""
    if not inspect.isawaitable(value):
        return value
    awaitable = value
    box: dict[str, Any] = {}

    async def wait() -> T:
        return await awaitable

    def run() -> None:
        try:
            box["value"] = asyncio.run(wait())
        except BaseException as exc:  # handed back to the calling thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="saml-connections-python", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


class PythonRegistry:
    """A :class:`~.registry.ConnectionRegistry` over an app's function or registry object.

    :param spec: ``module:function`` (the part after ``python:``).
    :raises ConfigError: the function cannot be imported or returns something unusable.
    """

    def __init__(self, spec: str) -> None:
        self._label = f"SAML_CONNECTIONS=python:{spec}"
        module_name, _, attr = spec.partition(":")
        if not module_name or not attr:
            raise ConfigError([f"{self._label}: expected python:module:function"])
        try:
            function = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError([f"{self._label}: cannot import it: {exc}"]) from None
        if not callable(function):
            raise ConfigError([f"{self._label}: {attr} is not callable"])
        result = resolve(function())
        self._object: Any = result if callable(getattr(result, "all", None)) else None
        self._function: Callable[[], Any] = function
        self._latest: tuple[str, list[Connection]] | None = None
        if self._object is None:
            self._remember(result)

    def __repr__(self) -> str:
        return f"PythonRegistry({self._label!r})"

    def _remember(self, records: Any) -> tuple[str, list[Connection]]:
        if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
            raise ConfigError([f"{self._label}: expected a registry object or connections, got {records!r}"])
        dicts = [r.to_dict() if isinstance(r, Connection) else r for r in records]
        found = parse_connections(dicts, self._label)
        payload = json.dumps([c.to_dict() for c in found], sort_keys=True, default=str).encode()
        self._latest = (hashlib.sha256(payload).hexdigest()[:32], found)
        return self._latest

    def _call(self) -> tuple[str, list[Connection]]:
        if self._object is None:
            return self._remember(resolve(self._function()))
        return self._remember(resolve(self._object.all()))

    def version(self) -> str:
        if self._object is not None and callable(getattr(self._object, "version", None)):
            return str(resolve(self._object.version()))
        return self._call()[0]

    def all(self) -> list[Connection]:
        if self._object is None and self._latest is not None:
            return list(self._latest[1])  # the list the last version() check read
        return list(self._call()[1])

    def get(self, connection_id: str) -> Connection | None:
        if self._object is not None and callable(getattr(self._object, "get", None)):
            found = resolve(self._object.get(connection_id))
            return found if found is None or isinstance(found, Connection) else Connection.from_dict(found)
        return next((c for c in self.all() if c.id == connection_id), None)

    def _writer(self, name: str) -> Callable[..., Any]:
        method = getattr(self._object, name, None)
        if not callable(method):
            raise ReadOnlyRegistry([f"{self._label} is read-only: the app's own code manages connections"])
        return method  # type: ignore[no-any-return]

    def put(self, connection: Connection) -> None:
        resolve(self._writer("put")(connection))

    def remove(self, connection_id: str) -> bool:
        return bool(resolve(self._writer("remove")(connection_id)))
