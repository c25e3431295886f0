"""SAML 2.0 Responses shaped like Entra ID's (element order, namespaces, claims)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from lxml import etree

from .users import DevUser

__all__ = [
    "ASSERTION_NS",
    "PROTOCOL_NS",
    "build_response",
    "format_instant",
    "user_claims",
]

ASSERTION_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
PROTOCOL_NS = "urn:oasis:names:tc:SAML:2.0:protocol"

_A = f"{{{ASSERTION_NS}}}"
_P = f"{{{PROTOCOL_NS}}}"
_EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
_PASSWORD_PROTECTED = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
_MS = "http://schemas.microsoft.com"
_WS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"
_PASSWORD_METHOD = f"{_MS}/ws/2008/06/identity/authenticationmethod/password"
# Entra writes the assertion namespace as the default one (typed Any for lxml-stubs).
_DEFAULT_NS: dict[Any, str] = {None: ASSERTION_NS}

#: Entra's bearer confirmations and conditions, in seconds around "now".
SUBJECT_CONFIRMATION_LIFETIME = 5 * 60
NOT_BEFORE_SKEW = 5 * 60
ASSERTION_LIFETIME = 60 * 60


def format_instant(timestamp: float) -> str:
    """A POSIX timestamp as SAML's UTC ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (milliseconds)."""
    seconds, millis = divmod(round(timestamp * 1000), 1000)
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{millis:03d}Z"


def user_claims(user: DevUser, *, tenant_id: str, issuer: str) -> list[tuple[str, list[str]]]:
    """The attributes Entra releases for ``user``, in Entra's order; empty ones left out."""
    claims: list[tuple[str, list[str]]] = [
        (f"{_MS}/identity/claims/tenantid", [tenant_id]),
        (f"{_MS}/identity/claims/objectidentifier", [user.object_id]),
        (f"{_MS}/identity/claims/displayname", [user.display_name]),
        (f"{_MS}/identity/claims/identityprovider", [issuer]),
        (f"{_MS}/claims/authnmethodsreferences", [_PASSWORD_METHOD]),
        (f"{_WS}/givenname", [user.given_name]),
        (f"{_WS}/surname", [user.surname]),
        (f"{_WS}/emailaddress", [user.email]),
        (f"{_WS}/name", [user.email]),
        (f"{_WS}/country", [user.country or ""]),
        (f"{_MS}/ws/2008/06/identity/claims/groups", list(user.groups)),
        *((name, list(values)) for name, values in user.extra.items()),
    ]
    return [(name, [v for v in values if v]) for name, values in claims if any(values)]


def build_response(
    user: DevUser,
    *,
    issuer: str,
    tenant_id: str,
    acs_url: str,
    audience: str,
    in_response_to: str | None,
    now: float,
    new_id: Callable[[], str],
) -> tuple[etree._Element, etree._Element]:
    """Build an unsigned ``samlp:Response`` and return it with its ``Assertion``.

    Layout as Entra's: the Response uses the ``samlp`` prefix, the Issuer and
    Assertion the SAML assertion namespace as default namespace. Bearer
    confirmation expires after 5 minutes; Conditions run from 5 minutes
    before ``now`` to one hour after; the session index is a fresh ID.
    """
    instant = format_instant(now)
    response_id, assertion_id, session_index = new_id(), new_id(), new_id()
    response = etree.Element(f"{_P}Response", nsmap={"samlp": PROTOCOL_NS})
    response.set("ID", response_id)
    response.set("Version", "2.0")
    response.set("IssueInstant", instant)
    response.set("Destination", acs_url)
    if in_response_to is not None:
        response.set("InResponseTo", in_response_to)
    etree.SubElement(response, f"{_A}Issuer", nsmap=_DEFAULT_NS).text = issuer
    status = etree.SubElement(response, f"{_P}Status")
    etree.SubElement(status, f"{_P}StatusCode", Value=_SUCCESS)

    assertion = etree.SubElement(response, f"{_A}Assertion", nsmap=_DEFAULT_NS)
    assertion.set("ID", assertion_id)
    assertion.set("IssueInstant", instant)
    assertion.set("Version", "2.0")
    etree.SubElement(assertion, f"{_A}Issuer").text = issuer

    subject = etree.SubElement(assertion, f"{_A}Subject")
    etree.SubElement(subject, f"{_A}NameID", Format=_EMAIL_FORMAT).text = user.email
    confirmation = etree.SubElement(subject, f"{_A}SubjectConfirmation", Method=_BEARER)
    data = etree.SubElement(confirmation, f"{_A}SubjectConfirmationData")
    if in_response_to is not None:
        data.set("InResponseTo", in_response_to)
    data.set("NotOnOrAfter", format_instant(now + SUBJECT_CONFIRMATION_LIFETIME))
    data.set("Recipient", acs_url)

    conditions = etree.SubElement(assertion, f"{_A}Conditions")
    conditions.set("NotBefore", format_instant(now - NOT_BEFORE_SKEW))
    conditions.set("NotOnOrAfter", format_instant(now + ASSERTION_LIFETIME))
    restriction = etree.SubElement(conditions, f"{_A}AudienceRestriction")
    etree.SubElement(restriction, f"{_A}Audience").text = audience

    statement = etree.SubElement(assertion, f"{_A}AttributeStatement")
    for name, values in user_claims(user, tenant_id=tenant_id, issuer=issuer):
        attribute = etree.SubElement(statement, f"{_A}Attribute", Name=name)
        for value in values:
            etree.SubElement(attribute, f"{_A}AttributeValue").text = value

    authn = etree.SubElement(assertion, f"{_A}AuthnStatement")
    authn.set("AuthnInstant", instant)
    authn.set("SessionIndex", session_index)
    context = etree.SubElement(authn, f"{_A}AuthnContext")
    etree.SubElement(context, f"{_A}AuthnContextClassRef").text = _PASSWORD_PROTECTED
    return response, assertion
