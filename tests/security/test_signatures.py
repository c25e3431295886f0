"""Signature mutations, each in the three signing modes (Assertion, Response, both) and both adapters.

A freshly signed response has its signature stripped, garbled, re-pointed, extended (extra
Reference, XPath/XSLT transforms, ``ds:Object``), moved, downgraded (SHA-1, HMAC), or is re-signed
with a key that is not the IdP's. In ``both`` mode the Response signature is attacked and the
Assertion's stays valid: a broken signature must not be excused by another one that verifies.

CVEs: pysaml2 CVE-2021-21239 and xml-crypto CVE-2024-32962 (a key carried in ``KeyInfo`` trusted:
here the attacker's certificate, the IdP's certificate over an attacker signature, a bare
``RSAKeyValue``); ruby-saml CVE-2024-45409 (the DigestValue read from elsewhere in the document);
the HMAC-with-public-key confusion (CVE-2017-11428 family, ``hmac-sha256`` SignatureMethod).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from saml_middleware.devidp import DevIdP, generate_keypair
from saml_middleware.devidp.signer import cert_base64

from ..support.harness import IDP
from .helpers import (
    CONNECTION_TOO,
    EVIL,
    NS,
    SIGN_MODES,
    Flow,
    SignMode,
    assertion_of,
    b64,
    drop,
    evilize,
    q,
    sha256_digest,
    signature_of,
    strip_signatures,
    target_signature,
)

SigMutation = Callable[[etree._Element, etree._Element], None]

XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
XSLT = "http://www.w3.org/TR/1999/REC-xslt-19991116"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
HMAC_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
SHA1_DIGEST = "http://www.w3.org/2000/09/xmldsig#sha1"


@pytest.fixture(scope="session")
def attacker_keys() -> tuple[str, str]:
    return generate_keypair("attacker")


def _value(sig: etree._Element) -> etree._Element:
    found = sig.find(q("ds", "SignatureValue"))
    assert found is not None and found.text
    return found


def _reference(sig: etree._Element) -> etree._Element:
    found = sig.find(f"{q('ds', 'SignedInfo')}/{q('ds', 'Reference')}")
    assert found is not None
    return found


def _other_id(root: etree._Element, sig: etree._Element) -> str:
    """The ID of the signed element the signature does *not* sit on (Response <-> Assertion)."""
    other = assertion_of(root) if sig.getparent() is root else root
    return other.get("ID", "")


# -- mutations of one signature (the Response's when signed, else the Assertion's) ----------------
def zero_signature_value(root: etree._Element, sig: etree._Element) -> None:
    value = _value(sig)
    value.text = b64(b"\0" * len(base64.b64decode(value.text or "")))


def garble_signature_value(root: etree._Element, sig: etree._Element) -> None:
    value = _value(sig)
    text = value.text or ""
    middle = len(text) // 2
    value.text = text[:middle] + ("B" if text[middle] == "A" else "A") + text[middle + 1 :]


def signature_value_not_base64(root: etree._Element, sig: etree._Element) -> None:
    _value(sig).text = "!!not-base64!!"


def alter_digest_value(root: etree._Element, sig: etree._Element) -> None:
    digest = _reference(sig).find(q("ds", "DigestValue"))
    assert digest is not None
    digest.text = b64(bytes(32))


def tamper_signed_content(root: etree._Element, sig: etree._Element) -> None:
    evilize(assertion_of(root))


def reference_to_the_other_element(root: etree._Element, sig: etree._Element) -> None:
    _reference(sig).set("URI", "#" + _other_id(root, sig))


def reference_to_the_whole_document(root: etree._Element, sig: etree._Element) -> None:
    _reference(sig).set("URI", "")


def reference_without_uri(root: etree._Element, sig: etree._Element) -> None:
    del _reference(sig).attrib["URI"]


def extra_reference(root: etree._Element, sig: etree._Element) -> None:
    ref = _reference(sig)
    extra = copy.deepcopy(ref)
    extra.set("URI", "#" + _other_id(root, sig))
    ref.addnext(extra)


def _add_transform(sig: etree._Element, algorithm: str, child: etree._Element | None = None) -> None:
    transforms = _reference(sig).find(q("ds", "Transforms"))
    assert transforms is not None
    transform = etree.SubElement(transforms, q("ds", "Transform"), Algorithm=algorithm)
    if child is not None:
        transform.append(child)


def xpath_transform(root: etree._Element, sig: etree._Element) -> None:
    xpath = etree.Element(q("ds", "XPath"))
    xpath.text = "not(ancestor-or-self::*[local-name()='NameID'])"
    _add_transform(sig, XPATH, xpath)


def xslt_transform(root: etree._Element, sig: etree._Element) -> None:
    sheet = etree.fromstring(
        b'<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0">'
        b'<xsl:template match="/"><xsl:copy-of select="document(\'file:///etc/passwd\')"/>'
        b"</xsl:template></xsl:stylesheet>"
    )
    _add_transform(sig, XSLT, sheet)


def no_enveloped_transform(root: etree._Element, sig: etree._Element) -> None:
    transforms = _reference(sig).find(q("ds", "Transforms"))
    assert transforms is not None
    for transform in transforms.findall(q("ds", "Transform")):
        if transform.get("Algorithm") == ENVELOPED:
            transforms.remove(transform)


def ds_object_in_signature(root: etree._Element, sig: etree._Element) -> None:
    holder = etree.SubElement(sig, q("ds", "Object"), Id="evil")
    etree.SubElement(holder, "{urn:example:evil}NameID").text = EVIL


def two_signatures_on_one_element(root: etree._Element, sig: etree._Element) -> None:
    sig.addnext(copy.deepcopy(sig))


def signature_moved_below_its_element(root: etree._Element, sig: etree._Element) -> None:
    parent = sig.getparent()
    assert parent is not None
    child = parent.find(q("saml", "Subject")) if parent is not root else root.find(q("samlp", "Status"))
    assert child is not None
    child.append(sig)


def signature_without_signed_info(root: etree._Element, sig: etree._Element) -> None:
    drop(sig.find(q("ds", "SignedInfo")))  # type: ignore[arg-type]


def unexpected_canonicalization(root: etree._Element, sig: etree._Element) -> None:
    method = sig.find(f"{q('ds', 'SignedInfo')}/{q('ds', 'CanonicalizationMethod')}")
    assert method is not None
    method.set("Algorithm", XSLT)


def hmac_signature_method(root: etree._Element, sig: etree._Element) -> None:
    method = sig.find(f"{q('ds', 'SignedInfo')}/{q('ds', 'SignatureMethod')}")
    assert method is not None
    method.set("Algorithm", HMAC_SHA256)


def sha1_digest_under_rsa_sha256(root: etree._Element, sig: etree._Element) -> None:
    method = _reference(sig).find(q("ds", "DigestMethod"))
    assert method is not None
    method.set("Algorithm", SHA1_DIGEST)


ONE_SIGNATURE: list[tuple[str, SigMutation, str]] = [
    ("SignatureValue-zeroed", zero_signature_value, "signature_invalid"),
    ("SignatureValue-garbled", garble_signature_value, "signature_invalid"),
    ("SignatureValue-not-base64", signature_value_not_base64, "signature_invalid"),
    ("DigestValue-altered", alter_digest_value, "signature_invalid"),
    ("signed-content-tampered", tamper_signed_content, "signature_invalid"),
    ("Reference-URI-to-the-other-element", reference_to_the_other_element, "wrapped_signature"),
    ("Reference-URI-empty-whole-document", reference_to_the_whole_document, "wrapped_signature"),
    ("Reference-without-URI", reference_without_uri, "wrapped_signature"),
    ("extra-Reference", extra_reference, "wrapped_signature"),
    ("XPath-transform", xpath_transform, "wrapped_signature"),
    ("XSLT-transform", xslt_transform, "wrapped_signature"),
    ("no-enveloped-transform", no_enveloped_transform, "wrapped_signature"),
    ("ds-Object-in-signature", ds_object_in_signature, "wrapped_signature"),
    ("two-signatures-on-one-element", two_signatures_on_one_element, "wrapped_signature"),
    ("signature-moved-below-its-element", signature_moved_below_its_element, "wrapped_signature"),
    ("signature-without-SignedInfo", signature_without_signed_info, "wrapped_signature"),
    ("XSLT-SignedInfo-canonicalization", unexpected_canonicalization, "wrapped_signature"),
    ("HMAC-SignatureMethod", hmac_signature_method, "weak_algorithm"),
    ("SHA1-DigestMethod-under-RSA-SHA256", sha1_digest_under_rsa_sha256, "weak_algorithm"),
]


@CONNECTION_TOO
@pytest.mark.parametrize("mode", SIGN_MODES)
@pytest.mark.parametrize(("mutate", "reason"), [pytest.param(m, r, id=name) for name, m, r in ONE_SIGNATURE])
def test_signature_mutation(flow: Flow, mode: SignMode, mutate: SigMutation, reason: str) -> None:
    root = flow.issue(mode)
    mutate(root, target_signature(root, mode))
    flow.refused(flow.post(root), reason)


# -- every signature at once -----------------------------------------------------------------------
@CONNECTION_TOO
@pytest.mark.parametrize("mode", SIGN_MODES)
def test_signatures_stripped_from_every_signed_part(flow: Flow, mode: SignMode) -> None:
    root = flow.issue(mode)
    strip_signatures(root)
    evilize(root)
    flow.refused(flow.post(root), "signature_missing")


@pytest.mark.parametrize("mode", SIGN_MODES)
def test_signatures_in_a_look_alike_namespace_do_not_count(flow: Flow, mode: SignMode) -> None:
    root = flow.issue(mode)
    for sig in list(root.iter(q("ds", "Signature"))):
        sig.tag = "{http://www.w3.org/2000/09/xmldsig#/}Signature"
    flow.refused(flow.post(root), "signature_missing")


def test_both_signed_with_the_assertion_signature_stripped(flow: Flow) -> None:
    """The Response signature covers the Assertion's signature too: removing it breaks the Response's."""
    root = flow.issue("both")
    drop(signature_of(assertion_of(root)))
    flow.refused(flow.post(root), "signature_invalid")


@CONNECTION_TOO
@pytest.mark.parametrize("mode", SIGN_MODES)
def test_unmutated_response_is_accepted(flow: Flow, mode: SignMode) -> None:
    """Positive control: the re-issued response of every mode is accepted as it is."""
    flow.accepted(flow.post(flow.issue(mode)))


# -- keys that are not the IdP's -------------------------------------------------------------------
def _rsa_key_value(cert_pem: str) -> etree._Element:
    public = x509.load_pem_x509_certificate(cert_pem.encode()).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    numbers = public.public_numbers()

    def b64int(n: int) -> str:
        return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))

    key_value = etree.Element(q("ds", "KeyValue"), nsmap={"ds": NS["ds"]})
    rsa_value = etree.SubElement(key_value, q("ds", "RSAKeyValue"))
    etree.SubElement(rsa_value, q("ds", "Modulus")).text = b64int(numbers.n)
    etree.SubElement(rsa_value, q("ds", "Exponent")).text = b64int(numbers.e)
    return key_value


def _key_infos(root: etree._Element) -> list[etree._Element]:
    return list(root.iter(q("ds", "KeyInfo")))


@CONNECTION_TOO
@pytest.mark.parametrize("mode", SIGN_MODES)
@pytest.mark.parametrize("key_info", ["attacker-certificate", "idp-certificate", "RSAKeyValue", "none"])
def test_resigned_with_an_attacker_key(
    flow: Flow, mode: SignMode, key_info: str, attacker_keys: tuple[str, str]
) -> None:
    """CVE-2021-21239 / CVE-2024-32962: whatever KeyInfo says, only the configured certificate counts."""
    root = flow.issue(mode, mutate=evilize, keys=attacker_keys)
    for info in _key_infos(root):
        if key_info == "idp-certificate":
            cert = info.find(f".//{q('ds', 'X509Certificate')}")
            assert cert is not None
            cert.text = cert_base64(flow.idp.cert_pem)
        elif key_info == "RSAKeyValue":
            for child in list(info):
                info.remove(child)
            info.append(_rsa_key_value(attacker_keys[1]))
        elif key_info == "none":
            drop(info)
    flow.refused(flow.post(root), "signature_invalid")


@CONNECTION_TOO
@pytest.mark.parametrize("mode", SIGN_MODES)
def test_signed_by_another_tenant(flow: Flow, mode: SignMode, clock, attacker_keys) -> None:
    """Another Entra tenant (its own key) issues a response for this SP and this login."""
    key, cert = attacker_keys
    other = DevIdP(
        IDP, tenant_id="0f0f0f0f-1111-4222-8333-444455556666", key_pem=key, cert_pem=cert, clock=clock
    )
    xml = other.issue_response(
        "b.simon@contoso.com",
        acs_url="http://app.test/saml/acs",
        audience="http://app.test/saml/metadata",
        in_response_to=flow.request_id,
        sign=mode,
    )
    flow.refused(flow.post(xml), "signature_invalid")


@pytest.mark.parametrize("mode", SIGN_MODES)
def test_sha1_is_refused_by_default(flow: Flow, mode: SignMode) -> None:
    flow.refused(flow.post(flow.issue(mode, algorithm="sha1")), "weak_algorithm")


@pytest.mark.parametrize("mode", SIGN_MODES)
def test_sha1_is_accepted_when_allowed(start_flow, mode: SignMode) -> None:
    """Positive control: ``SAML_ALLOW_SHA1`` lets the same SHA-1 response in."""
    flow = start_flow(allow_sha1=True)
    flow.accepted(flow.post(flow.issue(mode, algorithm="sha1")))


def test_digest_value_smuggled_elsewhere(flow: Flow) -> None:
    """CVE-2024-45409: the evil Assertion's digest placed where an XPath for DigestValue may find it
    first, the SignedInfo (and its SignatureValue) left as the IdP made them."""
    root = flow.issue("assertion")
    assertion = assertion_of(root)
    evilize(assertion)
    extensions = etree.Element(q("samlp", "Extensions"))
    etree.SubElement(extensions, q("ds", "DigestValue")).text = sha256_digest(assertion)
    root.find(q("saml", "Issuer")).addnext(extensions)  # type: ignore[union-attr]
    flow.refused(flow.post(root), "signature_invalid")
