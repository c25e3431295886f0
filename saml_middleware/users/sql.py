"""``SAML_USERS=sql:URL`` with ``SAML_USER_QUERY``: users from the application's own database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..masking import redact
from ..user import SAMLUser, normalize_email
from .base import bad_setting, merge_record

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.sql.elements import TextClause

__all__ = ["SQLDirectory"]


class SQLDirectory:
    """``SAML_USERS=sql:URL`` with ``SAML_USER_QUERY``: users from a database table.

    The query runs with the bound parameter ``:email`` (the IdP's e-mail as
    :func:`~saml_middleware.user.normalize_email` gives it: NFC, ``A-Z``
    lower-cased, no other folding) and,
    with ``SAML_USER_ID_ATTRIBUTE``, ``:user_id`` (that attribute's value); the
    first row admits the user and its columns become local attributes
    (``email``, ``display_name`` and ``name`` set those fields; see
    :func:`merge_record`). No row refuses.

    :param url: an SQLAlchemy database URL, e.g. ``sqlite:///app.db``.
    :param query: a ``SELECT`` using ``:email`` and/or (with ``user_id_attribute``) ``:user_id``.
    :param user_id_attribute: ``SAML_USER_ID_ATTRIBUTE``, the attribute ``:user_id`` is read from.
    :raises ConfigError: when SQLAlchemy, the driver or ``:email`` is missing.

    .. code-block:: shell

        SAML_USERS=sql:postgresql+psycopg://app@db/app
        SAML_USER_QUERY="SELECT email, full_name AS display_name, role
                         FROM users WHERE email_key = :email"

    .. warning:: Compare ``:email`` with stored values normalised the same way
       (a column filled with ``normalize_email(email)``), never with the
       database's ``lower()``, ``upper()`` or a case-insensitive collation: those
       fold Unicode (the Kelvin sign to ``k``, ``ß`` to ``ss`` in some
       collations) and would let a look-alike address match another person's
       row. ``lookup`` blocks on the database.
    """

    def __init__(self, url: str, query: str, *, user_id_attribute: str = "") -> None:
        try:
            import sqlalchemy
        except ImportError:
            raise bad_setting(
                "SAML_USERS=sql: needs SQLAlchemy 2 (the sql extra): pip install 'SQLAlchemy>=2.0'"
            ) from None
        if not query.strip():
            raise bad_setting("SAML_USER_QUERY is required with SAML_USERS=sql:... (a query using :email)")
        self._query: TextClause = sqlalchemy.text(query)
        params = set(self._query.compile().params)
        allowed = {"email", "user_id", "tenant"} if user_id_attribute else {"email", "tenant"}
        if params - allowed:
            hint = "" if user_id_attribute else " (:user_id needs SAML_USER_ID_ATTRIBUTE)"
            raise bad_setting(
                f"SAML_USER_QUERY may only use {sorted(allowed)}, not {sorted(params - allowed)}{hint}"
            )
        if not params & (allowed - {"tenant"}):
            raise bad_setting("SAML_USER_QUERY must use the bind parameter :email, e.g. email = :email")
        self._params = params
        self._user_id_attribute = user_id_attribute
        try:
            self._engine: Engine = sqlalchemy.create_engine(url)
        except ModuleNotFoundError as exc:
            raise bad_setting(
                f"SAML_USERS=sql: the database driver {exc.name!r} is not installed: pip install it "
                "(e.g. psycopg for postgresql+psycopg://, pymysql for mysql+pymysql://)"
            ) from None
        except (sqlalchemy.exc.ArgumentError, ImportError) as exc:
            raise bad_setting(f"SAML_USERS=sql: unusable database URL: {redact(str(exc))}") from None

    def lookup(self, user: SAMLUser) -> SAMLUser | None:
        with self._engine.connect() as conn:
            email = normalize_email(user.email)
            values = {
                "email": email,
                "user_id": user.first(self._user_id_attribute, ""),
                "tenant": user.tenant,
            }
            row = conn.execute(self._query, {k: v for k, v in values.items() if k in self._params}).first()
        return None if row is None else merge_record(user, dict(row._mapping))

    def close(self) -> None:
        """Close the pooled database connections."""
        self._engine.dispose()
