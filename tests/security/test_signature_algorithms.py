"""Which signature and digest algorithms a valid signature may use, and which IdP keys verify it.

Every signature here is genuinely valid (made with the IdP's key by python-xmlsec), so the only
thing between it and a login is the algorithm policy: RSA-SHA1 is weak whether its digests are
SHA-1 or SHA-256, SHA-1 digests are weak under RSA-SHA256, and ``SAML_ALLOW_SHA1`` lets both in.
The SHA-2 family is accepted. During an IdP key rollover every configured certificate verifies,
whatever the message's ``KeyInfo`` names.
"""

from __future__ import annotations

import pytest
import xmlsec
from lxml import etree

from saml_middleware.devidp import generate_keypair
from saml_middleware.devidp.signer import cert_base64
from saml_middleware.errors import ResponseRejected
from saml_middleware.protocol.signatures import SignatureVerifier

from .helpers import Flow, assertion_of, drop, q, signature_of

C = xmlsec.constants
RSA = {"rsa-sha1": C.TransformRsaSha1, "rsa-sha256": C.TransformRsaSha256,
       "rsa-sha384": C.TransformRsaSha384, "rsa-sha512": C.TransformRsaSha512}  # fmt: skip
DIGEST = {"sha1": C.TransformSha1, "sha256": C.TransformSha256, "sha384": C.TransformSha384,
          "sha512": C.TransformSha512}  # fmt: skip


def sign_with(element: etree._Element, key_pem: str, cert_pem: str, method: str, digest: str) -> None:
    """An enveloped signature over ``element`` with SignatureMethod ``method`` and DigestMethod ``digest``."""
    signature = xmlsec.template.create(element, C.TransformExclC14N, RSA[method])
    element.insert(1, signature)  # after the Issuer
    ref = xmlsec.template.add_reference(signature, DIGEST[digest], uri="#" + element.get("ID", ""))
    xmlsec.template.add_transform(ref, C.TransformEnveloped)
    xmlsec.template.add_transform(ref, C.TransformExclC14N)
    x509 = xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    xmlsec.template.x509_data_add_certificate(x509).text = cert_base64(cert_pem)
    xmlsec.tree.add_ids(element, ["ID"])
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(key_pem.encode(), C.KeyDataFormatPem)
    ctx.sign(signature)


def _signed(flow: Flow, method: str, digest: str) -> etree._Element:
    root = flow.issue("assertion", mutate=lambda _: None)
    drop(signature_of(assertion_of(root)))
    sign_with(assertion_of(root), flow.idp.key_pem, flow.idp.cert_pem, method, digest)
    return root


WEAK = [("rsa-sha1", "sha256"), ("rsa-sha1", "sha1"), ("rsa-sha256", "sha1"), ("rsa-sha512", "sha1")]


@pytest.mark.parametrize(("method", "digest"), WEAK, ids=[f"{m}+{d}" for m, d in WEAK])
def test_sha1_anywhere_is_refused_by_default(flow: Flow, method: str, digest: str) -> None:
    flow.refused(flow.post(_signed(flow, method, digest)), "weak_algorithm")


@pytest.mark.parametrize(("method", "digest"), WEAK, ids=[f"{m}+{d}" for m, d in WEAK])
def test_sha1_anywhere_is_accepted_when_allowed(start_flow, method: str, digest: str) -> None:
    """Positive control: the same signatures are valid; ``SAML_ALLOW_SHA1`` admits them."""
    flow = start_flow(allow_sha1=True)
    flow.accepted(flow.post(_signed(flow, method, digest)))


STRONG = [("rsa-sha256", "sha256"), ("rsa-sha384", "sha384"), ("rsa-sha512", "sha512"),
          ("rsa-sha256", "sha512")]  # fmt: skip


@pytest.mark.parametrize(("method", "digest"), STRONG, ids=[f"{m}+{d}" for m, d in STRONG])
def test_the_sha2_family_is_accepted(flow: Flow, method: str, digest: str) -> None:
    flow.accepted(flow.post(_signed(flow, method, digest)))


@pytest.mark.parametrize("missing", ["SignatureMethod", "Algorithm"])
def test_a_signature_without_a_signature_method_is_weak(missing: str) -> None:
    key, cert = generate_keypair("idp")
    element = etree.fromstring(b'<a ID="_a"><b/></a>')
    sign_with(element, key, cert, "rsa-sha256", "sha256")
    method = element.find(f"{q('ds', 'Signature')}/{q('ds', 'SignedInfo')}/{q('ds', 'SignatureMethod')}")
    assert method is not None
    if missing == "Algorithm":
        del method.attrib["Algorithm"]
    else:
        drop(method)
    with pytest.raises(ResponseRejected) as refused:
        SignatureVerifier([cert])(element.find(q("ds", "Signature")))  # type: ignore[arg-type]
    assert refused.value.reason == "weak_algorithm"


def test_a_signature_with_no_reference_digest_is_weak_not_trusted() -> None:
    """A SignedInfo with a strong method and no Reference at all proves nothing."""
    key, cert = generate_keypair("idp")
    element = etree.fromstring(b'<a xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"><b/></a>')
    sign_with(element, key, cert, "rsa-sha256", "sha256")
    signature = element.find(q("ds", "Signature"))
    assert signature is not None
    drop(signature.find(f"{q('ds', 'SignedInfo')}/{q('ds', 'Reference')}"))  # type: ignore[arg-type]
    with pytest.raises(ResponseRejected) as refused:
        SignatureVerifier([cert])(signature)
    assert refused.value.reason == "weak_algorithm"


@pytest.fixture(scope="module")
def next_keys() -> tuple[str, str]:
    return generate_keypair("next IdP key")


@pytest.mark.parametrize("key_info", ["names-the-key", "names-the-other-key", "none"])
@pytest.mark.parametrize("signer", ["current", "next"])
def test_every_configured_certificate_verifies_during_a_rollover(
    next_keys: tuple[str, str], idp, key_info: str, signer: str
) -> None:
    """``SAML_IDP_CERT`` lists the current and the next certificate: either key's signature verifies,
    whichever certificate (if any) the message's KeyInfo names; KeyInfo only orders the attempts."""
    current = (idp.key_pem, idp.cert_pem)
    used, other = (current, next_keys) if signer == "current" else (next_keys, current)
    element = etree.fromstring(b'<a ID="_a"><b>text</b></a>')
    sign_with(element, used[0], used[1], "rsa-sha256", "sha256")
    signature = element.find(q("ds", "Signature"))
    assert signature is not None
    x509 = signature.find(f".//{q('ds', 'X509Certificate')}")
    assert x509 is not None
    if key_info == "names-the-other-key":
        x509.text = cert_base64(other[1])
    elif key_info == "none":
        key_info_el = x509.getparent().getparent()  # type: ignore[union-attr]
        assert key_info_el is not None and key_info_el.tag == q("ds", "KeyInfo")
        drop(key_info_el)
    for order in ([idp.cert_pem, next_keys[1]], [next_keys[1], idp.cert_pem]):
        assert SignatureVerifier(order)(signature) == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    with pytest.raises(ResponseRejected) as refused:
        SignatureVerifier([other[1]])(signature)
    assert refused.value.reason == "signature_invalid"


def test_a_verifier_refuses_sha1_unless_told_otherwise(idp) -> None:
    element = etree.fromstring(b'<a ID="_a"><b>text</b></a>')
    sign_with(element, idp.key_pem, idp.cert_pem, "rsa-sha1", "sha1")
    signature = element.find(q("ds", "Signature"))
    assert signature is not None
    with pytest.raises(ResponseRejected) as refused:
        SignatureVerifier([idp.cert_pem])(signature)
    assert refused.value.reason == "weak_algorithm"
    assert SignatureVerifier([idp.cert_pem], allow_sha1=True)(signature).endswith("#rsa-sha1")


def test_a_verifier_needs_a_certificate() -> None:
    with pytest.raises(ValueError, match="at least one IdP certificate"):
        SignatureVerifier([])
