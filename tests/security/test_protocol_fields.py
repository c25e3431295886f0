"""Protocol fields (SECURITY.md point 6), wrong, missing or out of time, in *signed* responses.

Each mutation is made before signing: the dev IdP's response is parsed, its signatures removed,
the field changed, and the tree signed again with the IdP's own key in each of the three modes
(Assertion, Response, both). The signature therefore verifies and the field check alone must
refuse: Status, Destination, Recipient, Audience, Conditions, bearer NotOnOrAfter, NotBefore,
the confirmation method, both Issuers, both IssueInstants, InResponseTo, SessionNotOnOrAfter, and
an unsolicited response while IdP-initiated login is off.

pysaml2 7.5.5 was measured accepting many of these (SECURITY.md): no Status, no Destination, a
foreign Recipient, no AudienceRestriction, no Conditions, no bearer NotOnOrAfter, sender-vouches,
an IssueInstant from 2000, a wrong or missing Issuer.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree

from saml_middleware.devidp.responses import format_instant

from ..support.harness import START, Clock
from .helpers import CONNECTION_TOO, NS, SIGN_MODES, Flow, SignMode, b64, drop, serialize

Mutation = Callable[[etree._Element], None]

SUBJECT = "saml:Assertion/saml:Subject"
CONFIRMATION = f"{SUBJECT}/saml:SubjectConfirmation"
SCD = f"{CONFIRMATION}/saml:SubjectConfirmationData"
CONDITIONS = "saml:Assertion/saml:Conditions"
RESTRICTION = f"{CONDITIONS}/saml:AudienceRestriction"
STATUS_CODE = "samlp:Status/samlp:StatusCode"
RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
EVIL_IDP = "https://sts.windows.net/0f0f0f0f-1111-4222-8333-444455556666/"


def at(offset: float) -> str:
    """An xs:dateTime ``offset`` seconds from the frozen clock's start."""
    return format_instant(START + offset)


def _find(root: etree._Element, path: str) -> etree._Element:
    found = root if path == "." else root.find(path, namespaces=NS)
    assert found is not None, path
    return found


def set_attr(path: str, name: str, value: str | None) -> Mutation:
    """Set (or, with None, delete) attribute ``name`` of the element at ``path``."""

    def mutate(root: etree._Element) -> None:
        element = _find(root, path)
        if value is None:
            del element.attrib[name]
        else:
            element.set(name, value)

    return mutate


def set_text(path: str, text: str) -> Mutation:
    def mutate(root: etree._Element) -> None:
        _find(root, path).text = text

    return mutate


def remove(path: str) -> Mutation:
    def mutate(root: etree._Element) -> None:
        drop(_find(root, path))

    return mutate


def nested_success(root: etree._Element) -> None:
    """A failed top-level status hiding a Success second-level code."""
    code = _find(root, STATUS_CODE)
    code.set("Value", REQUESTER)
    etree.SubElement(code, code.tag, Value=SUCCESS)


def other_request(root: etree._Element) -> None:
    """A response to another login: both InResponseTo (Response and bearer) name that login."""
    set_attr(".", "InResponseTo", "_someone-elses-request")(root)
    set_attr(SCD, "InResponseTo", "_someone-elses-request")(root)


def second_audience_restriction(root: etree._Element) -> None:
    """A second AudienceRestriction naming only another SP (each one must be satisfied)."""
    restriction = _find(root, RESTRICTION)
    other = etree.SubElement(restriction.getparent(), restriction.tag)  # type: ignore[arg-type]
    etree.SubElement(other, f"{{{NS['saml']}}}Audience").text = "https://other-app.example/saml/metadata"


def empty_audience_restriction(root: etree._Element) -> None:
    restriction = _find(root, RESTRICTION)
    for child in list(restriction):
        restriction.remove(child)


# name, mutation, reason
FIELDS: list[tuple[str, Mutation, str]] = [
    ("Status-Responder", set_attr(STATUS_CODE, "Value", RESPONDER), "status"),
    ("Status-missing", remove("samlp:Status"), "status"),
    ("StatusCode-missing", remove(STATUS_CODE), "status"),
    ("Status-Requester-with-nested-Success", nested_success, "status"),
    ("Destination-other-host", set_attr(".", "Destination", "https://evil.example/saml/acs"), "destination"),
    ("Destination-other-path", set_attr(".", "Destination", "http://app.test/other/acs"), "destination"),
    ("Recipient-other-URL", set_attr(SCD, "Recipient", "https://evil.example/saml/acs"), "recipient"),
    ("Recipient-missing", set_attr(SCD, "Recipient", None), "recipient"),
    ("Audience-other-SP", set_text(f"{RESTRICTION}/saml:Audience", "https://evil.example/sp"), "audience"),
    ("AudienceRestriction-missing", remove(RESTRICTION), "audience"),
    ("AudienceRestriction-empty", empty_audience_restriction, "audience"),
    ("second-AudienceRestriction-for-another-SP", second_audience_restriction, "audience"),
    ("Conditions-missing", remove(CONDITIONS), "conditions_missing"),
    ("bearer-NotOnOrAfter-missing", set_attr(SCD, "NotOnOrAfter", None), "conditions_missing"),
    ("SubjectConfirmationData-missing", remove(SCD), "conditions_missing"),
    ("Conditions-NotBefore-in-the-future", set_attr(CONDITIONS, "NotBefore", at(600)), "not_yet_valid"),
    ("bearer-NotBefore-in-the-future", set_attr(SCD, "NotBefore", at(600)), "not_yet_valid"),
    ("Conditions-NotOnOrAfter-passed", set_attr(CONDITIONS, "NotOnOrAfter", at(-600)), "expired"),
    ("bearer-NotOnOrAfter-passed", set_attr(SCD, "NotOnOrAfter", at(-600)), "expired"),
    (
        "SessionNotOnOrAfter-passed",
        set_attr("saml:Assertion/saml:AuthnStatement", "SessionNotOnOrAfter", at(-600)),
        "expired",
    ),
    (
        "sender-vouches",
        set_attr(CONFIRMATION, "Method", "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches"),
        "subject_confirmation",
    ),
    (
        "holder-of-key",
        set_attr(CONFIRMATION, "Method", "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"),
        "subject_confirmation",
    ),
    (
        "bearer-method-wrong-case",
        set_attr(CONFIRMATION, "Method", "urn:oasis:names:tc:SAML:2.0:cm:Bearer"),
        "subject_confirmation",
    ),
    ("SubjectConfirmation-missing", remove(CONFIRMATION), "subject_confirmation"),
    ("Response-Issuer-other-IdP", set_text("saml:Issuer", EVIL_IDP), "issuer"),
    ("Assertion-Issuer-other-IdP", set_text("saml:Assertion/saml:Issuer", EVIL_IDP), "issuer"),
    ("Assertion-Issuer-missing", remove("saml:Assertion/saml:Issuer"), "issuer"),
    ("Response-IssueInstant-year-2000", set_attr(".", "IssueInstant", "2000-01-01T00:00:00Z"), "expired"),
    (
        "Assertion-IssueInstant-year-2000",
        set_attr("saml:Assertion", "IssueInstant", "2000-01-01T00:00:00Z"),
        "expired",
    ),
    ("Response-IssueInstant-in-the-future", set_attr(".", "IssueInstant", at(3600)), "not_yet_valid"),
    (
        "Assertion-IssueInstant-in-the-future",
        set_attr("saml:Assertion", "IssueInstant", at(3600)),
        "not_yet_valid",
    ),
    ("Response-IssueInstant-not-a-date", set_attr(".", "IssueInstant", "yesterday"), "envelope"),
    ("InResponseTo-other-request", other_request, "in_response_to"),
    (
        "bearer-InResponseTo-other-request",
        set_attr(SCD, "InResponseTo", "_someone-elses-request"),
        "in_response_to_conflict",
    ),
]


@pytest.mark.parametrize("mode", SIGN_MODES)
@pytest.mark.parametrize(("mutate", "reason"), [pytest.param(m, r, id=name) for name, m, r in FIELDS])
def test_signed_protocol_field(flow: Flow, mode: SignMode, mutate: Mutation, reason: str) -> None:
    flow.refused(flow.post(flow.issue(mode, mutate=mutate)), reason)


@CONNECTION_TOO
@pytest.mark.parametrize("mode", SIGN_MODES)
def test_response_issuer_missing(flow: Flow, mode: SignMode) -> None:
    flow.refused(flow.post(flow.issue(mode, mutate=remove("saml:Issuer"))), "issuer")


@pytest.mark.parametrize("mode", SIGN_MODES)
def test_destination_missing(flow: Flow, mode: SignMode) -> None:
    """Required when the Response is the only signed part; optional when the Assertion is signed."""
    response = flow.post(flow.issue(mode, mutate=set_attr(".", "Destination", None)))
    if mode == "response":
        flow.refused(response, "destination")
    else:
        flow.accepted(response)


@CONNECTION_TOO
@pytest.mark.parametrize("mode", SIGN_MODES)
def test_expired_response(flow: Flow, mode: SignMode, clock: Clock) -> None:
    """The untouched response, posted after its lifetime plus the clock skew (300 s + 180 s)."""
    root = flow.issue(mode)
    clock.advance(481)
    flow.refused(flow.post(root), "expired")


@pytest.mark.parametrize("mode", SIGN_MODES)
def test_late_response_within_the_skew_is_accepted(flow: Flow, mode: SignMode, clock: Clock) -> None:
    """Positive control of the boundary above: one second less is still accepted."""
    root = flow.issue(mode)
    clock.advance(479)
    flow.accepted(flow.post(root))


@pytest.mark.parametrize("mode", SIGN_MODES)
def test_unsolicited_response_is_refused_when_idp_initiated_is_off(flow: Flow, mode: SignMode) -> None:
    """A validly signed response naming no request, posted without a RelayState (IdP-initiated)."""
    root = flow.issue(mode, in_response_to=None)
    assert root.get("InResponseTo") is None
    flow.caplog.clear()
    response = flow.browser.post_acs(flow.action, {"SAMLResponse": b64(serialize(root))})
    flow.refused(response, "unsolicited")
    assert response.status_code == 403
