"""In-process XML signature verification (python-xmlsec, which bundles libxmlsec1).

No ``xmlsec1`` binary, no temporary files, no subprocess: keys are loaded
once per IdP metadata load and every verification runs in this process.

Only keys from configuration are ever used: the context's key is set
explicitly, so a certificate or key carried in the message's ``KeyInfo``
is never trusted (pysaml2 CVE-2021-21239, xml-crypto CVE-2024-32962).

The IdP metadata's own XML signature (``SAML_IDP_METADATA_CERT``,
:func:`verify_metadata_signature`).

Entra, AD FS and federation aggregates sign their metadata with an enveloped
signature on the root element. With ``SAML_IDP_METADATA_CERT`` set, metadata
whose root is not signed by one of those certificates is refused, so whoever
can tamper with the metadata URL (a proxy, DNS) cannot swap in their own key.

The signature's shape is checked as a SAML response's is
(:func:`~saml_middleware.protocol.checks.check_signature_shape`): one ``Reference`` to
the root's ``ID``, only the enveloped-signature and exclusive canonicalisation
transforms, a known ``CanonicalizationMethod`` and no ``ds:Object``. The
caller parses the document once (``metadata.idp_from_metadata``) and reads the IdP
from the very tree whose signature was verified here.
"""

from __future__ import annotations

from collections.abc import Sequence

import xmlsec
from lxml import etree

from ..errors import ResponseRejected
from ..pem import pem_body
from .checks import check_signature_shape
from .xml import q

__all__ = ["STRONG_SIGNATURES", "SignatureVerifier", "signature_algorithms", "verify_metadata_signature"]

_DSIG = "http://www.w3.org/2000/09/xmldsig#"
_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
_ENC = "http://www.w3.org/2001/04/xmlenc#"

STRONG_SIGNATURES = frozenset(
    {
        _MORE + "rsa-sha256",
        _MORE + "rsa-sha384",
        _MORE + "rsa-sha512",
        _MORE + "ecdsa-sha256",
        _MORE + "ecdsa-sha384",
        _MORE + "ecdsa-sha512",
        "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1",
    }
)
STRONG_DIGESTS = frozenset({_ENC + "sha256", _MORE + "sha384", _ENC + "sha512"})
SHA1_SIGNATURES = frozenset({_DSIG + "rsa-sha1", _MORE + "ecdsa-sha1"})
SHA1_DIGESTS = frozenset({_DSIG + "sha1"})


def signature_algorithms(signature: etree._Element) -> tuple[str, list[str]]:
    """``(SignatureMethod, [DigestMethod, ...])`` of a ``ds:Signature``."""
    method = signature.find(f"{q('ds', 'SignedInfo')}/{q('ds', 'SignatureMethod')}")
    digests = signature.findall(f"{q('ds', 'SignedInfo')}/{q('ds', 'Reference')}/{q('ds', 'DigestMethod')}")
    return (
        method.get("Algorithm", "") if method is not None else "",
        [d.get("Algorithm", "") for d in digests],
    )


class SignatureVerifier:
    """Verifies enveloped signatures against a fixed set of trusted certificates.

    :param certificates: PEM certificates of the IdP (all of them are tried,
        so a metadata file listing the current and the next key works during
        a rollover).
    :param allow_sha1: accept RSA-SHA1 signatures and SHA-1 digests.

    >>> verifier = SignatureVerifier([idp_cert_pem])          # doctest: +SKIP
    >>> verifier(assertion.find("{...}Signature"))            # doctest: +SKIP
    'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256'

    .. warning:: the caller must first make sure the signature's single
       Reference points at its parent element (``checks.check_structure``);
       this class checks the cryptography, not what was signed.
    """

    def __init__(self, certificates: Sequence[str], *, allow_sha1: bool = False) -> None:
        if not certificates:
            raise ValueError("at least one IdP certificate is required")
        self._keys: list[tuple[str, xmlsec.Key]] = []
        for pem in certificates:
            self._keys.append(
                (pem_body(pem), xmlsec.Key.from_memory(pem.encode(), xmlsec.constants.KeyDataFormatCertPem))
            )
        self._signatures = STRONG_SIGNATURES | (SHA1_SIGNATURES if allow_sha1 else frozenset())
        self._digests = STRONG_DIGESTS | (SHA1_DIGESTS if allow_sha1 else frozenset())

    def __call__(self, signature: etree._Element) -> str:
        """Verify ``signature`` in place; return its SignatureMethod algorithm.

        :raises ResponseRejected: ``weak_algorithm`` or ``signature_invalid``.
        """
        method, digests = signature_algorithms(signature)
        if method not in self._signatures or not digests or any(d not in self._digests for d in digests):
            raise ResponseRejected(
                "weak_algorithm", f"signature {method!r} with digests {digests!r} not allowed"
            )
        hint = signature.findtext(f".//{q('ds', 'X509Certificate')}") or ""
        hint = "".join(hint.split())
        # Try the key the message names first, then the others: the hint
        # only orders the attempts, it never adds a key.
        ordered = sorted(self._keys, key=lambda item: item[0] != hint)
        for _, key in ordered:
            ctx = xmlsec.SignatureContext()
            ctx.key = key
            try:
                ctx.verify(signature)
            except xmlsec.Error:
                continue
            return method
        raise ResponseRejected(
            "signature_invalid", "signature does not verify with any configured IdP certificate"
        )


def verify_metadata_signature(
    root: etree._Element, certificates: Sequence[str], *, allow_sha1: bool = False
) -> None:
    """Verify that the metadata ``root`` element is signed by one of ``certificates``.

    :param root: the parsed metadata (``protocol.xml.parse_untrusted``).
    :raises ValueError: with a message fit for the operator's log.
    """
    signatures = root.findall(q("ds", "Signature"))
    if len(signatures) != 1:
        raise ValueError("the metadata root carries no signature (SAML_IDP_METADATA_CERT is set)")
    signature = signatures[0]
    try:
        check_signature_shape(signature, root)
    except ResponseRejected as exc:
        raise ValueError(
            f"the metadata signature is not an enveloped signature of the root: {exc.detail}"
        ) from None
    root_id = root.get("ID", "")
    if sum(1 for el in root.iter() if el.get("ID") == root_id) != 1:
        raise ValueError("two elements of the metadata carry the signed ID")
    xmlsec.tree.add_ids(root, ["ID"])
    try:
        SignatureVerifier(certificates, allow_sha1=allow_sha1)(signature)
    except ResponseRejected as exc:
        raise ValueError(f"the metadata signature does not verify: {exc.detail}") from None
