"""SAML core's envelope and the Web Browser SSO profile read strictly, in *signed* responses.

Issue 12 items 10 and 11. Each case takes the dev IdP's response for a real login, changes it,
and signs it again with the IdP's key, so only the rule under test can refuse it:

- the envelope (``envelope``): ``Version`` other than "2.0", an ``ID`` missing, empty or not an
  NCName, an ``IssueInstant`` missing or not a real xs:dateTime, on the Response and on the
  Assertion; a second Issuer / Subject / Conditions; time-zone offsets read with the right sign;
- a second-level status code under Success (``status``);
- no ``AuthnStatement``, or several that disagree (``authn_statement``);
- a NameID empty, blank, doubled, or missing with no e-mail claim (``name_id``);
- an identity attribute sent twice, or one Name with two NameFormats (``duplicate_attribute``),
  while Keycloak's one-element-per-role list is still one multi-valued attribute; an
  ``Attribute`` without a ``Name`` (``malformed_response``);
- confirmations of which none is a valid bearer;
- ``InResponseTo``: bound to whichever of the Response and the bearer confirmation carries it,
  refused when they disagree (``in_response_to_conflict``) or when no login is pending.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable

import pytest
from lxml import etree

from saml_middleware.errors import ResponseRejected
from saml_middleware.protocol.envelope import parse_instant

from ..support.harness import START
from .helpers import (
    EMAIL,
    EVIL,
    NS,
    SIGN_MODES,
    Flow,
    SignMode,
    assertion_of,
    b64,
    drop,
    name_id,
    q,
    serialize,
)
from .test_protocol_fields import CONFIRMATION, SCD, STATUS_CODE, SUCCESS, remove, set_attr, set_text

Mutation = Callable[[etree._Element], None]

ASSERTION = "saml:Assertion"
AUTHN = f"{ASSERTION}/saml:AuthnStatement"
SUBJECT = f"{ASSERTION}/saml:Subject"
NAME_ID = f"{SUBJECT}/saml:NameID"
CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"
EMAIL_CLAIM = f"{CLAIMS}/emailaddress"
GROUPS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
OBJECT_ID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
SENDER_VOUCHES = "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches"
HOLDER_OF_KEY = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
OTHER_REQUEST = "_someone-elses-request"


def _find(root: etree._Element, path: str) -> etree._Element:
    found = root if path == "." else root.find(path, namespaces=NS)
    assert found is not None, path
    return found


def attribute(root: etree._Element, name: str) -> etree._Element:
    found = [a for a in root.iter(q("saml", "Attribute")) if a.get("Name") == name]
    assert len(found) == 1, name
    return found[0]


def offset_instant(timestamp: float, hours: int, *, wall_clock_of: float | None = None) -> str:
    """``timestamp`` written in the zone UTC+``hours`` (``+02:00``), or, with ``wall_clock_of``,
    the UTC wall-clock time of that other timestamp with the offset merely appended."""
    zone = datetime.timezone(datetime.timedelta(hours=hours))
    if wall_clock_of is not None:
        moment = datetime.datetime.fromtimestamp(wall_clock_of, tz=datetime.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + f"{hours:+03d}:00"
    return datetime.datetime.fromtimestamp(timestamp, tz=zone).isoformat(timespec="seconds")


def both_instants(value: str) -> Mutation:
    """The Response's and the Assertion's IssueInstant set to ``value``."""

    def mutate(root: etree._Element) -> None:
        root.set("IssueInstant", value)
        assertion_of(root).set("IssueInstant", value)

    return mutate


def rename_attribute(name: str, new_name: str | None) -> Mutation:
    """The ``Attribute`` named ``name`` without a Name (``None``) or named ``new_name``."""

    def mutate(root: etree._Element) -> None:
        element = attribute(root, name)
        if new_name is None:
            del element.attrib["Name"]
        else:
            element.set("Name", new_name)

    return mutate


def groups_twice(first_format: str | None, second_format: str | None) -> Mutation:
    """The groups attribute with ``first_format`` (``None``: no NameFormat), then a second
    ``Attribute`` of the same Name with ``second_format``."""

    def mutate(root: etree._Element) -> None:
        existing = attribute(root, GROUPS)
        existing.attrib.pop("NameFormat", None)
        if first_format is not None:
            existing.set("NameFormat", first_format)
        repeat_attribute(GROUPS, "g2", name_format=second_format)(root)

    return mutate


def duplicate(path: str) -> Mutation:
    """A second copy of the element at ``path`` right after it."""

    def mutate(root: etree._Element) -> None:
        element = _find(root, path)
        element.addnext(copy.deepcopy(element))

    return mutate


def nested_status(value: str) -> Mutation:
    def mutate(root: etree._Element) -> None:
        code = _find(root, STATUS_CODE)
        etree.SubElement(code, code.tag, Value=value)

    return mutate


def second_authn_statement(session_index: str | None) -> Mutation:
    def mutate(root: etree._Element) -> None:
        statement = _find(root, AUTHN)
        other = copy.deepcopy(statement)
        if session_index is not None:
            other.set("SessionIndex", session_index)
        statement.addnext(other)

    return mutate


def comment_only_name_id(root: etree._Element) -> None:
    element = name_id(root)
    element.text = None
    element.append(etree.Comment(EMAIL))


def no_name_id_no_email_claim(root: etree._Element) -> None:
    drop(name_id(root))
    drop(attribute(root, EMAIL_CLAIM))


def repeat_attribute(
    name: str, value: str, *, name_format: str | None = None, first: bool = False
) -> Mutation:
    """Another ``Attribute`` element with ``name`` and ``value`` after (or before) the existing one."""

    def mutate(root: etree._Element) -> None:
        existing = attribute(root, name)
        extra = etree.Element(existing.tag, Name=name)
        if name_format is not None:
            extra.set("NameFormat", name_format)
        etree.SubElement(extra, q("saml", "AttributeValue")).text = value
        (existing.addprevious if first else existing.addnext)(extra)

    return mutate


def friendly_names(name: str, *others: str) -> Mutation:
    """FriendlyName ``name`` on each attribute in ``others``."""

    def mutate(root: etree._Element) -> None:
        for other in others:
            attribute(root, other).set("FriendlyName", name)

    return mutate


def add_confirmation(
    method: str, *, recipient: str | None = None, in_response_to: str | None = None
) -> Mutation:
    """A second SubjectConfirmation (a copy of the bearer one) with ``method``, and changes."""

    def mutate(root: etree._Element) -> None:
        original = _find(root, CONFIRMATION)
        other = copy.deepcopy(original)
        other.set("Method", method)
        data = other.find(q("saml", "SubjectConfirmationData"))
        assert data is not None
        if recipient is not None:
            data.set("Recipient", recipient)
        if in_response_to is not None:
            data.set("InResponseTo", in_response_to)
        original.addnext(other)

    return mutate


def chain(*mutations: Mutation) -> Mutation:
    def mutate(root: etree._Element) -> None:
        for mutation in mutations:
            mutation(root)

    return mutate


BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
AUTHN_FAILED = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"

# name, signing mode (the element whose ID goes is left unsigned), mutation, reason
CASES: list[tuple[str, SignMode, Mutation, str]] = [
    # item 10: the envelope
    ("Response-Version-2.1", "both", set_attr(".", "Version", "2.1"), "envelope"),
    ("Response-Version-1.1", "both", set_attr(".", "Version", "1.1"), "envelope"),
    ("Response-Version-missing", "both", set_attr(".", "Version", None), "envelope"),
    ("Assertion-Version-2.1", "both", set_attr(ASSERTION, "Version", "2.1"), "envelope"),
    ("Assertion-Version-1.1", "both", set_attr(ASSERTION, "Version", "1.1"), "envelope"),
    ("Assertion-Version-missing", "both", set_attr(ASSERTION, "Version", None), "envelope"),
    ("Response-ID-missing", "assertion", set_attr(".", "ID", None), "envelope"),
    ("Response-ID-empty", "assertion", set_attr(".", "ID", ""), "envelope"),
    ("Response-ID-starts-with-a-digit", "both", set_attr(".", "ID", "1d2b3f"), "envelope"),
    ("Response-ID-with-a-colon", "assertion", set_attr(".", "ID", "_a:b"), "envelope"),
    ("Assertion-ID-missing", "response", set_attr(ASSERTION, "ID", None), "envelope"),
    ("Assertion-ID-empty", "response", set_attr(ASSERTION, "ID", ""), "envelope"),
    ("Assertion-ID-starts-with-a-digit", "both", set_attr(ASSERTION, "ID", "9abc"), "envelope"),
    ("Assertion-ID-with-a-space", "response", set_attr(ASSERTION, "ID", "_a b"), "envelope"),
    ("Response-IssueInstant-missing", "both", set_attr(".", "IssueInstant", None), "envelope"),
    ("Assertion-IssueInstant-missing", "both", set_attr(ASSERTION, "IssueInstant", None), "envelope"),
    ("Assertion-IssueInstant-not-a-date", "both", set_attr(ASSERTION, "IssueInstant", "now"), "envelope"),
    ("IssueInstant-31-February", "both", both_instants("2025-02-31T15:06:40Z"), "envelope"),
    ("IssueInstant-minute-60", "both", both_instants("2025-06-15T15:60:40Z"), "envelope"),
    ("IssueInstant-offset-+15:00", "both", both_instants("2025-06-15T15:06:40+15:00"), "envelope"),
    ("IssueInstant-date-only", "both", both_instants("2025-06-15"), "envelope"),
    ("two-Issuers-in-the-Response", "both", duplicate("saml:Issuer"), "envelope"),
    ("two-Subjects", "both", duplicate(SUBJECT), "envelope"),
    ("two-Conditions", "both", duplicate(f"{ASSERTION}/saml:Conditions"), "envelope"),
    # a Success that is not one
    ("Success-with-second-level-AuthnFailed", "both", nested_status(AUTHN_FAILED), "status"),
    ("Success-with-second-level-Responder", "response", nested_status(RESPONDER), "status"),
    # item 11: AuthnStatement
    ("AuthnStatement-missing", "assertion", remove(AUTHN), "authn_statement"),
    ("AuthnStatement-missing-Response-signed", "response", remove(AUTHN), "authn_statement"),
    ("two-AuthnStatements-other-SessionIndex", "both", second_authn_statement("_other"), "authn_statement"),
    ("AuthnStatement-AuthnInstant-missing", "both", set_attr(AUTHN, "AuthnInstant", None), "authn_statement"),
    (
        "AuthnStatement-AuthnInstant-not-a-date",
        "both",
        set_attr(AUTHN, "AuthnInstant", "x"),
        "authn_statement",
    ),
    # NameID
    ("NameID-empty", "assertion", set_text(NAME_ID, ""), "name_id"),
    ("NameID-whitespace", "both", set_text(NAME_ID, " \n\t "), "name_id"),
    ("NameID-only-a-comment", "both", comment_only_name_id, "name_id"),
    ("two-NameIDs", "both", duplicate(NAME_ID), "name_id"),
    ("no-NameID-and-no-email-claim", "both", no_name_id_no_email_claim, "name_id"),
    ("Subject-missing", "both", remove(SUBJECT), "subject_confirmation"),
    # attributes
    ("email-claim-twice-evil-second", "both", repeat_attribute(EMAIL_CLAIM, EVIL), "duplicate_attribute"),
    (
        "email-claim-twice-evil-first",
        "both",
        repeat_attribute(EMAIL_CLAIM, EVIL, first=True),
        "duplicate_attribute",
    ),
    ("email-claim-twice-same-value", "both", repeat_attribute(EMAIL_CLAIM, EMAIL), "duplicate_attribute"),
    (
        "groups-with-two-NameFormats",
        "both",
        repeat_attribute(GROUPS, "g2", name_format=URI),
        "duplicate_attribute",
    ),
    ("groups-basic-then-uri", "both", groups_twice(BASIC, URI), "duplicate_attribute"),
    (
        "FriendlyName-mail-on-two-claims",
        "both",
        friendly_names("mail", EMAIL_CLAIM, GROUPS),
        "duplicate_attribute",
    ),
    # SAML core requires an Attribute's Name: a nameless value is nobody's claim
    ("Attribute-without-Name", "both", rename_attribute(GROUPS, None), "malformed_response"),
    ("Attribute-with-empty-Name", "both", rename_attribute(GROUPS, ""), "malformed_response"),
    # confirmations, none of them a valid bearer
    (
        "SubjectConfirmation-Method-missing",
        "both",
        set_attr(CONFIRMATION, "Method", None),
        "subject_confirmation",
    ),
    ("Destination-empty", "both", set_attr(".", "Destination", ""), "destination"),
    (
        "sender-vouches-and-holder-of-key",
        "both",
        chain(add_confirmation(HOLDER_OF_KEY), set_attr(CONFIRMATION, "Method", SENDER_VOUCHES)),
        "subject_confirmation",
    ),
    (
        "sender-vouches-and-bearer-for-another-ACS",
        "both",
        chain(add_confirmation(SENDER_VOUCHES), set_attr(SCD, "Recipient", "https://evil.example/acs")),
        "recipient",
    ),
    (
        "valid-bearer-and-bearer-for-another-ACS",
        "both",
        add_confirmation(BEARER, recipient="https://evil.example/acs"),
        "recipient",
    ),
    # InResponseTo
    (
        "InResponseTo-missing-on-both",
        "both",
        chain(set_attr(".", "InResponseTo", None), set_attr(SCD, "InResponseTo", None)),
        "in_response_to",
    ),
    (
        "Response-InResponseTo-other-bearer-this",
        "both",
        set_attr(".", "InResponseTo", OTHER_REQUEST),
        "in_response_to_conflict",
    ),
    (
        "Response-InResponseTo-missing-bearer-other",
        "both",
        chain(set_attr(".", "InResponseTo", None), set_attr(SCD, "InResponseTo", OTHER_REQUEST)),
        "in_response_to",
    ),
    (
        "two-bearers-naming-two-requests",
        "both",
        add_confirmation(BEARER, in_response_to=OTHER_REQUEST),
        "in_response_to_conflict",
    ),
]


@pytest.mark.parametrize(
    ("mode", "mutate", "reason"), [pytest.param(mode, m, r, id=name) for name, mode, m, r in CASES]
)
def test_strict_rule(flow: Flow, mode: SignMode, mutate: Mutation, reason: str) -> None:
    flow.refused(flow.post(flow.issue(mode, mutate=mutate)), reason)


# -- positive controls: what the strict reading must still accept --------------------------------
@pytest.mark.parametrize("mode", SIGN_MODES)
def test_bearer_in_response_to_alone_binds_the_login(flow: Flow, mode: SignMode) -> None:
    """Item 11: the Response omits InResponseTo (optional in SAML core), the bearer confirmation
    carries it: an SP-initiated login like any other."""
    root = flow.issue(mode, mutate=set_attr(".", "InResponseTo", None))
    assert root.get("InResponseTo") is None
    assert _find(root, SCD).get("InResponseTo") == flow.request_id
    flow.accepted(flow.post(root))


@pytest.mark.parametrize("mode", SIGN_MODES)
def test_response_in_response_to_alone_binds_the_login(flow: Flow, mode: SignMode) -> None:
    flow.accepted(flow.post(flow.issue(mode, mutate=set_attr(SCD, "InResponseTo", None))))


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(set_attr(".", "InResponseTo", None), id="bearer-only"),
        pytest.param(set_attr(SCD, "InResponseTo", None), id="Response-only"),
    ],
)
def test_in_response_to_without_a_pending_login_is_refused(start_flow, mutate: Mutation) -> None:
    """IdP-initiated login on, the response posted with no RelayState and no login cookie: naming a
    request (in either place) means it answers a login this browser did not start."""
    flow = start_flow(allow_idp_initiated=True)
    root = flow.issue("both", mutate=mutate)
    flow.caplog.clear()
    flow.refused(flow.browser.post_acs(flow.action, {"SAMLResponse": b64(serialize(root))}), "in_response_to")


def test_in_response_to_disagreeing_without_a_pending_login(start_flow) -> None:
    flow = start_flow(allow_idp_initiated=True)
    root = flow.issue("both", mutate=set_attr(SCD, "InResponseTo", OTHER_REQUEST))
    flow.caplog.clear()
    response = flow.browser.post_acs(flow.action, {"SAMLResponse": b64(serialize(root))})
    flow.refused(response, "in_response_to_conflict")


def test_keycloak_role_list_is_one_multivalued_attribute(flow: Flow) -> None:
    """Keycloak sends one Attribute element per role, same Name and NameFormat: joined in order."""
    root = flow.issue("both", mutate=repeat_attribute(GROUPS, "second-group"))
    flow.accepted(flow.post(root))
    groups = flow.browser.get("/").json()["attributes"][GROUPS]
    assert groups[-1] == "second-group" and len(groups) == 2


def test_no_name_format_is_the_unspecified_one(flow: Flow) -> None:
    """Core 2.7.3.1: a missing NameFormat means ``unspecified``, so an Attribute without one and
    one that names it are the same attribute, their values joined."""
    root = flow.issue("both", mutate=groups_twice(None, UNSPECIFIED))
    flow.accepted(flow.post(root))
    groups = flow.browser.get("/").json()["attributes"][GROUPS]
    assert groups[-1] == "g2" and len(groups) == 2


def test_a_comment_inside_the_email_claim_cannot_cut_the_address(flow: Flow) -> None:
    """No NameID: the e-mail claim names the user, its whole text read across an XML comment
    (``b.simon@<!-- -->contoso.com`` is ``b.simon@contoso.com``, never a part of it)."""

    def split_by_comment(root: etree._Element) -> None:
        drop(name_id(root))
        value = attribute(root, EMAIL_CLAIM)[0]
        local, domain = EMAIL.split("@")
        value.text = local + "@"
        comment = etree.Comment(" an IdP's template ")
        comment.tail = domain
        value.append(comment)

    flow.accepted(flow.post(flow.issue("both", mutate=split_by_comment)), email=EMAIL)


def test_a_friendly_name_never_shadows_a_real_name(start_flow) -> None:
    """An attribute whose FriendlyName is the e-mail claim's Name, placed first, does not become
    the e-mail claim (it used to take the key, and the real claim's value was appended to it)."""
    flow = start_flow(email_attribute="email")

    def shadow(root: etree._Element) -> None:
        real = attribute(root, EMAIL_CLAIM)
        fake = etree.Element(real.tag, Name="urn:example:nickname", FriendlyName=EMAIL_CLAIM)
        etree.SubElement(fake, q("saml", "AttributeValue")).text = EVIL
        real.addprevious(fake)

    flow.accepted(flow.post(flow.issue("both", mutate=shadow)))


def test_repeated_user_id_attribute_is_refused(start_flow) -> None:
    flow = start_flow(user_id_attribute="object_id")
    flow.refused(
        flow.post(flow.issue("both", mutate=repeat_attribute(OBJECT_ID, "0000"))), "duplicate_attribute"
    )


def test_no_name_id_but_an_email_claim_is_accepted(flow: Flow) -> None:
    """NameID is optional in the Subject; the e-mail claim then identifies the user."""
    flow.accepted(flow.post(flow.issue("both", mutate=lambda root: drop(name_id(root)))))


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(second_authn_statement(None), id="two-AuthnStatements-same-SessionIndex"),
        pytest.param(nested_status(SUCCESS), id="Success-under-Success"),
    ],
)
def test_agreeing_repetitions_are_accepted(flow: Flow, mutate: Mutation) -> None:
    flow.accepted(flow.post(flow.issue("both", mutate=mutate)))


# -- time zones ----------------------------------------------------------------------------------
@pytest.mark.parametrize("hours", [2, -5, 14])
def test_issue_instant_with_an_offset_is_read_with_the_right_sign(flow: Flow, hours: int) -> None:
    """The issue instant written as local time plus offset (``17:06:40+02:00`` for 15:06:40Z)."""
    flow.accepted(flow.post(flow.issue("both", mutate=both_instants(offset_instant(START, hours)))))


@pytest.mark.parametrize(("hours", "reason"), [(2, "expired"), (-2, "not_yet_valid")])
def test_offset_with_the_wrong_sign_would_be_hours_off(flow: Flow, hours: int, reason: str) -> None:
    """The UTC wall clock with ``+02:00`` appended is two hours earlier (expired); with ``-02:00``
    two hours later (in the future). A reader that ignored or flipped the sign would accept one."""
    stamp = offset_instant(START, hours, wall_clock_of=START)
    flow.refused(flow.post(flow.issue("both", mutate=both_instants(stamp))), reason)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-06-15T12:00:00Z", "2025-06-15T12:00:00+00:00"),
        ("2025-06-15T12:00:00", "2025-06-15T12:00:00+00:00"),
        ("2025-06-15T14:30:00+02:30", "2025-06-15T12:00:00+00:00"),
        ("2025-06-15T07:00:00-05:00", "2025-06-15T12:00:00+00:00"),
        ("2025-06-15T00:00:00+14:00", "2025-06-14T10:00:00+00:00"),
        ("2025-06-14T24:00:00Z", "2025-06-15T00:00:00+00:00"),
        ("2024-02-29T12:00:00.250Z", "2024-02-29T12:00:00.250000+00:00"),
    ],
)
def test_parse_instant(value: str, expected: str) -> None:
    moment = datetime.datetime.fromtimestamp(parse_instant(value, "t"), tz=datetime.timezone.utc)
    assert moment.isoformat() == expected


@pytest.mark.parametrize(
    "value",
    [
        "2025-02-29T12:00:00Z",
        "2025-13-01T00:00:00Z",
        "2025-06-15T25:00:00Z",
        "2025-06-15T24:00:01Z",
        "2025-06-15T12:00:60Z",
        "2025-06-15T12:00:00+14:30",
        "2025-06-15T12:00:00+02:60",
        "2025-06-15T12:00:00+0200",
        "2025-06-15 12:00:00Z",
        "",
        None,
    ],
)
def test_parse_instant_refuses_what_is_not_a_date(value: str | None) -> None:
    with pytest.raises(ResponseRejected) as info:
        parse_instant(value, "IssueInstant", "envelope")
    assert info.value.reason == "envelope" and "IssueInstant" in info.value.detail
