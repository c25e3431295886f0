"""Checking the SP's signature on a request, when the dev IdP was given the SP certificate.

As Entra ID does with "Verification certificates" on (and SimpleSAMLphp with
``validate.authnrequest``): a request without a valid signature by that certificate is refused.
HTTP-Redirect: the query string signature (``SigAlg``, ``Signature``), checked over the query as
received. HTTP-POST: an enveloped XML signature on the message's root, checked with the
SP package's own verifier (only the configured certificate, never the ``KeyInfo``).
"""

from __future__ import annotations

from urllib.parse import unquote_plus

import xmlsec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from ..errors import ResponseRejected
from ..pem import certificate_object
from ..protocol.bindings import SIG_HASHES, b64decode_strict, signed_strings, split_query
from ..protocol.checks import check_signature_shape
from ..protocol.signatures import SignatureVerifier
from ..protocol.xml import q

__all__ = ["verify_post_signature", "verify_redirect_signature"]


def verify_redirect_signature(raw_query: str, cert_pem: str) -> None:
    """The query's ``Signature`` (over ``SAMLRequest``, ``RelayState``, ``SigAlg``) verifies.

    :param cert_pem: the SP certificate.
    :raises ValueError: naming what is missing or wrong.
    """
    raw = split_query(raw_query)  # ValueError on a repeated parameter
    if "Signature" not in raw or "SigAlg" not in raw:
        raise ValueError(
            "the request is not signed (no Signature in the query), and the SP certificate is set"
        )
    alg = unquote_plus(raw["SigAlg"])
    if alg not in SIG_HASHES:
        raise ValueError(f"SigAlg {alg!r} is not accepted")
    key = certificate_object(cert_pem).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the SP certificate is not for an RSA key")
    signature = b64decode_strict(unquote_plus(raw["Signature"]))
    for signed in signed_strings(raw, "SAMLRequest"):
        try:
            key.verify(signature, signed, padding.PKCS1v15(), SIG_HASHES[alg]())
        except InvalidSignature:
            continue
        return
    raise ValueError("the request's signature does not verify with the SP certificate")


def verify_post_signature(root: etree._Element, cert_pem: str) -> None:
    """``root`` (a decoded HTTP-POST message) carries an enveloped signature by ``cert_pem``.

    :raises ValueError: naming what is missing or wrong.
    """
    signatures = root.findall(q("ds", "Signature"))
    if len(signatures) != 1:
        raise ValueError("the request is not signed (no XML signature), and the SP certificate is set")
    try:
        check_signature_shape(signatures[0], root)
        xmlsec.tree.add_ids(root, ["ID"])
        SignatureVerifier([cert_pem])(signatures[0])
    except ResponseRejected as exc:
        raise ValueError(f"the request's XML signature is refused ({exc.reason}): {exc.detail}") from None
