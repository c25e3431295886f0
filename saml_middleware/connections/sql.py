"""Connections in a SQL database: SQLite by default, PostgreSQL shared by every instance.

``SAML_CONNECTIONS=sqlite:///var/lib/app/connections.db`` (embedded; the directory must
exist) or any SQLAlchemy URL, e.g. ``postgresql://app:PASSWORD@db/app`` (psycopg 3: the
``postgres`` extra). The schema is created and upgraded by the product (``sqlschema.py``).

* ``version()`` reads one row, bumped by every write in the writing transaction.
* a domain or host belongs to one connection: primary keys on the domain and host tables
  enforce it across instances; a clash raises :class:`DomainTaken` naming the owner.

>>> import tempfile, os
>>> from .model import Connection
>>> r = SQLRegistry("sqlite:///" + os.path.join(tempfile.mkdtemp(), "c.db"), clock=lambda: 1.0)
>>> r.put(Connection("acme", domains=("acme.com",)))
>>> r.get("acme").domains, r.get("acme").updated_at
(('acme.com',), 1.0)
>>> r.put(Connection("evil", domains=("acme.com",)))
Traceback (most recent call last):
...
saml_middleware.connections.registry.DomainTaken: invalid saml-middleware configuration:
  - domain acme.com belongs to connection acme
>>> r.dispose()
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection as DB
from sqlalchemy.engine import Engine

from ..errors import ConfigError
from ..masking import redact
from .model import Connection
from .registry import DomainTaken, RegistryUnavailable
from .sqlschema import CONNECTIONS, DOMAINS, HOSTS, META, migrate

__all__ = ["SQLRegistry", "engine_url"]


def engine_url(url: str) -> str:
    """``url`` with the psycopg 3 driver for plain ``postgresql://`` (and ``postgres://``).

    >>> engine_url("postgresql://app@db/app"), engine_url("postgresql+psycopg2://db/x")
    ('postgresql+psycopg://app@db/app', 'postgresql+psycopg2://db/x')
    """
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def _sqlite_transactions(engine: Engine) -> None:
    """Let SQLite run DDL and reads inside real transactions (the pysqlite driver does not)."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: DB) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # writers queue (busy timeout), never deadlock


class SQLRegistry:
    """A :class:`~.registry.ConnectionRegistry` in any SQLAlchemy database.

    :param url: ``sqlite:///PATH``, ``postgresql://...`` or another SQLAlchemy URL.
    :param clock: epoch seconds, stamped into ``updated_at`` on every write.
    :raises ConfigError: no SQLAlchemy or driver, a bad URL, an in-memory SQLite database,
        a database newer than this release.
    :raises RegistryUnavailable: the database cannot be reached.
    """

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        self._label = f"SAML_CONNECTIONS={redact(url)}"
        if url.split("?")[0] in ("sqlite://", "sqlite:///:memory:"):
            raise ConfigError(
                [f"{self._label}: an in-memory SQLite database is one per connection; give a file"]
            )
        self._clock = clock
        try:
            self._engine = sa.create_engine(engine_url(url), pool_pre_ping=True)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise ConfigError(
                [f"{self._label}: {redact(str(exc))} (PostgreSQL needs the postgres extra: psycopg)"]
            ) from None
        if self._engine.dialect.name == "sqlite":
            _sqlite_transactions(self._engine)
        try:
            with self._tx() as db:
                migrate(db)
        except BaseException:
            self._engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"SQLRegistry({redact(str(self._engine.url))!r})"

    @contextmanager
    def _tx(self) -> Iterator[DB]:
        try:
            with self._engine.begin() as db:
                yield db
        except sa.exc.IntegrityError:
            raise
        except sa.exc.DBAPIError as exc:  # down, refused, no permission: never a traceback
            raise RegistryUnavailable([f"{self._label}: {redact(str(exc.orig or exc))}"]) from None

    def dispose(self) -> None:
        """Close the pooled database connections."""
        self._engine.dispose()

    @staticmethod
    def _record(data: str) -> Connection:
        return Connection.from_dict(json.loads(data))

    def all(self) -> list[Connection]:
        with self._tx() as db:
            rows = db.execute(sa.select(CONNECTIONS.c.id, CONNECTIONS.c.data).order_by(CONNECTIONS.c.id))
            found, problems = [], []
            for cid, data in rows:
                try:
                    found.append(self._record(data))
                except (ConfigError, ValueError, TypeError) as exc:
                    problems.append(f"connection {cid} in the database: {exc}")
        if problems:
            raise ConfigError(problems)
        return found

    def get(self, connection_id: str) -> Connection | None:
        with self._tx() as db:
            data = db.execute(sa.select(CONNECTIONS.c.data).where(CONNECTIONS.c.id == connection_id)).scalar()
        return None if data is None else self._record(data)

    def version(self) -> str:
        with self._tx() as db:
            values = {name: value for name, value in db.execute(sa.select(META.c.name, META.c.value))}
        return f"{values.get('generation', 0)}.{values.get('changes', 0)}"

    def put(self, connection: Connection) -> None:
        self.put_many([connection])

    def put_many(self, connections: Iterable[Connection]) -> None:
        """Add or replace several connections in one transaction: all or none.

        :raises DomainTaken: listing every domain or host another connection has.
        """
        stamped = [replace(c, updated_at=self._clock()) for c in connections]
        for attempt in range(2):
            try:
                with self._tx() as db:
                    problems = self._claimed(db, stamped)
                    if problems:
                        raise DomainTaken(problems)
                    for table in (DOMAINS, HOSTS):  # first: a batch may move a domain between its records
                        db.execute(sa.delete(table).where(table.c.connection_id.in_([c.id for c in stamped])))
                    for c in stamped:
                        self._write(db, c)
                    self._changed(db)
                return
            except sa.exc.IntegrityError:  # another instance wrote between the check and the insert
                with self._tx() as db:
                    problems = self._claimed(db, stamped)
                if problems:
                    raise DomainTaken(problems) from None
                if attempt:
                    raise RegistryUnavailable([f"{self._label}: concurrent changes; try again"]) from None

    def remove(self, connection_id: str) -> bool:
        with self._tx() as db:
            for table in (DOMAINS, HOSTS):
                db.execute(sa.delete(table).where(table.c.connection_id == connection_id))
            found = db.execute(sa.delete(CONNECTIONS).where(CONNECTIONS.c.id == connection_id)).rowcount
            if found:
                self._changed(db)
        return bool(found)

    @staticmethod
    def _claimed(db: DB, connections: list[Connection]) -> list[str]:
        """Every domain and host of ``connections`` held by a connection not being written."""
        ids = {c.id for c in connections}
        problems: list[str] = []
        seen: dict[tuple[str, str], str] = {}
        for c in connections:
            for kind, values in (("domain", c.domains), ("host", c.hosts)):
                for value in values:
                    other = seen.setdefault((kind, value), c.id)
                    if other != c.id:
                        problems.append(f"{kind} {value} is given to both {other} and {c.id}")
        for kind, table in (("domain", DOMAINS), ("host", HOSTS)):
            wanted = {v for (k, v) in seen if k == kind}
            if not wanted:
                continue
            key = table.c[kind]
            for value, owner in db.execute(
                sa.select(key, table.c.connection_id).where(key.in_(sorted(wanted))).order_by(key)
            ):
                if owner not in ids:
                    problems.append(f"{kind} {value} belongs to connection {owner}")
        return problems

    @staticmethod
    def _write(db: DB, c: Connection) -> None:
        row = {
            "name": c.name,
            "tenant": c.tenant,
            "enabled": c.enabled,
            "updated_at": c.updated_at,
            "data": json.dumps(c.to_dict(), sort_keys=True),
        }
        if db.execute(sa.update(CONNECTIONS).where(CONNECTIONS.c.id == c.id).values(**row)).rowcount == 0:
            db.execute(sa.insert(CONNECTIONS).values(id=c.id, **row))
        if c.domains:
            db.execute(sa.insert(DOMAINS), [{"domain": d, "connection_id": c.id} for d in c.domains])
        if c.hosts:
            db.execute(sa.insert(HOSTS), [{"host": h, "connection_id": c.id} for h in c.hosts])

    @staticmethod
    def _changed(db: DB) -> None:
        db.execute(sa.update(META).where(META.c.name == "changes").values(value=META.c.value + 1))
