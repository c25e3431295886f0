"""XML Signature Wrapping (XSW) against the ACS, through both adapters.

XSW1 to XSW8 exactly as SAML Raider applies them (``helpers/XSWHelpers.java``, after "On Breaking
SAML: Be Whoever You Want to Be", USENIX Security 2012), the "wrapper after" variant (SAML Raider's
XSW9, the CVE-2019-3465 shape), and SAML Raider's XSW10 (the Assertion's signature copied to the
Response with the signed original in a ``ds:Object``). Each puts an evil Assertion for
``ceo@contoso.com`` where a naive SP reads the identity and keeps the original signed element
somewhere else. XSW1/2 attack a Response signature, the others an Assertion signature; each also
runs on a response signed both ways.

Then variants that keep a single Assertion, so that the wrapping is caught by the later structure
checks (signature placement and reference, duplicate IDs) rather than by the assertion count, and
the "several assertions" family.

CVEs: pysaml2 CVE-2021-21238 (signature wrapping: a signed element placed elsewhere), crewjam/saml
CVE-2022-41912 (several assertions: the first verified, another read), CVE-2019-3465 (xmlseclibs /
SimpleSAMLphp wrapper after the evil element).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree

from .helpers import (
    CONNECTION_TOO,
    EMAIL,
    EVIL,
    EVIL_ASSERTION_ID,
    EVIL_RESPONSE_ID,
    Flow,
    assertion_of,
    drop,
    evil_copy,
    evilize,
    q,
    serialize,
    signature_of,
    unsigned_copy,
    xsw1,
    xsw2,
    xsw3,
    xsw4,
    xsw5,
    xsw6,
    xsw7,
    xsw8,
    xsw10,
    xsw_wrapper_after,
)

Mutation = Callable[[etree._Element], None]

RESPONSE_SIGNED = ("response", "both")
ASSERTION_SIGNED = ("assertion", "both")

# name, mutation, the signing modes it applies to, the reason the middleware gives
XSW = [
    ("XSW1", xsw1, RESPONSE_SIGNED, "multiple_assertions"),
    ("XSW2", xsw2, RESPONSE_SIGNED, "multiple_assertions"),
    ("XSW3", xsw3, ASSERTION_SIGNED, "multiple_assertions"),
    ("XSW4", xsw4, ASSERTION_SIGNED, "multiple_assertions"),
    ("XSW5", xsw5, ASSERTION_SIGNED, "multiple_assertions"),
    ("XSW6", xsw6, ASSERTION_SIGNED, "multiple_assertions"),
    ("XSW7", xsw7, ASSERTION_SIGNED, "multiple_assertions"),
    ("XSW8", xsw8, ASSERTION_SIGNED, "multiple_assertions"),
    ("wrapper-after", xsw_wrapper_after, ASSERTION_SIGNED, "multiple_assertions"),
    ("XSW10", xsw10, ASSERTION_SIGNED, "multiple_assertions"),
]


def _read_by_naive_sp(root: etree._Element) -> set[str | None]:
    """The NameIDs a naive SP could read: the first Assertion in document order, and the Response's child."""
    first = next(root.iter(q("saml", "Assertion")))
    child = root.find(q("saml", "Assertion"))
    found: set[str | None] = set()
    for assertion in (first, child):
        if assertion is not None:
            found.add(assertion.findtext(f"{q('saml', 'Subject')}/{q('saml', 'NameID')}"))
    return found


@CONNECTION_TOO
@pytest.mark.parametrize(
    ("mode", "mutate", "reason"),
    [
        pytest.param(mode, mutate, reason, id=f"{name}-{mode}")
        for name, mutate, modes, reason in XSW
        for mode in modes
    ],
)
def test_xsw(flow: Flow, mode: str, mutate: Mutation, reason: str) -> None:
    root = flow.issue(mode)  # type: ignore[arg-type]
    mutate(root)
    xml = serialize(root)
    assert EVIL in _read_by_naive_sp(root), "the evil assertion must sit where a naive SP reads"
    assert EMAIL.encode() in xml and b"SignatureValue" in xml, "the signed original is kept"
    flow.refused(flow.post(root), reason)


# -- one Assertion only: the wrapping must be caught by the later structure checks -----------------
def xsw1_single_assertion(root: etree._Element) -> None:
    """XSW1 with the Assertion removed from the hidden original: one Assertion in the document."""
    xsw1(root)
    hidden = signature_of(root).find(q("samlp", "Response"))
    assert hidden is not None
    drop(assertion_of(hidden))


def xsw2_single_assertion(root: etree._Element) -> None:
    """XSW2 with the Assertion removed from the hidden original."""
    xsw2(root)
    hidden = root.find(q("samlp", "Response"))
    assert hidden is not None
    drop(assertion_of(hidden))


def xsw1_same_id(root: etree._Element) -> None:
    """XSW1 where the evil Response keeps the original ID (so a lookup by ID may find either)."""
    original_id = root.get("ID")
    xsw1_single_assertion(root)
    root.set("ID", original_id or "")


def signature_moved_to_evil_assertion(root: etree._Element) -> None:
    """The signed original is dropped; its Signature (still referencing it) moves into the evil Assertion."""
    assertion = assertion_of(root)
    signature = signature_of(assertion)
    evil = evil_copy(assertion)
    evil.find(q("saml", "Issuer")).addnext(signature)  # type: ignore[union-attr]
    assertion.addprevious(evil)
    drop(assertion)


def assertion_signature_moved_to_response(root: etree._Element) -> None:
    """The Assertion's Signature moves to the Response (after its Issuer); the Assertion is made evil."""
    assertion = assertion_of(root)
    root.find(q("saml", "Issuer")).addnext(signature_of(assertion))  # type: ignore[union-attr]
    evilize(assertion)


def original_in_foreign_namespace(root: etree._Element) -> None:
    """The signed original renamed into another namespace (not counted as an Assertion), kept with its ID;
    the evil one in place carries the original Signature under a new ID."""
    assertion = assertion_of(root)
    hidden = unsigned_copy(assertion)
    hidden.tag = "{urn:example:evil}Assertion"
    evilize(assertion)
    assertion.set("ID", EVIL_ASSERTION_ID)
    root.append(hidden)


def original_id_on_a_decoy(root: etree._Element) -> None:
    """The evil Assertion keeps the original ID and Signature; a decoy element elsewhere carries the
    same ID and the original content (an ID lookup that returns the first match finds the decoy)."""
    assertion = assertion_of(root)
    decoy = unsigned_copy(assertion)
    decoy.tag = "{urn:example:evil}Decoy"
    evilize(assertion)
    extensions = etree.Element(q("samlp", "Extensions"))
    extensions.append(decoy)
    root.find(q("saml", "Issuer")).addnext(extensions)  # type: ignore[union-attr]


SINGLE = [
    ("XSW1-one-assertion", "response", xsw1_single_assertion, "wrapped_signature"),
    ("XSW2-one-assertion", "response", xsw2_single_assertion, "wrapped_signature"),
    ("XSW1-same-response-ID", "response", xsw1_same_id, "duplicate_id"),
    (
        "signature-moved-to-evil-assertion",
        "assertion",
        signature_moved_to_evil_assertion,
        "wrapped_signature",
    ),
    (
        "assertion-signature-moved-to-response",
        "assertion",
        assertion_signature_moved_to_response,
        "wrapped_signature",
    ),
    ("original-in-foreign-namespace", "assertion", original_in_foreign_namespace, "wrapped_signature"),
    ("original-ID-on-a-decoy", "assertion", original_id_on_a_decoy, "duplicate_id"),
]


@pytest.mark.parametrize(
    ("mode", "mutate", "reason"),
    [pytest.param(mode, mutate, reason, id=name) for name, mode, mutate, reason in SINGLE],
)
def test_wrapping_with_a_single_assertion(flow: Flow, mode: str, mutate: Mutation, reason: str) -> None:
    root = flow.issue(mode)  # type: ignore[arg-type]
    mutate(root)
    assert len(list(root.iter(q("saml", "Assertion")))) == 1
    assert root.find(q("saml", "Assertion")) is not None
    assert EVIL in _read_by_naive_sp(root)
    flow.refused(flow.post(root), reason)


# -- several assertions (crewjam/saml CVE-2022-41912) ----------------------------------------------
def unsigned_assertion_appended(root: etree._Element) -> None:
    """SAML Raider's CVE-2022-41912 case: an unsigned evil copy (ID + "_attack") after the signed one."""
    assertion = assertion_of(root)
    evil = unsigned_copy(assertion)
    evilize(evil)
    evil.set("ID", assertion.get("ID", "") + "_attack")
    assertion.addnext(evil)


def unsigned_assertion_first(root: etree._Element) -> None:
    """The unsigned evil copy before the signed one."""
    assertion = assertion_of(root)
    evil = unsigned_copy(assertion)
    evilize(evil)
    evil.set("ID", assertion.get("ID", "") + "_attack")
    assertion.addprevious(evil)


def encrypted_assertion_beside(root: etree._Element) -> None:
    """An EncryptedAssertion beside the signed plain one (an SP may read the decrypted one instead)."""
    encrypted = etree.Element(q("saml", "EncryptedAssertion"))
    data = etree.SubElement(encrypted, q("xenc", "EncryptedData"))
    etree.SubElement(etree.SubElement(data, q("xenc", "CipherData")), q("xenc", "CipherValue")).text = "AAAA"
    assertion_of(root).addnext(encrypted)


def evil_response_id_is_the_signed_one(root: etree._Element) -> None:
    """Response signed: a second, unsigned Response inside the first holds the evil Assertion."""
    inner = etree.SubElement(root, q("samlp", "Response"), ID=EVIL_RESPONSE_ID)
    evil = unsigned_copy(assertion_of(root))
    evilize(evil)
    evil.set("ID", EVIL_ASSERTION_ID)
    inner.append(evil)


SEVERAL = [
    ("CVE-2022-41912-unsigned-after", "assertion", unsigned_assertion_appended),
    ("unsigned-before", "assertion", unsigned_assertion_first),
    ("encrypted-beside-plain", "assertion", encrypted_assertion_beside),
    ("nested-unsigned-response", "response", evil_response_id_is_the_signed_one),
]


@pytest.mark.parametrize(
    ("mode", "mutate"), [pytest.param(mode, mutate, id=name) for name, mode, mutate in SEVERAL]
)
def test_several_assertions(flow: Flow, mode: str, mutate: Mutation) -> None:
    root = flow.issue(mode)  # type: ignore[arg-type]
    mutate(root)
    assert len(list(root.iter(q("saml", "Assertion"), q("saml", "EncryptedAssertion")))) == 2
    flow.refused(flow.post(root), "multiple_assertions")
