"""The application's user directory, chosen by ``SAML_USERS``.

Given the :class:`SAMLUser` built from a validated assertion, a directory
decides whether that person is admitted and adds the application's own
attributes: ``assertion`` (:class:`AssertionDirectory`, the default),
``file:users.csv|json`` (:class:`FileDirectory`), ``sql:URL`` with
``SAML_USER_QUERY`` (:class:`SQLDirectory`) or ``python:module:function``
(:class:`PythonDirectory`); the factory is
:func:`saml_middleware.users.directory_from_setting`. This module holds the
Protocol and the kinds that need no extra module; ``file`` and ``sql`` import it.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from ..errors import ConfigError
from ..user import SAMLUser, compose, normalize_email

__all__ = [
    "AssertionDirectory",
    "PythonDirectory",
    "UserDirectory",
    "merge_record",
    "normalize_email",
]

logger = logging.getLogger("saml_middleware")

_FIELDS = ("email", "display_name", "name")


@runtime_checkable
class UserDirectory(Protocol):
    """Returns the admitted (enriched) user, ``None`` (a 403 page), or an awaitable of either."""

    def lookup(self, user: SAMLUser) -> SAMLUser | Awaitable[SAMLUser | None] | None: ...


def bad_setting(problem: str) -> ConfigError:
    return ConfigError([problem])


def strings(value: Any) -> list[str]:
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
        changes["email"] = compose(fields["email"])
    if fields.get("display_name") or fields.get("name"):
        changes["display_name"] = fields.get("display_name") or fields["name"]
    for key, value in record.items():
        if key not in _FIELDS and value is not None:
            changes["attributes"][str(key)] = strings(value)
    return replace(user, **changes)


class AssertionDirectory:
    """``SAML_USERS=assertion``: admits everyone the IdP vouches for, unchanged.

    .. warning:: Every account of the IdP tenant gets in. Restrict with
       ``SAML_ALLOWED_DOMAINS`` or Entra's "assignment required", or use a list.
    """

    def lookup(self, user: SAMLUser) -> SAMLUser:
        return user


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
            raise bad_setting(f"{where}: must name package.module:function")
        try:
            target: Any = importlib.import_module(module_name)
        except Exception as exc:
            hint = (
                " (run from the app's directory, or add it to PYTHONPATH)"
                if isinstance(exc, ModuleNotFoundError) and exc.name == module_name.split(".")[0]
                else ""
            )
            raise bad_setting(
                f"{where}: cannot import module {module_name!r}: {type(exc).__name__}: {exc}{hint}"
            ) from exc
        for part in attr.split("."):
            try:
                target = getattr(target, part)
            except AttributeError:
                raise bad_setting(f"{where}: module {module_name!r} has no {attr!r}") from None
        if not callable(target):
            raise bad_setting(f"{where}: {attr!r} is not callable (it is {type(target).__name__})")
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
