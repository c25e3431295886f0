"""The exact edges of every time window and URL comparison in :func:`check_protocol`.

``SAML_CLOCK_SKEW`` widens every window by exactly its value, on both sides, and no more; a
window's end (``NotOnOrAfter``) is excluded, its start included. The value returned is how long
the replay cache must remember the assertion: until it would be refused as expired anyway. The
dev IdP's response (issued at ``T``, bearer data until ``T+300``, conditions ``T-300``..``T+3600``)
is checked by the public pure function, at chosen instants.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree

from saml_middleware.devidp import DevIdP
from saml_middleware.devidp.responses import format_instant
from saml_middleware.errors import ResponseRejected
from saml_middleware.protocol.checks import (
    Expected,
    Parts,
    check_protocol,
    check_signatures,
    check_structure,
    same_url,
)
from saml_middleware.protocol.xml import parse_untrusted, q

from ...support.harness import START as T

ACS = "http://app.test/saml/acs"
SP = "http://app.test/saml/metadata"
SKEW, MAX_AGE = 180.0, 300.0
SIGNED = {"assertion": "rsa-sha256"}


@pytest.fixture
def expected(idp: DevIdP) -> Expected:
    return Expected(ACS, SP, idp.entity_id, "_request", False, SKEW, MAX_AGE)


@pytest.fixture
def response(idp: DevIdP) -> Callable[..., Parts]:
    """``response(edit=None)``: the dev IdP's response at ``T``, optionally edited, located."""

    def make(edit: Callable[[etree._Element], None] | None = None) -> Parts:
        xml = idp.issue_response(
            "b.simon@contoso.com",
            acs_url=ACS,
            audience=SP,
            in_response_to="_request",
            sign="assertion",
            now=T,
        )
        root = parse_untrusted(xml)
        if edit is not None:
            edit(root)
        return check_structure(root)

    return make


def _set(path: str, name: str, value: str | None) -> Callable[[etree._Element], None]:
    """An edit setting attribute ``name`` (None removes it) on every element at ``path``."""

    def edit(root: etree._Element) -> None:
        found = [root] if path == "." else list(root.iterfind(path))
        assert found, path
        for el in found:
            if value is None:
                el.attrib.pop(name, None)
            else:
                el.set(name, value)

    return edit


def _both(*edits: Callable[[etree._Element], None]) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        for e in edits:
            e(root)

    return edit


ASSERTION = q("saml", "Assertion")
SUBJECT = f"{ASSERTION}/{q('saml', 'Subject')}"
SCD = f"{SUBJECT}/{q('saml', 'SubjectConfirmation')}/{q('saml', 'SubjectConfirmationData')}"
CONDITIONS = f"{ASSERTION}/{q('saml', 'Conditions')}"
AUTHN = f"{ASSERTION}/{q('saml', 'AuthnStatement')}"
LONG_SCD = _set(SCD, "NotOnOrAfter", format_instant(T + 86_400))


def verdict(parts: Parts, expected: Expected, now: float, signed: dict[str, str] = SIGNED) -> str | float:
    try:
        return check_protocol(parts, signed, expected, now)
    except ResponseRejected as exc:
        return exc.reason


def test_a_fresh_response_is_kept_until_it_would_be_refused_as_old(response, expected) -> None:
    # bearer data ends at T+300 (+ skew); IssueInstant refused as old after T+300+180: the earlier + 1
    assert verdict(response(), expected, T) == T + MAX_AGE + SKEW + 1
    # with a longer max age the later of the bearer data's and the conditions' ends (+ skew) comes first
    longer = Expected(ACS, SP, expected.idp_entity_id, "_request", False, SKEW, 3600.0)
    assert verdict(response(), longer, T) == T + 3600 + SKEW
    assert verdict(response(LONG_SCD), longer, T) == T + 3600 + SKEW + 1
    short = _set(CONDITIONS, "NotOnOrAfter", format_instant(T + 100))
    assert verdict(response(short), longer, T) == T + 300 + SKEW


@pytest.mark.parametrize(
    ("now", "result"),
    [
        (T - SKEW, "ok"),
        (T - SKEW - 0.01, "not_yet_valid"),
        (T + MAX_AGE + SKEW, "ok"),
        (T + MAX_AGE + SKEW + 0.01, "expired"),
    ],
)
def test_issue_instant_window(response, expected, now: float, result: str) -> None:
    got = verdict(response(LONG_SCD), expected, now)
    assert (got if isinstance(got, str) else "ok") == result


@pytest.mark.parametrize(("now", "result"), [(T + 300 + SKEW - 0.01, "ok"), (T + 300 + SKEW, "expired")])
def test_bearer_data_not_on_or_after(response, expected, now: float, result: str) -> None:
    got = verdict(response(), expected, now)
    assert (got if isinstance(got, str) else "ok") == result


@pytest.mark.parametrize(
    ("attribute", "value", "now", "result"),
    [
        ("NotBefore", T + 60, T + 60 - SKEW, "ok"),
        ("NotBefore", T + 60, T + 60 - SKEW - 0.01, "not_yet_valid"),
        ("NotOnOrAfter", T + 60, T + 60 + SKEW - 0.01, "ok"),
        ("NotOnOrAfter", T + 60, T + 60 + SKEW, "expired"),
    ],
)
def test_conditions_window(response, expected, attribute: str, value: float, now: float, result: str) -> None:
    parts = response(_both(LONG_SCD, _set(".", "IssueInstant", format_instant(T - SKEW)),
                           _set(ASSERTION, "IssueInstant", format_instant(T - SKEW)),
                           _set(CONDITIONS, attribute, format_instant(value))))  # fmt: skip
    got = verdict(parts, expected, now)
    assert (got if isinstance(got, str) else "ok") == result


@pytest.mark.parametrize(
    ("where", "attribute", "now", "result"),
    [
        (SCD, "NotBefore", T + 60 - SKEW, "ok"),
        (SCD, "NotBefore", T + 60 - SKEW - 0.01, "not_yet_valid"),
        (AUTHN, "SessionNotOnOrAfter", T + 60 + SKEW - 0.01, "ok"),
        (AUTHN, "SessionNotOnOrAfter", T + 60 + SKEW, "expired"),
    ],
)
def test_subject_and_session_windows(response, expected, where: str, attribute: str, now: float, result: str):
    parts = response(_set(where, attribute, format_instant(T + 60)))
    got = verdict(parts, expected, now)
    assert (got if isinstance(got, str) else "ok") == result


def test_no_time_window_at_all_is_refused(response, expected) -> None:
    assert verdict(response(_set(SCD, "NotOnOrAfter", None)), expected, T) == "conditions_missing"


@pytest.mark.parametrize(
    ("url", "same"),
    [
        (ACS, True),
        ("HTTP://APP.TEST/saml/acs", True),
        ("http://app.test:80/saml/acs", False),
        ("http://app.test/saml/ACS", False),
        ("http://app.test/saml/acs?x=1", False),
        ("http://app.test/saml/acs/", False),
        ("https://app.test/saml/acs", False),
        (" http://app.test/saml/acs ", True),
    ],
)
def test_destination_and_recipient_compare_as_urls(response, expected, url: str, same: bool) -> None:
    for where, edit, reason in (
        ("Destination", _set(".", "Destination", url), "destination"),
        ("Recipient", _set(SCD, "Recipient", url), "recipient"),
    ):
        got = verdict(response(edit), expected, T)
        assert (got if isinstance(got, str) else "ok") == ("ok" if same else reason), where


def test_same_url_treats_an_empty_path_as_the_root() -> None:
    assert same_url("https://app.example", "https://APP.example/")
    assert not same_url("https://app.example/?a", "https://app.example/")


def test_destination_is_required_when_only_the_response_is_signed(response, expected) -> None:
    parts = response(_set(".", "Destination", None))
    assert verdict(parts, expected, T, {"response": "rsa-sha256"}) == "destination"
    assert isinstance(verdict(parts, expected, T, {"response": "x", "assertion": "x"}), float)


def test_a_failed_status_names_the_idp_code_and_message(response, expected) -> None:
    def failed(root: etree._Element) -> None:
        status = root.find(q("samlp", "Status"))
        assert status is not None
        status[0].set("Value", "urn:oasis:names:tc:SAML:2.0:status:Requester")
        etree.SubElement(status, q("samlp", "StatusMessage")).text = "AADSTS50105: not assigned"

    with pytest.raises(ResponseRejected) as refused:
        check_protocol(response(failed), SIGNED, expected, T)
    assert refused.value.reason == "status"
    assert "status:Requester" in str(refused.value) and "AADSTS50105" in str(refused.value)


def test_issuers_are_trimmed_and_compared_exactly(response, expected) -> None:
    def spaced(root: etree._Element) -> None:
        for issuer in root.iter(q("saml", "Issuer")):
            issuer.text = f"\n  {issuer.text}  "

    assert isinstance(verdict(response(spaced), expected, T), float)

    def other(root: etree._Element) -> None:
        assertion = root.find(ASSERTION)
        assert assertion is not None
        assertion.find(q("saml", "Issuer")).text = expected.idp_entity_id + "/"  # type: ignore[union-attr]

    assert verdict(response(other), expected, T) == "issuer"


def test_every_audience_restriction_must_name_this_sp(response, expected) -> None:
    def second(root: etree._Element) -> None:
        conditions = root.find(CONDITIONS)
        assert conditions is not None
        restriction = etree.SubElement(conditions, q("saml", "AudienceRestriction"))
        etree.SubElement(restriction, q("saml", "Audience")).text = "https://other.example"

    assert verdict(response(second), expected, T) == "audience"

    def padded_and_listed(root: etree._Element) -> None:
        audience = root.find(f"{CONDITIONS}/{q('saml', 'AudienceRestriction')}/{q('saml', 'Audience')}")
        assert audience is not None
        audience.text = f"  {SP}\n"
        etree.SubElement(audience.getparent(), q("saml", "Audience")).text = "https://other.example"  # type: ignore[arg-type]

    assert isinstance(verdict(response(padded_and_listed), expected, T), float)


@pytest.mark.parametrize(
    ("request_id", "unsolicited", "irt", "result"),
    [
        ("_request", False, "_request", "ok"),
        ("_request", False, "_other", "in_response_to"),
        ("_request", False, None, "in_response_to"),
        (None, True, None, "ok"),
        (None, True, "_request", "in_response_to"),
        (None, False, None, "unsolicited"),
    ],
)
def test_in_response_to(response, idp, request_id, unsolicited: bool, irt: str | None, result: str) -> None:
    expected = Expected(ACS, SP, idp.entity_id, request_id, unsolicited, SKEW, MAX_AGE)
    parts = response(_both(_set(".", "InResponseTo", irt), _set(SCD, "InResponseTo", irt)))
    got = verdict(parts, expected, T)
    assert (got if isinstance(got, str) else "ok") == result


def _signature_edit(change: Callable[[etree._Element], None]) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        signature = root.find(f"{ASSERTION}/{q('ds', 'Signature')}")
        assert signature is not None
        change(signature)

    return edit


def _drop(path: str) -> Callable[[etree._Element], None]:
    def change(signature: etree._Element) -> None:
        found = signature.find(path)
        assert found is not None, path
        found.getparent().remove(found)  # type: ignore[union-attr]

    return change


def _append(path: str, tag: str, **attrib: str) -> Callable[[etree._Element], None]:
    def change(signature: etree._Element) -> None:
        parent = signature if path == "." else signature.find(path)
        assert parent is not None, path
        etree.SubElement(parent, tag, **attrib)

    return change


def _set_on(path: str, name: str, value: str) -> Callable[[etree._Element], None]:
    def change(signature: etree._Element) -> None:
        found = signature.find(path)
        assert found is not None, path
        found.set(name, value)

    return change


INFO = q("ds", "SignedInfo")
REF = f"{INFO}/{q('ds', 'Reference')}"
TRANSFORMS = f"{REF}/{q('ds', 'Transforms')}"


@pytest.mark.parametrize(
    "change",
    [
        _drop(INFO),
        _append(".", q("ds", "Object")),
        _drop(f"{INFO}/{q('ds', 'CanonicalizationMethod')}"),
        _set_on(
            f"{INFO}/{q('ds', 'CanonicalizationMethod')}",
            "Algorithm",
            "http://www.w3.org/TR/1999/REC-xslt-19991116",
        ),
        _append(INFO, q("ds", "Reference"), URI="#_other"),
        _drop(REF),
        _set_on(REF, "URI", "#_other"),
        _set_on(REF, "URI", ""),
        _drop(f"{TRANSFORMS}/{q('ds', 'Transform')}"),  # the enveloped transform
        _append(TRANSFORMS, q("ds", "Transform"), Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"),
    ],
    ids=[
        "no-SignedInfo",
        "ds-Object",
        "no-c14n",
        "xslt-c14n",
        "two-references",
        "no-reference",
        "other-URI",
        "empty-URI",
        "no-enveloped-transform",
        "xpath-transform",
    ],
)
def test_a_misshapen_signature_is_a_wrapped_signature(response, change) -> None:
    with pytest.raises(ResponseRejected) as refused:
        response(_signature_edit(change))
    assert refused.value.reason == "wrapped_signature"


@pytest.mark.parametrize("where", [SUBJECT, CONDITIONS, f"{q('samlp', 'Status')}"])
def test_a_signature_moved_below_the_signed_elements_is_a_wrapped_signature(response, where: str) -> None:
    def move(root: etree._Element) -> None:
        signature = root.find(f"{ASSERTION}/{q('ds', 'Signature')}")
        target = root.find(where)
        assert signature is not None and target is not None
        target.append(signature)

    with pytest.raises(ResponseRejected) as refused:
        response(move)
    assert refused.value.reason == "wrapped_signature"


@pytest.mark.parametrize(
    "c14n",
    [
        "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        "http://www.w3.org/2006/12/xml-c14n11",
    ],
)
def test_the_standard_canonicalizations_are_allowed_in_shape(response, c14n: str) -> None:
    parts = response(
        _signature_edit(_set_on(f"{INFO}/{q('ds', 'CanonicalizationMethod')}", "Algorithm", c14n))
    )
    assert parts.assertion_signature is not None and parts.response_signature is None


def test_check_signatures_names_what_each_verified_signature_covers(idp: DevIdP) -> None:
    calls: list[etree._Element] = []

    def verify(sig: etree._Element) -> str:
        calls.append(sig)
        return "alg"

    modes: list[tuple[Any, list[str]]] = [
        ("assertion", ["assertion"]),
        ("response", ["response"]),
        ("both", ["assertion", "response"]),
    ]
    for mode, names in modes:
        calls.clear()
        xml = idp.issue_response("b.simon@contoso.com", acs_url=ACS, audience=SP, sign=mode, now=T)
        parts = check_structure(parse_untrusted(xml))
        done = check_signatures(parts, verify)
        assert sorted(done) == names and set(done.values()) == {"alg"} and len(calls) == len(names)
        # a signature verified earlier (before decryption) is not verified again
        again = check_signatures(parts, verify, {names[0]: "earlier"})
        assert again[names[0]] == "earlier" and len(calls) == 2 * len(names) - 1
    unsigned = parse_untrusted(
        idp.issue_response("b.simon@contoso.com", acs_url=ACS, audience=SP, sign="assertion")
    )
    for sig in list(unsigned.iter(q("ds", "Signature"))):
        sig.getparent().remove(sig)  # type: ignore[union-attr]
    with pytest.raises(ResponseRejected) as refused:
        check_signatures(check_structure(unsigned), lambda sig: "alg")
    assert refused.value.reason == "signature_missing"
