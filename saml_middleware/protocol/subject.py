"""The Web Browser SSO profile's rules on the Subject, the login binding and the AuthnStatement.

SAML profiles 4.1.4.2 and 4.1.4.3, read strictly: a bearer confirmation for this ACS, the
login the response answers (``InResponseTo`` on the Response or on the bearer
``SubjectConfirmationData``, whichever is present; equal when both are), one NameID that is
not blank, and an ``AuthnStatement`` (an assertion without one is not a login).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

from ..errors import ResponseRejected
from .envelope import parse_instant
from .xml import q

__all__ = [
    "Expected",
    "bearer_confirmations",
    "check_authn_statements",
    "check_bearers",
    "check_in_response_to",
    "same_url",
]

BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
_IDENTIFIERS = ("NameID", "EncryptedID", "BaseID")


@dataclass(frozen=True)
class Expected:
    """What this SP expects of a response to it (re-exported by ``checks``)."""

    acs_url: str
    sp_entity_id: str
    idp_entity_id: str
    request_id: str | None
    allow_unsolicited: bool
    clock_skew: float
    max_age: float
    #: SAML_ALLOW_MISSING_AUTHN_STATEMENT: accept an assertion without an AuthnStatement
    allow_missing_authn_statement: bool = False


def same_url(a: str, b: str) -> bool:
    """URL equality up to RFC 3986 normalisation of scheme and host case and an empty path."""
    if a == b:
        return True
    x, y = urlsplit(a.strip()), urlsplit(b.strip())
    return (x.scheme.lower(), x.netloc.lower(), x.path or "/", x.query) == (
        y.scheme.lower(),
        y.netloc.lower(),
        y.path or "/",
        y.query,
    )


def bearer_confirmations(assertion: etree._Element) -> list[etree._Element]:
    """The bearer ``SubjectConfirmation`` elements of the assertion's Subject."""
    subject = assertion.find(q("saml", "Subject"))
    confirmations = [] if subject is None else subject.findall(q("saml", "SubjectConfirmation"))
    return [c for c in confirmations if c.get("Method") == BEARER]


def check_in_response_to(response: etree._Element, bearers: list[etree._Element], expected: Expected) -> None:
    """Bind the response to this browser's login, or admit it as unsolicited.

    ``InResponseTo`` is optional on the Response (SAML core 3.2.2) and on the bearer
    ``SubjectConfirmationData`` (profiles 4.1.4.2): the login is bound to whichever is
    present, and when several are present they must all name the same request.
    """
    named = [("Response", response.get("InResponseTo"))]
    for conf in bearers:
        data = conf.find(q("saml", "SubjectConfirmationData"))
        named.append(("SubjectConfirmationData", None if data is None else data.get("InResponseTo")))
    present = [(where, value) for where, value in named if value is not None]
    if len({value for _, value in present}) > 1:
        raise ResponseRejected(
            "in_response_to_conflict",
            "InResponseTo values disagree: " + ", ".join(f"{w} {v!r}" for w, v in present),
        )
    irt = present[0][1] if present else None
    if expected.request_id is None:
        if irt is not None:
            raise ResponseRejected("in_response_to", "InResponseTo names a login not started in this browser")
        if not expected.allow_unsolicited:
            raise ResponseRejected("unsolicited", "unsolicited response and SAML_ALLOW_IDP_INITIATED is off")
    elif irt is None:
        raise ResponseRejected(
            "in_response_to", "neither the Response nor the bearer confirmation names a login"
        )
    elif irt != expected.request_id:
        raise ResponseRejected("in_response_to", f"InResponseTo {irt!r} is not this browser's login")


def check_bearers(assertion: etree._Element, expected: Expected, now: float) -> float:
    """Every bearer confirmation valid for this ACS now, and a Subject identifier that is not blank.

    :returns: the latest bearer ``NotOnOrAfter``.
    """
    bearers = bearer_confirmations(assertion)
    if not bearers:
        raise ResponseRejected("subject_confirmation", "no bearer SubjectConfirmation in the assertion")
    until, skew = 0.0, expected.clock_skew
    for conf in bearers:
        data = conf.find(q("saml", "SubjectConfirmationData"))
        if data is None or data.get("NotOnOrAfter") is None:
            raise ResponseRejected(
                "conditions_missing", "bearer SubjectConfirmationData without NotOnOrAfter"
            )
        recipient = data.get("Recipient")
        if recipient is None or not same_url(recipient, expected.acs_url):
            raise ResponseRejected(
                "recipient", f"Recipient is {recipient!r}, this ACS is {expected.acs_url!r}"
            )
        end = parse_instant(data.get("NotOnOrAfter"), "SubjectConfirmationData NotOnOrAfter")
        if now >= end + skew:
            raise ResponseRejected("expired", "SubjectConfirmationData NotOnOrAfter has passed")
        starts = data.get("NotBefore")
        if starts is not None and parse_instant(starts, "SubjectConfirmationData NotBefore") > now + skew:
            raise ResponseRejected("not_yet_valid", "SubjectConfirmationData NotBefore is in the future")
        until = max(until, end)
    _check_identifier(assertion)
    return until


def _check_identifier(assertion: etree._Element) -> None:
    subject = assertion.find(q("saml", "Subject"))
    found = (
        [] if subject is None else [el for el in subject if el.tag in {q("saml", n) for n in _IDENTIFIERS}]
    )
    if len(found) > 1:
        raise ResponseRejected("name_id", f"{len(found)} identifiers in the Subject, at most 1")
    name_id = found[0] if found and found[0].tag == q("saml", "NameID") else None
    if name_id is not None and not "".join(str(t) for t in name_id.itertext()).strip():
        raise ResponseRejected("name_id", "the NameID is empty or only whitespace")


def check_authn_statements(
    assertion: etree._Element, now: float, skew: float, *, allow_missing: bool = False
) -> None:
    """At least one AuthnStatement (profiles 4.1.4.2); several must agree on the SessionIndex.

    :param allow_missing: accept none at all (``SAML_ALLOW_MISSING_AUTHN_STATEMENT``); those
        present are still checked.
    """
    statements = assertion.findall(q("saml", "AuthnStatement"))
    if not statements and not allow_missing:
        raise ResponseRejected("authn_statement", "the assertion has no AuthnStatement, so it is not a login")
    indexes = {stmt.get("SessionIndex") for stmt in statements}
    if len(indexes) > 1:
        raise ResponseRejected(
            "authn_statement", f"{len(statements)} AuthnStatements with different SessionIndex"
        )
    for stmt in statements:
        parse_instant(stmt.get("AuthnInstant"), "AuthnStatement AuthnInstant", "authn_statement")
        session_end = stmt.get("SessionNotOnOrAfter")
        if session_end is not None and now >= parse_instant(session_end, "SessionNotOnOrAfter") + skew:
            raise ResponseRejected("expired", "AuthnStatement SessionNotOnOrAfter has passed")
