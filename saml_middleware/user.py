"""The authenticated user handed to the wrapped application."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SAMLUser", "normalize_email"]


@dataclass(frozen=True)
class SAMLUser:
    """A user vouched for by the IdP and admitted by the user directory.

    Duck-types starlette's ``BaseUser`` so ``request.user.is_authenticated``,
    ``request.user.display_name`` and ``@requires("authenticated")`` work.

    :param email: the matched e-mail (from the directory record when the
        directory has one, else as the IdP sent it, NFC-normalised).
    :param name_id: the full text of the assertion's NameID.
    :param display_name: a name fit for a page header.
    :param attributes: every attribute of the assertion (Entra claim URIs kept
        as names, plus short aliases such as ``given_name``), merged with the
        local attributes of the directory record.
    :param session_index: the IdP's SessionIndex, for single logout.
    :param name_id_format: the NameID's ``Format``, repeated in a LogoutRequest.

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

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def identity(self) -> str:
        return self.email

    def first(self, name: str, default: str | None = None) -> str | None:
        """The first value of attribute ``name``, or ``default``."""
        values = self.attributes.get(name)
        return values[0] if values else default

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (used by sessions and ``saml-middleware verify``)."""
        return {
            "email": self.email,
            "name_id": self.name_id,
            "display_name": self.display_name,
            "attributes": {k: list(v) for k, v in self.attributes.items()},
            "session_index": self.session_index,
            "issuer": self.issuer,
            "name_id_format": self.name_id_format,
        }

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
        )


def normalize_email(email: str) -> str:
    """The key e-mails are matched by: stripped, NFC-normalised, case-folded.

    >>> normalize_email(" Jose\\u0301@Example.COM ") == normalize_email("josé@example.com")
    True

    .. warning:: NFC, never NFKC. Compatibility folding would turn a look-alike
       such as a full-width ``\uff42ob@example.com`` into ``bob@example.com`` and
       hand Bob's account to whoever the IdP knows by the look-alike.
    """
    return unicodedata.normalize("NFC", email.strip()).casefold()
