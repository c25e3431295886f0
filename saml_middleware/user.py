"""The authenticated user handed to the wrapped application."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

__all__ = [
    "GROUPS_CLAIM",
    "GROUPS_LINK_CLAIM",
    "ROLES_CLAIM",
    "XML_SPACE",
    "SAMLUser",
    "compose",
    "normalize_email",
]

#: Entra ID's group claim (object ids, or names when so configured), its app-role claim, and the
#: claim Entra sends *instead of* groups when a user has too many (the groups "overage").
GROUPS_CLAIM = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
ROLES_CLAIM = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
GROUPS_LINK_CLAIM = "http://schemas.microsoft.com/claims/groups.link"

#: the only characters trimmed around an address or a claim value: XML's white space. Unicode
#: spaces (no-break, ideographic, line separator...) stay, so an address padded with them is no
#: address at all rather than quietly the same as the unpadded one.
XML_SPACE = " \t\r\n"


@dataclass(frozen=True)
class SAMLUser:
    """A user vouched for by the IdP and admitted by the user directory.

    Duck-types starlette's ``BaseUser`` so ``request.user.is_authenticated``,
    ``request.user.display_name`` and ``@requires("authenticated")`` work.

    :param email: the matched e-mail (from the directory record when the
        directory has one, else as the IdP sent it, NFC-normalised by :func:`compose`).
    :param name_id: the full text of the assertion's NameID.
    :param display_name: a name fit for a page header.
    :param attributes: every attribute of the assertion (Entra claim URIs kept
        as names, plus short aliases such as ``given_name``), merged with the
        local attributes of the directory record.
    :param session_index: the IdP's SessionIndex, for single logout.
    :param name_id_format: the NameID's ``Format``, repeated in a LogoutRequest.
    :param connection: with ``SAML_CONNECTIONS``, the id of the connection (customer IdP
        set-up) the user signed in through; ``""`` in single-IdP mode.
    :param tenant: the tenant the app knows that connection by (default its id); ``""``
        in single-IdP mode.
    :param authn_instant: when the IdP authenticated the user (epoch seconds, the
        assertion's ``AuthnInstant``), for ``max_auth_age`` step-up rules; ``None`` if unknown.

    >>> user = SAMLUser("b.simon@contoso.com", "b.simon@contoso.com", "B. Simon")
    >>> user.is_authenticated, user.identity
    (True, 'b.simon@contoso.com')
    """

    email: str
    name_id: str
    display_name: str = ""
    attributes: Mapping[str, list[str]] = field(default_factory=dict)
    session_index: str | None = None
    issuer: str = ""
    name_id_format: str = ""
    connection: str = ""
    tenant: str = ""
    authn_instant: float | None = None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def identity(self) -> str:
        return self.email

    @cached_property
    def groups(self) -> tuple[str, ...]:
        """The user's groups: Entra's ``.../claims/groups`` claim, else a ``groups`` attribute
        (computed once per user object: a session seen before reuses it).

        >>> SAMLUser("a@b.c", "a@b.c", attributes={GROUPS_CLAIM: ["g1", "g2"]}).groups
        ('g1', 'g2')
        """
        return tuple(self.attributes.get(GROUPS_CLAIM) or self.attributes.get("groups") or ())

    @cached_property
    def roles(self) -> tuple[str, ...]:
        """The user's app roles: Entra's ``.../claims/role`` claim, else a ``roles`` attribute."""
        return tuple(self.attributes.get(ROLES_CLAIM) or self.attributes.get("roles") or ())

    def first(self, name: str, default: str | None = None) -> str | None:
        """The first value of attribute ``name``, or ``default``."""
        values = self.attributes.get(name)
        return values[0] if values else default

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (used by sessions and ``saml-middleware verify``).

        ``connection``, ``tenant`` and ``authn_instant`` appear only when set, so single-IdP
        output (and cookie size) is what it was before connections existed.
        """
        out: dict[str, Any] = {
            "email": self.email,
            "name_id": self.name_id,
            "display_name": self.display_name,
            "attributes": {k: list(v) for k, v in self.attributes.items()},
            "session_index": self.session_index,
            "issuer": self.issuer,
            "name_id_format": self.name_id_format,
        }
        if self.connection:
            out["connection"] = self.connection
            out["tenant"] = self.tenant
        if self.authn_instant is not None:
            out["authn_instant"] = self.authn_instant
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SAMLUser:
        return cls(
            email=str(data["email"]),
            name_id=str(data.get("name_id", "")),
            display_name=str(data.get("display_name", "")),
            attributes={str(k): [str(x) for x in v] for k, v in data.get("attributes", {}).items()},
            session_index=data.get("session_index"),
            issuer=str(data.get("issuer", "")),
            name_id_format=str(data.get("name_id_format") or ""),
            connection=str(data.get("connection") or ""),
            tenant=str(data.get("tenant") or ""),
            authn_instant=_instant(data.get("authn_instant")),
        )


def _instant(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


#: A-Z to a-z and nothing else: the only case folding identities ever get.
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _singleton(ch: str) -> bool:
    """Does NFC replace ``ch`` by another single character (KELVIN SIGN -> K, OHM SIGN -> Omega)?"""
    decomposed = unicodedata.normalize("NFD", ch)
    return len(decomposed) == 1 and decomposed != ch


def normalize_email(email: str) -> str:
    """The key two e-mail addresses (or two domains) are compared by; the one rule everywhere.

    Stripped, NFC-normalised, then lower-cased for ``A-Z`` only. Two addresses
    are the same user exactly when their keys are equal. The user directories,
    ``SAML_ADMIN_EMAILS``, ``SAML_ALLOWED_DOMAINS``, the session index behind
    ``sessions revoke`` and the dev IdP all use it.

    >>> normalize_email(" Jose\u0301@Example.COM ") == normalize_email("josé@example.com")
    True
    >>> normalize_email("b.\u017fimon@contoso.com") == normalize_email("b.simon@contoso.com")
    False

    .. warning:: No Unicode case folding and no compatibility folding, ever:
       ``casefold()`` maps the long s (``\\u017f``) to ``s`` and ``ß`` to ``ss``,
       ``lower()`` maps the Kelvin sign to ``k`` and ``İ`` to ``i`` + a dot, NFKC
       maps the full-width ``\\uff42`` to ``b``. Each would hand one person's account
       to whoever the IdP knows by the look-alike. For the same reason the few
       characters that NFC itself replaces by another single character (the
       Kelvin sign, the Ohm sign, the Angstrom sign, CJK compatibility
       ideographs) are kept as they are. Non-ASCII letters therefore match only
       in the same case (``É`` is not ``é``); punycode (``xn--...``) and Unicode
       spellings of a domain are different domains.
    """
    return compose(email.strip(XML_SPACE)).translate(_ASCII_LOWER)


def compose(text: str) -> str:
    """``text`` in Unicode NFC, except that a character NFC would replace by another single
    character (the Kelvin sign by ``K``) is kept: how an e-mail is spelled once read.

    >>> compose("Jose\u0301") == "Jos\u00e9", compose("\u212aate") == "\u212aate"
    (True, True)
    """
    if text.isascii():
        return text
    parts: list[str] = []
    start = 0
    for i, ch in enumerate(text):
        if ch > "\x7f" and _singleton(ch):
            parts += [unicodedata.normalize("NFC", text[start:i]), ch]
            start = i + 1
    parts.append(unicodedata.normalize("NFC", text[start:]))
    return "".join(parts)
