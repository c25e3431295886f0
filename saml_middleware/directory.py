"""The application's user directory, chosen by ``SAML_USERS``.

Given the :class:`SAMLUser` built from a validated assertion, a directory
decides whether that person is admitted and adds the application's own
attributes: ``assertion`` (:class:`AssertionDirectory`, the default),
``file:users.csv|json`` (:class:`FileDirectory`), ``sql:URL`` with
``SAML_USER_QUERY`` (:class:`SQLDirectory`) or ``python:module:function``
(:class:`PythonDirectory`); see :func:`directory_from_setting`.
"""

from __future__ import annotations

import csv
import importlib
import inspect
import io
import json
import logging
import os
import threading
import time
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import ConfigError
from .user import SAMLUser

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.sql.elements import TextClause

__all__ = [
    "AssertionDirectory",
    "FileDirectory",
    "PythonDirectory",
    "SQLDirectory",
    "UserDirectory",
    "directory_from_setting",
    "merge_record",
    "normalize_email",
]

logger = logging.getLogger("saml_middleware")

_Records = dict[str, dict[str, Any]]
_Rows = list[tuple[str, dict[str, Any]]]
_SCALARS = (str, int, float, bool)
_FIELDS = ("email", "display_name", "name")


@runtime_checkable
class UserDirectory(Protocol):
    """Returns the admitted (enriched) user, ``None`` (a 403 page), or an awaitable of either."""

    def lookup(self, user: SAMLUser) -> SAMLUser | Awaitable[SAMLUser | None] | None: ...


def normalize_email(email: str) -> str:
    """The key e-mails are matched by: stripped, NFC-normalised, case-folded.

    >>> normalize_email(" Jose\\u0301@Example.COM ") == normalize_email("josé@example.com")
    True

    .. warning:: NFC, never NFKC. Compatibility folding would turn a look-alike
       such as a full-width ``\uff42ob@example.com`` into ``bob@example.com`` and
       hand Bob's account to whoever the IdP knows by the look-alike.
    """
    return unicodedata.normalize("NFC", email.strip()).casefold()


def _bad(problem: str) -> ConfigError:
    return ConfigError([problem])


def _strings(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def merge_record(user: SAMLUser, record: Mapping[str, Any]) -> SAMLUser:
    """``user`` enriched with a directory record (file row, SQL row, hook result).

    :param record: ``email`` (if present and non-empty) becomes the user's
        e-mail, the directory's canonical spelling; ``display_name``, else
        ``name``, becomes the display name when non-empty. Every other
        non-``None`` column becomes an attribute (a list of strings), replacing
        the IdP's attribute of the same name.

    >>> user = SAMLUser("BOB@example.com", "BOB@example.com", attributes={"role": ["guest"]})
    >>> merged = merge_record(user, {"email": "bob@example.com", "role": "admin", "team": None})
    >>> merged.email, dict(merged.attributes)
    ('bob@example.com', {'role': ['admin']})
    """
    fields = {k: str(record[k]).strip() for k in _FIELDS if record.get(k) is not None}
    changes: dict[str, Any] = {"attributes": dict(user.attributes)}
    if fields.get("email"):
        changes["email"] = unicodedata.normalize("NFC", fields["email"])
    if fields.get("display_name") or fields.get("name"):
        changes["display_name"] = fields.get("display_name") or fields["name"]
    for key, value in record.items():
        if key not in _FIELDS and value is not None:
            changes["attributes"][str(key)] = _strings(value)
    return replace(user, **changes)


class AssertionDirectory:
    """``SAML_USERS=assertion``: admits everyone the IdP vouches for, unchanged.

    .. warning:: Every account of the IdP tenant gets in. Restrict with
       ``SAML_ALLOWED_DOMAINS`` or Entra's "assignment required", or use a list.
    """

    def lookup(self, user: SAMLUser) -> SAMLUser:
        return user


class FileDirectory:
    """``SAML_USERS=file:users.csv`` or ``file:users.json``: a list of admitted users.

    CSV: a header row with an ``email`` column; other columns are local
    attributes (empty cells are left out). JSON: a list of objects each with
    ``email``, or an object mapping e-mail to an attributes object. E-mails
    match case-insensitively (:func:`normalize_email`).

    :param path: the ``.csv`` or ``.json`` file, read at once.
    :param clock: seconds, for throttling the modification check.
    :param check_interval: look at the file's mtime at most this often.
    :raises ConfigError: when the file is missing or invalid.

    >>> FileDirectory("tests/data/directory/users.csv").lookup(user)  # doctest: +SKIP

    .. warning:: When the file changes it is reloaded; if the new content is
       invalid the last good copy stays in use and a warning is logged.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        check_interval: float = 2.0,
    ) -> None:
        self.path, self._where = Path(path), f"SAML_USERS=file:{path}"
        parse = {".csv": _parse_csv, ".json": _parse_json}.get(self.path.suffix.lower())
        if parse is None:
            raise _bad(f"{self._where}: the file name must end in .csv or .json")
        self._parse, self._clock, self._interval = parse, clock, check_interval
        self._lock = threading.Lock()
        self._stamp = self._signature()
        self._records = self._load()
        self._checked = clock()

    def lookup(self, user: SAMLUser) -> SAMLUser | None:
        self._refresh()
        record = self._records.get(normalize_email(user.email))
        return None if record is None else merge_record(user, record)

    def _signature(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _load(self) -> _Records:
        try:
            with open(self.path, encoding="utf-8-sig", newline="") as fh:
                rows = self._parse(fh.read())
        except FileNotFoundError:
            raise _bad(f"{self._where}: no such file (in {os.getcwd()})") from None
        except (OSError, ValueError, csv.Error) as exc:  # ValueError: also bad UTF-8
            raise _bad(f"{self._where}: {exc}") from None
        problems: list[str] = []
        records: _Records = {}
        seen: dict[str, str] = {}
        for place, record in rows:
            email = record.get("email")
            key = normalize_email(email) if isinstance(email, str) else ""
            if not key:
                problems.append(f"{self._where}: {place} has no e-mail")
            elif key in seen:
                problems.append(f"{self._where}: {place} repeats the e-mail of {seen[key]}")
            else:
                seen[key], records[key] = place, record
        if problems:
            raise ConfigError(problems)
        return records

    def _refresh(self) -> None:
        if self._clock() - self._checked < self._interval:
            return
        with self._lock:
            now = self._clock()
            if now - self._checked < self._interval:
                return
            self._checked, stamp = now, self._signature()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            try:
                self._records = self._load()
            except ConfigError as exc:
                problems = "; ".join(exc.problems)
                logger.warning("%s; keeping the last good copy of the users", problems)
            else:
                logger.info("user directory %s reloaded: %d users", self.path, len(self._records))


def _parse_csv(text: str) -> _Rows:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    names = ["email" if n.strip().lower() == "email" else n.strip() for n in header or ()]
    if "email" not in names:
        raise ValueError(f"line 1 must be a header with an email column, got {header}")
    if "" in names or len(set(names)) != len(names):
        raise ValueError(f"the header (line 1) has an empty or repeated column: {header}")
    rows: _Rows = []
    for row in reader:
        if len(row) > len(names):
            raise ValueError(f"line {reader.line_num} has more fields than the header")
        if any(cell.strip() for cell in row):
            record = {n: c.strip() or None for n, c in zip(names, row, strict=False)}
            rows.append((f"line {reader.line_num}", record))
    return rows


def _parse_json(text: str) -> _Rows:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON at line {exc.lineno}: {exc.msg}") from None
    if isinstance(data, list):
        items = [(f"entry {i + 1}", obj) for i, obj in enumerate(data)]
    elif isinstance(data, dict):
        items = [(f"entry {k!r}", {**v, "email": k} if isinstance(v, dict) else v) for k, v in data.items()]
    else:
        raise ValueError("must hold a list of objects or an object mapping e-mails to objects")
    for place, obj in items:
        if not isinstance(obj, dict):
            raise ValueError(f"{place} must be a JSON object")
        for key, value in obj.items():
            values = value if isinstance(value, list) else [value]
            if not all(v is None or isinstance(v, _SCALARS) for v in values):
                raise ValueError(f"{place}: {key!r} must be a string, number or list")
    return items


class SQLDirectory:
    """``SAML_USERS=sql:URL`` with ``SAML_USER_QUERY``: users from a database table.

    The query runs with the bound parameter ``:email`` (the IdP's e-mail); the
    first row admits the user and its columns become local attributes
    (``email``, ``display_name`` and ``name`` set those fields; see
    :func:`merge_record`). No row refuses.

    :param url: an SQLAlchemy database URL, e.g. ``sqlite:///app.db``.
    :param query: a ``SELECT`` using ``:email`` and no other parameter.
    :raises ConfigError: when SQLAlchemy, the driver or ``:email`` is missing.

    .. code-block:: shell

        SAML_USERS=sql:postgresql+psycopg://app@db/app
        SAML_USER_QUERY="SELECT email, full_name AS display_name, role
                         FROM users WHERE lower(email) = lower(:email)"

    .. warning:: Matching is the query's job: compare case-insensitively, as
       ``lower(...)`` does above. ``lookup`` blocks on the database.
    """

    def __init__(self, url: str, query: str) -> None:
        try:
            import sqlalchemy
        except ImportError:
            raise _bad("SAML_USERS=sql: needs SQLAlchemy: pip install 'saml-middleware[sql]'") from None
        if not query.strip():
            raise _bad("SAML_USER_QUERY is required with SAML_USERS=sql:... (a query using :email)")
        self._query: TextClause = sqlalchemy.text(query)
        params = set(self._query.compile().params)
        if "email" not in params:
            raise _bad("SAML_USER_QUERY must use the bind parameter :email, e.g. email = :email")
        if params - {"email"}:
            raise _bad(f"SAML_USER_QUERY may only use :email, not {sorted(params - {'email'})}")
        try:
            self._engine: Engine = sqlalchemy.create_engine(url)
        except (sqlalchemy.exc.ArgumentError, ImportError) as exc:
            raise _bad(f"SAML_USERS=sql: unusable database URL: {exc}") from None

    def lookup(self, user: SAMLUser) -> SAMLUser | None:
        with self._engine.connect() as conn:
            row = conn.execute(self._query, {"email": user.email}).first()
        return None if row is None else merge_record(user, dict(row._mapping))

    def close(self) -> None:
        """Close the pooled database connections."""
        self._engine.dispose()


class PythonDirectory:
    """``SAML_USERS=python:package.module:function``: your own decision.

    The function gets the :class:`SAMLUser` and returns ``None`` (refuse), a
    :class:`SAMLUser`, or a mapping merged by :func:`merge_record`. It may be
    ``async def``; :meth:`lookup` then returns an awaitable.

    :param spec: ``module:function`` (the function may be a dotted path).
    :raises ConfigError: when it cannot be imported or is not callable.

    .. code-block:: python

        def admit(user):  # SAML_USERS=python:myapp.users:admit
            if user.first("Country") != "NL":
                return None
            row = get_or_create(user.email, user.first("FirstName"), user.first("LastName"))
            return {"display_name": row.full_name, "role": row.role}

    .. warning:: Whatever the function returns is trusted: it must refuse
       (return ``None``) everyone who should not get in.
    """

    def __init__(self, spec: str) -> None:
        where = f"SAML_USERS=python:{spec}"
        module_name, _, attr = (p.strip() for p in spec.partition(":"))
        if not module_name or not attr:
            raise _bad(f"{where}: must name package.module:function")
        try:
            target: Any = importlib.import_module(module_name)
        except Exception as exc:
            raise _bad(f"{where}: cannot import module {module_name!r}: {type(exc).__name__}: {exc}") from exc
        for part in attr.split("."):
            try:
                target = getattr(target, part)
            except AttributeError:
                raise _bad(f"{where}: module {module_name!r} has no {attr!r}") from None
        if not callable(target):
            raise _bad(f"{where}: {attr!r} is not callable (it is {type(target).__name__})")
        self.spec = spec
        self.hook: Callable[[SAMLUser], Any] = target

    def lookup(self, user: SAMLUser) -> SAMLUser | Awaitable[SAMLUser | None] | None:
        result = self.hook(user)
        if inspect.isawaitable(result):
            return self._finish_async(result, user)
        return self._finish(result, user)

    async def _finish_async(self, pending: Awaitable[Any], user: SAMLUser) -> SAMLUser | None:
        return self._finish(await pending, user)

    def _finish(self, result: Any, user: SAMLUser) -> SAMLUser | None:
        if result is None or isinstance(result, SAMLUser):
            return result
        if isinstance(result, Mapping):
            return merge_record(user, result)
        raise TypeError(
            f"SAML_USERS=python:{self.spec} returned {type(result).__name__};"
            " expected None, a SAMLUser or a mapping"
        )


def directory_from_setting(value: str, *, user_query: str = "") -> UserDirectory:
    """The directory described by a ``SAML_USERS`` value.

    :param value: ``assertion``, ``file:PATH``, ``sql:URL`` or ``python:module:function``.
    :param user_query: ``SAML_USER_QUERY``, required with ``sql:``.
    :raises ConfigError: naming what is wrong.

    >>> type(directory_from_setting("assertion")).__name__
    'AssertionDirectory'
    """
    kind, sep, rest = value.strip().partition(":")
    kind, rest = kind.lower(), rest.strip()
    if kind == "assertion" and not sep:
        return AssertionDirectory()
    if kind in ("file", "sql", "python") and sep:
        if not rest:
            raise _bad(f"SAML_USERS={kind}: needs a value after the colon")
        if kind == "file":
            return FileDirectory(rest)
        if kind == "sql":
            return SQLDirectory(rest, user_query)
        return PythonDirectory(rest)
    raise _bad(f"SAML_USERS must be assertion, file:PATH, sql:URL or python:module:function, got {value!r}")
