"""Secrets out of sight: the one masker for settings, URLs, error messages and logs.

Which settings are secret is marked on the :class:`~saml_middleware.config.Settings`
fields themselves (``field(metadata=SECRET)``, read by :func:`secrecy`): ``"value"`` fields
(keys, tokens) are never shown at all; ``"url"`` fields (URLs that may carry a
user name and password, such as ``SAML_STORE_URL`` or ``SAML_USERS=sql:...``)
are shown with their credentials replaced by ``***``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import Field
from types import MappingProxyType
from typing import Any

__all__ = ["MASK", "SECRET", "SECRET_URL", "redact", "secrecy", "shown_secret"]

MASK = "***"
#: ``field(metadata=SECRET)``: a key or token, never shown (only whether it is set).
SECRET: Mapping[str, str] = MappingProxyType({"secret": "value"})
#: ``field(metadata=SECRET_URL)``: a URL (or a value holding one) shown with its credentials masked.
SECRET_URL: Mapping[str, str] = MappingProxyType({"secret": "url"})

# scheme://userinfo@ : the userinfo runs to the last "@" before the path, query or fragment
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/?#'\"<>]*)@")
# store URLs (SAML_STORE_URL): the password may hold "/", "?" or "#" as typed, so the userinfo
# runs to the last "@" of the URL (saml_middleware/stores/urls.py states the rule)
_STORE_USERINFO = re.compile(
    r"(?P<scheme>\b(?:rediss?|unix|rediss?\+sentinel|rediss?\+cluster)://)(?P<userinfo>[^\s'\"<>]*)@"
)
# ?token=... / &password=... / ;api_key=... : query parameters whose name says they are secret
_QUERY_SECRET = re.compile(
    r"(?P<name>[?&;][^=&#\s'\"<>]*(?:token|secret|pass|pwd|key|sig|auth|credential)[^=&#\s'\"<>]*=)"
    r"[^&#;\s'\"<>]+",
    re.IGNORECASE,
)


def _userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match["userinfo"].partition(":")
    # "user:password@" keeps the user name; a lone "token@" may itself be the credential
    return match["scheme"] + (f"{user}:{MASK}" if colon else MASK) + "@"


def redact(text: str) -> str:
    """``text`` with every credential of the URLs in it replaced by ``***``.

    The password (or a lone user part, which may be a token) of each
    ``scheme://user:password@host`` and the value of each query parameter whose
    name contains ``token``, ``secret``, ``pass``, ``pwd``, ``key``, ``sig``,
    ``auth`` or ``credential``. Works on a bare URL or on a message that quotes
    one (``SAML_USERS=sql:postgresql://app:pw@db/app``, an httpx error).

    >>> redact("redis://:s3cret@cache:6379/0")
    'redis://:***@cache:6379/0'
    >>> redact("sql:postgresql://app:p@ss@db/app")
    'sql:postgresql://app:***@db/app'
    >>> redact("redis+sentinel://:pa/ss#w?d@s1:26379,s2:26379/mymaster")
    'redis+sentinel://:***@s1:26379,s2:26379/mymaster'
    >>> redact("https://idp.example/metadata?appid=42&access_token=abc")
    'https://idp.example/metadata?appid=42&access_token=***'
    """
    text = _STORE_USERINFO.sub(_userinfo, text)
    return _QUERY_SECRET.sub(lambda m: m["name"] + MASK, _USERINFO.sub(_userinfo, text))


def secrecy(f: Field[Any]) -> str | None:
    """How secret a settings field is, by its mark: ``"value"`` (never shown), ``"url"``
    (shown with the credentials of any URL in it masked), or ``None`` (shown as is)."""
    kind = f.metadata.get("secret")
    return str(kind) if kind else None


def shown_secret(kind: str, value: Any) -> str:
    """How a secret setting of ``kind`` (``"value"`` or ``"url"``) is shown: never its value."""
    if kind == "url":
        return redact(str(value))
    count = len(value) if isinstance(value, tuple) else int(bool(value))
    return f"{MASK} ({count} set)" if count else "(not set)"
