"""Who the assertion says the user is: e-mail, NameID, attributes, display name."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from lxml import etree

from ..errors import ResponseRejected
from ..user import XML_SPACE, SAMLUser, compose, normalize_email
from .attributes import read_attributes
from .envelope import parse_instant
from .xml import q

__all__ = ["ENTRA_ALIASES", "IdentityReader"]

#: Entra ID claim URIs and the short aliases added beside them.
ENTRA_ALIASES: dict[str, str] = {
    "given_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "surname": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "country": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/country",
    "display_name": "http://schemas.microsoft.com/identity/claims/displayname",
    "object_id": "http://schemas.microsoft.com/identity/claims/objectidentifier",
    "tenant_id": "http://schemas.microsoft.com/identity/claims/tenantid",
    "groups": "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
    "roles": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
}

_EMAIL = re.compile(r"[^@\s<>\"\x00-\x1f\x7f]+@[^@\s<>\"\x00-\x1f\x7f]+\Z")
_EMAIL_CLAIMS = (
    ENTRA_ALIASES["email"],
    "mail",
    "email",
    "urn:oid:0.9.2342.19200300.100.1.3",  # mail, as Shibboleth and other SAML IdPs name it
    "upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
)


def _authn_instant(stmt: etree._Element | None) -> float | None:
    """The AuthnStatement's ``AuthnInstant`` in epoch seconds (checks.py already parsed it)."""
    value = stmt.get("AuthnInstant") if stmt is not None else None
    return parse_instant(value, "AuthnStatement AuthnInstant", "authn_statement") if value else None


def _text(el: etree._Element) -> str:
    # itertext skips comments but keeps the text after them, so
    # "ross@<!-- c -->example.com" reads as the whole address.
    return "".join(str(t) for t in el.itertext()).strip(XML_SPACE)


class IdentityReader:
    """Builds the :class:`SAMLUser` from a verified assertion.

    :param email_attribute: ``"nameid"``, an attribute name or alias, or ``""``
        for auto (NameID if it is an e-mail, then the emailaddress claim,
        ``mail``, ``email``, ``upn``).
    :param attribute_map: extra ``alias -> attribute name`` pairs
        (``SAML_ATTRIBUTE_MAP``), added to Entra's aliases.
    :param allowed_domains: admitted e-mail domains, as :func:`normalize_email` gives them;
        empty admits all.
    :param user_id_attribute: ``SAML_USER_ID_ATTRIBUTE`` (a claim name or alias such as
        ``object_id``): an assertion without a value for it is refused (``no_user_id``).
    """

    def __init__(
        self,
        email_attribute: str = "",
        attribute_map: Mapping[str, str] | None = None,
        allowed_domains: Sequence[str] = (),
        user_id_attribute: str = "",
    ) -> None:
        self.aliases = {**ENTRA_ALIASES, **(attribute_map or {})}
        self.user_id_attribute = user_id_attribute
        self.email_attribute = email_attribute
        self.allowed_domains = tuple(allowed_domains)
        #: attributes read as one value to identify the user: a repeated one is refused
        chosen = [self.aliases.get(n, n) for n in (email_attribute, user_id_attribute) if n]
        self.identity_names = frozenset((*_EMAIL_CLAIMS, *(n for n in chosen if n.lower() != "nameid")))

    def __call__(self, assertion: etree._Element, issuer: str) -> SAMLUser:
        name_id_el = assertion.find(f"{q('saml', 'Subject')}/{q('saml', 'NameID')}")
        name_id = _text(name_id_el) if name_id_el is not None else ""
        attributes = read_attributes(assertion, self.identity_names)
        for alias, claim in self.aliases.items():
            if claim in attributes and alias not in attributes:
                attributes[alias] = attributes[claim]
        try:
            email = self._email(name_id, attributes)
        except ResponseRejected:
            if (
                name_id_el is None
                and assertion.find(f"{q('saml', 'Subject')}/{q('saml', 'EncryptedID')}") is None
            ):
                raise ResponseRejected(
                    "name_id", "the Subject has no NameID and no e-mail claim names the user"
                ) from None
            raise
        domain = normalize_email(email.rsplit("@", 1)[1])
        if self.allowed_domains and domain not in self.allowed_domains:
            raise ResponseRejected("domain_not_allowed", f"domain {domain!r} is not allowed", email=email)
        uid = self.user_id_attribute
        if uid and not any(v.strip(XML_SPACE) for v in attributes.get(self.aliases.get(uid, uid), [])[:1]):
            raise ResponseRejected(
                "no_user_id", f"no {uid!r} attribute (SAML_USER_ID_ATTRIBUTE)", email=email
            )
        first = {k: v[0] for k, v in attributes.items() if v and v[0]}
        display = first.get("display_name") or " ".join(
            x for x in (first.get("given_name"), first.get("surname")) if x
        )
        stmt = assertion.find(q("saml", "AuthnStatement"))
        return SAMLUser(
            email=email,
            name_id=name_id,
            display_name=display or first.get("name") or email,
            attributes=attributes,
            session_index=stmt.get("SessionIndex") if stmt is not None else None,
            issuer=issuer,
            name_id_format=(name_id_el.get("Format") or "") if name_id_el is not None else "",
            authn_instant=_authn_instant(stmt),
        )

    def _email(self, name_id: str, attributes: Mapping[str, list[str]]) -> str:
        if self.email_attribute.lower() == "nameid":
            candidates = [name_id]
        elif self.email_attribute:
            name = self.aliases.get(self.email_attribute, self.email_attribute)
            candidates = attributes.get(name, [])[:1]
        else:
            # An Entra B2B guest's NameID is a UPN such as "ann_contoso.com#EXT#@tenant.onmicrosoft.com":
            # shaped like an address but nobody's mailbox, so the claims come first for it.
            guest = "#EXT#" in name_id.upper()
            claims = [v[0] for c in _EMAIL_CLAIMS if (v := attributes.get(c))]
            candidates = [*claims, name_id] if guest else [name_id, *claims]
        for value in candidates:
            value = compose(value.strip(XML_SPACE))  # NFC, look-alike singletons such as the Kelvin sign kept
            if _EMAIL.match(value):
                return value
        where = self.email_attribute or "NameID or the e-mail claims"
        raise ResponseRejected("no_email", f"no e-mail address in {where} (set SAML_EMAIL_ATTRIBUTE)")
