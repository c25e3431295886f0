"""User directories (``SAML_USERS``): the :class:`UserDirectory` Protocol and its kinds.

``assertion`` and ``python`` live in :mod:`.base` beside the Protocol; ``file``
(:mod:`.file`) and ``sql`` (:mod:`.sql`) are imported only when chosen.
"""

from __future__ import annotations

from ..masking import redact
from .base import AssertionDirectory, PythonDirectory, UserDirectory, bad_setting, merge_record

__all__ = ["AssertionDirectory", "PythonDirectory", "UserDirectory", "directory_from_setting", "merge_record"]


def directory_from_setting(value: str, *, user_query: str = "", user_id_attribute: str = "") -> UserDirectory:
    """The directory described by a ``SAML_USERS`` value.

    :param value: ``assertion``, ``file:PATH``, ``sql:URL`` or ``python:module:function``.
    :param user_query: ``SAML_USER_QUERY``, required with ``sql:``.
    :param user_id_attribute: ``SAML_USER_ID_ATTRIBUTE``: file and SQL directories
        then match users on that attribute's value instead of the e-mail.
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
            raise bad_setting(f"SAML_USERS={kind}: needs a value after the colon")
        if kind == "file":
            from .file import FileDirectory

            return FileDirectory(rest, user_id_attribute=user_id_attribute)
        if kind == "sql":
            from .sql import SQLDirectory

            return SQLDirectory(rest, user_query, user_id_attribute=user_id_attribute)
        return PythonDirectory(rest)
    raise bad_setting(
        f"SAML_USERS must be assertion, file:PATH, sql:URL or python:module:function, got {redact(value)!r}"
    )
