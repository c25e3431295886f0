"""Signed cookies: one itsdangerous serializer per purpose, key rotation, headers.

``SAML_SECRET_KEY`` is a comma-separated list, newest first: the newest key
signs, every key verifies, so a key can be rotated without logging anyone out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

__all__ = ["CookieCodec", "cookie_header", "cookie_value"]


class CookieCodec:
    """Signs and verifies the middleware's cookies.

    :param secret_keys: newest first, as in ``SAML_SECRET_KEY``.
    :param audience: the app the cookies are for (the middleware passes the SP
        entity ID): it is part of every signature, so a cookie made for another
        app is refused even when both apps were given the same secret.

    >>> codec = CookieCodec(["new-key-0123456789", "old-key-0123456789"], audience="https://a/saml/metadata")
    >>> codec.load_login(codec.dump_login({"r": "_id"}), max_age=600)
    {'r': '_id'}
    >>> other = CookieCodec(["new-key-0123456789"], audience="https://b/saml/metadata")
    >>> other.load_session(codec.dump_session({"u": "x"})) is None
    True
    """

    def __init__(self, secret_keys: Sequence[str], *, audience: str = "") -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is required")
        keys = list(reversed(secret_keys))  # itsdangerous signs with the last one
        bound = f"|{audience}" if audience else ""
        self._session = URLSafeSerializer(keys, salt=f"saml-middleware.session{bound}")
        self._login = URLSafeTimedSerializer(keys, salt=f"saml-middleware.login{bound}")
        self._sid = URLSafeSerializer(keys, salt=f"saml-middleware.session-id{bound}")

    def dump_session(self, payload: dict[str, Any]) -> str:
        return str(self._session.dumps(payload))

    def load_session(self, value: str) -> dict[str, Any] | None:
        try:
            data = self._session.loads(value)
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None

    def dump_session_id(self, sid: str) -> str:
        """The cookie value of a server-side session: its random id, signed."""
        return str(self._sid.dumps(sid))

    def load_session_id(self, value: str) -> str | None:
        try:
            sid = self._sid.loads(value)
        except BadSignature:
            return None
        return sid if isinstance(sid, str) else None

    def dump_login(self, payload: dict[str, Any]) -> str:
        return str(self._login.dumps(payload))

    def load_login(self, value: str, *, max_age: int) -> dict[str, Any] | None:
        """The pending-login payload, or None if forged, tampered with or older than ``max_age``."""
        try:
            data = self._login.loads(value, max_age=max_age)
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None


def cookie_value(header: str, name: str) -> str | None:
    """The first value of cookie ``name`` in a ``Cookie`` header, without parsing the rest.

    The per-request fast path: one ``str.find`` in the common case.

    >>> cookie_value('a=1; __Host-saml_session=x; saml_session="y"', "saml_session")
    'y'
    """
    key = name + "="
    start = 0
    while (i := header.find(key, start)) >= 0:
        if i == 0 or header[i - 1] in " ;":
            end = header.find(";", i)
            return header[i + len(key) : end if end >= 0 else len(header)].strip().strip('"')
        start = i + 1
    return None


def cookie_header(
    name: str,
    value: str,
    *,
    path: str = "/",
    max_age: int | None = None,
    secure: bool = False,
    samesite: str | None = "Lax",
    http_only: bool = True,
) -> str:
    """A ``Set-Cookie`` value. ``max_age=0`` deletes the cookie."""
    parts = [f"{name}={value}", f"Path={path}"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
        if max_age == 0:
            parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    if http_only:
        parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    if samesite:
        parts.append(f"SameSite={samesite}")
    return "; ".join(parts)
