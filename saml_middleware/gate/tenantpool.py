"""One :class:`~saml_middleware.gate.Gate` per connection, built on first use, kept in a bounded LRU.

Each connection's gate is an ordinary single-IdP gate over ``settings_for(base, connection)``
(its own IdP, ACS, entity ID, allowed domains, per-IdP settings), sharing with every other:

* the session manager (one cookie for the whole site; the user inside names its connection),
* the replay store: each connection gets its own namespace ``{SP entity ID}|c/{id}`` on the
  same client (:meth:`GatePool.replay_of`: on Redis its own hash tag, so tenants spread over
  the slots of a Redis Cluster, and never one connection pool per connection); a store that
  cannot make namespaces (memory, most ``python:`` factories) gets keys prefixed ``c/{id}|``
  (:class:`ConnectionReplay`),
* the metrics registry (audit records and metrics carry the connection id),
* the user directory (wrapped so lookups see ``SAMLUser.connection``/``.tenant``), unless the
  connection sets its own ``users``.

Each connection's IdP metadata URL was typed by a customer: it is fetched, when the gate is built
and at every refresh, through the SSRF guard
(:func:`~saml_middleware.connections.safefetch.fetch_public_metadata`: https only, public
addresses only unless ``SAML_SETUP_ALLOW_PRIVATE_METADATA``, DNS re-checked each time).

A gate is rebuilt when its connection's record changes (records are compared whole,
``updated_at`` included) and dropped when it has not been used among the last ``size``.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from ..config import Settings
from ..connections import Connection, settings_for
from ..connections.safefetch import fetch_public_metadata
from ..errors import ConfigError
from ..ops.metrics import Metrics
from ..protocol.metadata import IdPInfo
from ..sessions import SessionManager
from ..stores import ReplayCache
from ..user import SAMLUser
from ..users import UserDirectory, directory_from_setting
from .gate import Gate

__all__ = ["ConnectionReplay", "GatePool", "TenantDirectory"]


class ConnectionReplay:
    """A replay cache whose keys are prefixed with the connection id (``c/{id}|...``).

    >>> from ..stores import MemoryReplayCache
    >>> shared = MemoryReplayCache()
    >>> a, b = ConnectionReplay(shared, "a"), ConnectionReplay(shared, "b")
    >>> a.add("_id1", 2e9), b.add("_id1", 2e9), a.add("_id1", 2e9)
    (True, True, False)
    """

    def __init__(self, inner: ReplayCache, connection_id: str) -> None:
        self.inner = inner
        self.prefix = f"c/{connection_id}|"

    def add(self, key: str, expires_at: float) -> bool:
        return self.inner.add(self.prefix + key, expires_at)


class TenantDirectory:
    """A user directory that sees, and answers, users of one connection.

    The user handed to ``inner`` already has ``connection`` and ``tenant`` set (so SQL queries
    bind ``:tenant``, file rows with a ``tenant`` match, Python hooks read ``user.tenant``); the
    admitted user gets them set again, so a directory cannot move a user to another tenant.
    """

    def __init__(self, inner: UserDirectory, connection: Connection) -> None:
        self.inner = inner
        self.connection = connection.id
        self.tenant = connection.tenant

    def _stamp(self, user: SAMLUser | None) -> SAMLUser | None:
        if isinstance(user, SAMLUser):
            return replace(user, connection=self.connection, tenant=self.tenant)
        return user

    def lookup(self, user: SAMLUser) -> SAMLUser | Awaitable[SAMLUser | None] | None:
        found = self.inner.lookup(replace(user, connection=self.connection, tenant=self.tenant))
        if inspect.isawaitable(found):
            return self._later(found)
        return self._stamp(found)

    async def _later(self, found: Awaitable[SAMLUser | None]) -> SAMLUser | None:
        return self._stamp(await found)


class GatePool:
    """Builds, caches and evicts the per-connection gates.

    :param base: the deployment's settings.
    :param sessions: the site-wide session manager.
    :param replay: the store's replay cache (each connection gets its own part: :meth:`replay_of`).
    :param metrics: the shared metrics.
    :param directory: the deployment's user directory (``SAML_USERS``).
    :param size: how many connections' gates (parsed IdP metadata, keys) stay in memory.
    :param fetch: ``url -> bytes`` for connections' metadata URLs; by default the SSRF-guarded
        :func:`~saml_middleware.connections.safefetch.fetch_public_metadata` honouring
        ``SAML_SETUP_ALLOW_PRIVATE_METADATA`` (tests pass one trusting their own https server).
    :param retry_after: seconds a connection whose gate could not be built (metadata URL down or
        refused, a bad key) answers from that failure before the pool tries again: a slow or dead
        customer IdP never ties up a worker thread per sign-in.
    :param gate_options: passed to each :class:`Gate` (``clock=``, ``token=``).
    """

    def __init__(
        self,
        base: Settings,
        *,
        sessions: SessionManager,
        replay: ReplayCache,
        metrics: Metrics,
        directory: UserDirectory,
        size: int = 256,
        fetch: Callable[[str], bytes] | None = None,
        retry_after: float = 30.0,
        **gate_options: Any,
    ) -> None:
        if size < 1:
            raise ValueError("the gate pool needs room for at least one connection")
        self.base = base
        self.sessions = sessions
        self.replay = replay
        self.metrics = metrics
        self.directory = directory
        self.size = size
        self.fetch = fetch or functools.partial(
            fetch_public_metadata, allow_private=base.setup_allow_private_metadata
        )
        self.options = gate_options
        self.retry_after = retry_after
        self._clock: Callable[[], float] = gate_options.get("clock", time.time)
        self._gates: OrderedDict[str, tuple[Connection, Gate]] = OrderedDict()
        #: the last failed build per connection: (its record, when, the error), bounded like _gates
        self._failed: OrderedDict[str, tuple[Connection, float, Exception]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._gates)

    def gate(self, connection: Connection) -> Gate:
        """The gate of ``connection``, built now if absent or if the record changed.

        :raises ConfigError: the connection's settings are invalid (e.g. a bad certificate).
        :raises MetadataError: its IdP metadata cannot be loaded.
        """
        entry = self._gates.get(connection.id)  # the per-request path: the index hands out the
        if entry is not None and entry[0] is connection:  # same record until it changes, no lock
            return entry[1]
        with self._lock:
            entry = self._gates.get(connection.id)
            if entry is not None and entry[0] == connection:
                self._gates.move_to_end(connection.id)
                return entry[1]
            failed = self._failed.get(connection.id)
            age = self._clock() - failed[1] if failed is not None else 0.0
            if failed is not None and failed[0] == connection and age < self.retry_after:
                raise _recent(failed[2], age, self.retry_after)  # no new fetch: the same answer
        try:
            built = self.build(connection)  # outside the lock: loading metadata may take a while
        except Exception as exc:
            with self._lock:
                self._failed[connection.id] = (connection, self._clock(), exc)
                self._failed.move_to_end(connection.id)
                while len(self._failed) > self.size:
                    self._failed.popitem(last=False)
            raise
        with self._lock:
            self._failed.pop(connection.id, None)
            self._gates[connection.id] = (connection, built)
            self._gates.move_to_end(connection.id)
            while len(self._gates) > self.size:
                self._gates.popitem(last=False)
        return built

    def cached(self, connection_id: str) -> Gate | None:
        """The gate already built for ``connection_id`` (never builds one)."""
        entry = self._gates.get(connection_id)
        return entry[1] if entry is not None else None

    def replay_of(self, connection_id: str) -> ReplayCache:
        """``connection_id``'s replay cache: the store's own under the namespace
        ``{SP entity ID}|c/{id}`` when it can make one (``scoped(namespace)``, as Redis does:
        another hash tag, the same client), else the shared cache with keys prefixed ``c/{id}|``."""
        scoped = getattr(self.replay, "scoped", None)
        if callable(scoped):
            own: ReplayCache = scoped(f"{self.base.sp_entity_id}|c/{connection_id}")
            return own
        return ConnectionReplay(self.replay, connection_id)

    def build(self, connection: Connection, *, idp: IdPInfo | None = None) -> Gate:
        """A new gate for ``connection`` as the pool builds them (its own users, keys, access
        rules, replay namespace), not cached; ``idp`` given, nothing is fetched (``check``).

        :raises ConfigError: the connection's settings are invalid.
        """
        settings = settings_for(self.base, connection)
        own = connection.settings
        inner: UserDirectory = self.directory
        if any(k in own for k in ("users", "user_query", "user_id_attribute")):
            inner = directory_from_setting(
                settings.users, user_query=settings.user_query, user_id_attribute=settings.user_id_attribute
            )
        return Gate(
            settings,
            directory=TenantDirectory(inner, connection),
            replay=self.replay_of(connection.id),
            sessions=self.sessions,
            metrics=self.metrics,
            connection=connection.id,
            fetch=self.fetch,
            idp=idp,
            **self.options,
        )


def _recent(exc: Exception, age: float, retry_after: float) -> ConfigError:
    """A fresh error (never the stored one re-raised: its traceback would grow) saying what failed."""
    problems = exc.problems if isinstance(exc, ConfigError) else [f"{type(exc).__name__}: {exc}"]
    when = f"(failed {age:.0f} s ago; tried again {retry_after:.0f} s after the failure)"
    return ConfigError([*problems[:-1], f"{problems[-1]} {when}"] if problems else [when])
