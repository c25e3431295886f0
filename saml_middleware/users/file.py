"""``SAML_USERS=file:users.csv`` or ``file:users.json``: a list of admitted users kept in a file."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..user import SAMLUser, normalize_email
from .base import bad_setting, merge_record

__all__ = ["FileDirectory"]

logger = logging.getLogger("saml_middleware")

_Records = dict[str, dict[str, Any]]
_Rows = list[tuple[str, dict[str, Any]]]
_SCALARS = (str, int, float, bool)


class FileDirectory:
    """``SAML_USERS=file:users.csv`` or ``file:users.json``: a list of admitted users.

    CSV: a header row with an ``email`` column; other columns are local
    attributes (empty cells are left out). JSON: a list of objects each with
    ``email``, or an object mapping e-mail to an attributes object. E-mails
    match case-insensitively (:func:`normalize_email`). With
    ``SAML_USER_ID_ATTRIBUTE`` (``user_id_attribute``) users are matched instead
    on that attribute's value, exactly, against the column named like the
    setting (e.g. ``object_id``) or ``user_id``. With connections (``SAML_CONNECTIONS``) a row
    may have a ``tenant`` column/field: such a row only matches users of that tenant
    (``SAMLUser.tenant``), so one address may have a row per tenant; a row without one
    matches in every tenant.

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
        user_id_attribute: str = "",
    ) -> None:
        self.path, self._where = Path(path), f"SAML_USERS=file:{path}"
        self._id_attribute = user_id_attribute
        parse = {".csv": _parse_csv, ".json": _parse_json}.get(self.path.suffix.lower())
        if parse is None:
            raise bad_setting(f"{self._where}: the file name must end in .csv or .json")
        self._parse, self._clock, self._interval = parse, clock, check_interval
        self._lock = threading.Lock()
        self._stamp = self._signature()
        self._records = self._load()
        self._checked = clock()

    def lookup(self, user: SAMLUser) -> SAMLUser | None:
        self._refresh()
        if self._id_attribute:
            key = (user.first(self._id_attribute) or "").strip()
        else:
            key = normalize_email(user.email)
        records = self._records
        record = (records.get(f"{user.tenant}\0{key}") if user.tenant else None) or records.get(key)
        if record is None:
            return None
        return merge_record(user, {k: v for k, v in record.items() if k != "tenant"})

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
            raise bad_setting(f"{self._where}: no such file (in {os.getcwd()})") from None
        except (OSError, ValueError, csv.Error) as exc:  # ValueError: also bad UTF-8
            raise bad_setting(f"{self._where}: {exc}") from None
        problems: list[str] = []
        records: _Records = {}
        seen: dict[str, str] = {}
        what = f"user id ({self._id_attribute} or user_id)" if self._id_attribute else "e-mail"
        for place, record in rows:
            key = self._key(record)
            tenant = record.get("tenant")
            if key and isinstance(tenant, str) and tenant.strip():
                key = f"{tenant.strip()}\0{key}"  # matches that tenant's users only
            if not key:
                problems.append(f"{self._where}: {place} has no {what}")
            elif key in seen:
                problems.append(f"{self._where}: {place} repeats the {what} of {seen[key]}")
            else:
                seen[key], records[key] = place, record
        if problems:
            raise ConfigError(problems)
        return records

    def _key(self, record: dict[str, Any]) -> str:
        """The e-mail, or with ``SAML_USER_ID_ATTRIBUTE`` the column named like it or ``user_id``."""
        if self._id_attribute:
            value = record.get(self._id_attribute)
            value = record.get("user_id") if value is None else value
            return str(value).strip() if isinstance(value, (str, int)) else ""
        email = record.get("email")
        return normalize_email(email) if isinstance(email, str) else ""

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
