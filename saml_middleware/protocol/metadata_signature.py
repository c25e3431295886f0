"""Checking the IdP metadata's own XML signature (``SAML_IDP_METADATA_CERT``).

Entra, AD FS and federation aggregates sign their metadata with an enveloped
signature on the root element. With ``SAML_IDP_METADATA_CERT`` set, metadata
whose root is not signed by one of those certificates is refused, so whoever
can tamper with the metadata URL (a proxy, DNS) cannot swap in their own key.

The signature's shape is checked as a SAML response's is
(:func:`~saml_middleware.protocol.checks.check_signature_shape`): one ``Reference`` to
the root's ``ID``, only the enveloped-signature and exclusive canonicalisation
transforms, a known ``CanonicalizationMethod`` and no ``ds:Object``. The
caller parses the document once (``idp.idp_from_metadata``) and reads the IdP
from the very tree whose signature was verified here.
"""

from __future__ import annotations

from collections.abc import Sequence

import xmlsec
from lxml import etree

from ..errors import ResponseRejected
from .checks import check_signature_shape
from .signatures import SignatureVerifier
from .xml import q

__all__ = ["verify_metadata_signature"]


def verify_metadata_signature(
    root: etree._Element, certificates: Sequence[str], *, allow_sha1: bool = False
) -> None:
    """Verify that the metadata ``root`` element is signed by one of ``certificates``.

    :param root: the parsed metadata (``xmlparse.parse_untrusted``).
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
