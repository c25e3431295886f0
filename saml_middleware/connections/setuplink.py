"""Setup links: a signed, expiring URL that hands one connection's set-up to the customer's IT admin.

``saml-middleware connections setup-link acme`` prints one. It opens
``{BASE_URL}{PREFIX}/c/acme/setup?token=...``; the token is signed with
``SAML_SECRET_KEY`` (newest key signs, every key verifies) under a salt of its own, names
the connection it was made for, and is refused after ``SAML_SETUP_LINK_TTL`` seconds.
A link made for ``acme`` opens nothing of ``beta``.

>>> from ..config import Settings
>>> s = Settings(base_url="https://app.example.com", secret_key=("k" * 32,))
>>> url = issue_setup_link(s, "acme", now=1000.0)
>>> url.startswith("https://app.example.com/saml/c/acme/setup?token=")
True
>>> token = url.split("token=", 1)[1]
>>> check_setup_token(s, token, "acme", now=1000.0 + 3600)  # valid until (epoch seconds)
87400
>>> check_setup_token(s, token, "beta", now=1000.0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
saml_middleware.connections.setuplink.SetupLinkRefused: other_connection: this link was made for ...
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

from ..config import Settings

__all__ = ["SALT", "SetupLinkRefused", "check_setup_token", "issue_setup_link", "setup_path"]

#: the salt of setup-link tokens: a session or login cookie never passes as one, nor the reverse
SALT = "saml-middleware.setup-link"

#: reason -> what the admin is told (the page never says more)
MESSAGES = {
    "missing": "this address has no setup token: open the whole link you were given",
    "tampered": "this link is not valid (changed or cut off when copied): ask for a new one",
    "expired": "this link has expired: ask the application's operator for a new one",
    "other_connection": "this link was made for another connection",
}


class SetupLinkRefused(Exception):
    """A setup token that opens nothing.

    :ivar reason: ``missing``, ``tampered``, ``expired`` or ``other_connection``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason}: {MESSAGES[reason]}")
        self.reason = reason
        self.message = MESSAGES[reason]


def setup_path(settings: Settings, connection_id: str) -> str:
    """``{PREFIX}/c/{id}/setup``: where a connection's setup page lives."""
    return f"{settings.path_prefix}/c/{connection_id}/setup"


def _serializer(settings: Settings) -> URLSafeSerializer:
    # itsdangerous signs with the last key and verifies with every one
    return URLSafeSerializer(list(reversed(settings.secret_key)), salt=f"{SALT}|{settings.base_url}")


def issue_setup_link(settings: Settings, connection_id: str, *, now: float) -> str:
    """The full setup URL for ``connection_id``, valid ``SAML_SETUP_LINK_TTL`` seconds from ``now``.

    :param now: epoch seconds (the CLI passes ``time.time()``).

    .. warning:: whoever holds the link can set up (and switch on) that connection's
       single sign-on until it expires: send it to the customer's IT admin only.
    """
    token = _serializer(settings).dumps({"c": connection_id, "e": int(now) + settings.setup_link_ttl})
    return f"{settings.base_url}{setup_path(settings, connection_id)}?token={token}"


def check_setup_token(settings: Settings, token: str | None, connection_id: str, *, now: float) -> int:
    """Accept ``token`` for ``connection_id`` at ``now`` (returning when it expires), or raise.

    :raises SetupLinkRefused: with the reason (missing, tampered, expired, other_connection).
    """
    if not token:
        raise SetupLinkRefused("missing")
    try:
        data = _serializer(settings).loads(token)
    except BadSignature:
        raise SetupLinkRefused("tampered") from None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str) or not isinstance(data.get("e"), int):
        raise SetupLinkRefused("tampered")
    if data["c"] != connection_id:
        raise SetupLinkRefused("other_connection")
    if now >= data["e"]:
        raise SetupLinkRefused("expired")
    return int(data["e"])
