"""Checking the IdP metadata's own XML signature (``SAML_IDP_METADATA_CERT``).

Entra, AD FS and federation aggregates sign their metadata with an enveloped
signature on the root element. With ``SAML_IDP_METADATA_CERT`` set, metadata
whose root is not signed by one of those certificates is refused, so whoever
can tamper with the metadata URL (a proxy, DNS) cannot swap in their own key.
"""

from __future__ import annotations

from collections.abc import Sequence

import xmlsec

from .crypto import SignatureVerifier
from .errors import ResponseRejected
from .xmlparse import parse_untrusted, q

__all__ = ["verify_metadata_signature"]

_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_EXC_C14N = ("http://www.w3.org/2001/10/xml-exc-c14n#", "http://www.w3.org/2001/10/xml-exc-c14n#WithComments")


def verify_metadata_signature(xml: bytes, certificates: Sequence[str], *, allow_sha1: bool = False) -> None:
    """Verify that the root element of ``xml`` is signed by one of ``certificates``.

    The signature must be a child of the root with exactly one ``Reference``
    to the root's ``ID``, and only the enveloped-signature and exclusive
    canonicalisation transforms.

    :raises ValueError: with a message fit for the operator's log.
    """
    try:
        root = parse_untrusted(xml.lstrip(b"\xef\xbb\xbf").strip())
    except ResponseRejected as exc:
        raise ValueError(f"not usable XML metadata: {exc.detail}") from None
    signatures = root.findall(q("ds", "Signature"))
    if len(signatures) != 1:
        raise ValueError("the metadata root carries no signature (SAML_IDP_METADATA_CERT is set)")
    signature = signatures[0]
    refs = signature.findall(f"{q('ds', 'SignedInfo')}/{q('ds', 'Reference')}")
    root_id = root.get("ID", "")
    if not root_id or len(refs) != 1 or refs[0].get("URI") != "#" + root_id:
        raise ValueError("the metadata signature does not reference the root element's ID")
    if sum(1 for el in root.iter() if el.get("ID") == root_id) != 1:
        raise ValueError("two elements of the metadata carry the signed ID")
    transforms = [t.get("Algorithm", "") for t in refs[0].iter(q("ds", "Transform"))]
    if any(t != _ENVELOPED and t not in _EXC_C14N for t in transforms) or _ENVELOPED not in transforms:
        raise ValueError(f"the metadata signature uses unexpected transforms {transforms}")
    xmlsec.tree.add_ids(root, ["ID"])
    try:
        SignatureVerifier(certificates, allow_sha1=allow_sha1)(signature)
    except ResponseRejected as exc:
        raise ValueError(f"the metadata signature does not verify: {exc.detail}") from None
