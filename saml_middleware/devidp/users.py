"""The dev IdP's directory: test users with Entra-like profile claims."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from types import MappingProxyType
from typing import Any

from ..user import normalize_email

__all__ = ["DEFAULT_USERS", "DevUser", "load_users", "parse_users", "with_groups"]


def _check_str(name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, not {type(value).__name__}")


@dataclass(frozen=True)
class DevUser:
    """A user the dev IdP can sign in, with the profile Entra ID would release.

    Only ``email`` is required. ``display_name`` defaults to "given surname"
    (or the e-mail), ``object_id`` to a UUID derived from the e-mail, so it is
    stable across runs, as an Entra object id is.

    :param email: the sign-in name; becomes the NameID and the ``name`` and
        ``emailaddress`` claims.
    :param groups: group object ids, released as the ``groups`` claim.
    :param extra: more claims, attribute name to values, released as is.
    """

    email: str
    given_name: str = ""
    surname: str = ""
    display_name: str = ""
    object_id: str = ""
    country: str | None = None
    groups: tuple[str, ...] = ()
    extra: Mapping[str, list[str]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _check_str("email", self.email)
        if "@" not in self.email or any(c.isspace() for c in self.email):
            raise ValueError(f"email {self.email!r} is not an e-mail address")
        for name in ("given_name", "surname", "display_name", "object_id"):
            _check_str(name, getattr(self, name))
        _check_str("country", self.country, optional=True)
        display = self.display_name or f"{self.given_name} {self.surname}".strip() or self.email
        object.__setattr__(self, "display_name", display)
        if self.object_id:
            try:
                oid = str(uuid.UUID(self.object_id))
            except ValueError:
                raise ValueError(f"object_id {self.object_id!r} is not a UUID") from None
        else:
            oid = str(uuid.uuid5(uuid.NAMESPACE_URL, "mailto:" + self.email.lower()))
        object.__setattr__(self, "object_id", oid)
        if isinstance(self.groups, str) or not isinstance(self.groups, Sequence):
            raise ValueError("groups must be a list of strings")
        for group in self.groups:
            _check_str("each group", group)
        object.__setattr__(self, "groups", tuple(self.groups))
        if not isinstance(self.extra, Mapping):
            raise ValueError("extra must map claim names to lists of strings")
        extra: dict[str, list[str]] = {}
        for claim, values in self.extra.items():
            if not isinstance(claim, str) or not claim:
                raise ValueError(f"extra claim name {claim!r} must be a non-empty string")
            if isinstance(values, str) or not isinstance(values, Sequence):
                raise ValueError(f"extra claim {claim!r} must have a list of strings")
            for value in values:
                _check_str(f"each value of extra claim {claim!r}", value)
            extra[claim] = list(values)
        object.__setattr__(self, "extra", MappingProxyType(extra))


_KEYS = frozenset(f.name for f in fields(DevUser))


def parse_users(data: Any, source: str) -> list[DevUser]:
    """Users from decoded JSON ``data`` (a list of objects with DevUser's keys).

    :param source: names the origin (a file name) in error messages.
    :raises ValueError: naming ``source`` and the offending entry.
    """
    if not isinstance(data, list):
        raise ValueError(f"{source}: expected a JSON list of user objects")
    users: list[DevUser] = []
    seen: set[str] = set()
    for index, entry in enumerate(data):
        where = f"{source}: entry {index}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: expected an object, not {type(entry).__name__}")
        if "email" in entry:
            where += f" ({entry['email']!r})"
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown}; allowed: {sorted(_KEYS)}")
        if "email" not in entry:
            raise ValueError(f"{where}: 'email' is required")
        try:
            user = DevUser(**entry)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if normalize_email(user.email) in seen:
            raise ValueError(f"{where}: duplicate email")
        seen.add(normalize_email(user.email))
        users.append(user)
    return users


def load_users(path: str | os.PathLike[str]) -> list[DevUser]:
    """Read users from a JSON file shaped like the shipped ``users.json``.

    :raises ValueError: when the file is not valid JSON or an entry is
        invalid; the message names the file and the entry.
    :raises OSError: when the file cannot be read.
    """
    name = os.fspath(path)
    with open(name, encoding="utf-8") as fh:
        text = fh.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name}: not valid JSON: {exc}") from None
    return parse_users(data, name)


def with_groups(users: Sequence[DevUser], count: int, *, names: bool = False) -> list[DevUser]:
    """Each of ``users`` with ``count`` more groups, as Entra releases them for a member of many
    groups (up to 150 in a SAML token, then the ``groups.link`` overage claim instead).

    :param names: long group names (cloud-only groups with the name as the claim's source
        attribute) instead of object ids (Entra's default).

    >>> [len(u.groups) for u in with_groups(DEFAULT_USERS[:2], 150)]
    [151, 152]
    >>> with_groups(DEFAULT_USERS[:1], 1, names=True)[0].groups[-1]
    'Contoso-Engineering-Platform-Project-000-Members-Global'
    """
    departments = ("Engineering-Platform", "Finance-Operations", "Sales-EMEA", "Research-Labs")
    extra = tuple(
        f"Contoso-{departments[i % len(departments)]}-Project-{i:03d}-Members-Global"
        if names
        else str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://contoso.example/groups/{i}"))
        for i in range(count)
    )
    return [replace(u, groups=(*u.groups, *extra)) for u in users]


def _load_defaults() -> tuple[DevUser, ...]:
    resource = resources.files(__package__ or "saml_middleware.devidp") / "users.json"
    return tuple(parse_users(json.loads(resource.read_text("utf-8")), "users.json"))


#: B.Simon (the name Microsoft's tutorials use) and three more contoso.com users.
DEFAULT_USERS: tuple[DevUser, ...] = _load_defaults()
