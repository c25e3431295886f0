"""Signing the SP's own messages inside the XML, for the HTTP-POST binding (python-xmlsec).

On the HTTP-Redirect binding the query string is signed (``bindings.redirect_url``); on the
HTTP-POST binding the signature travels inside the message: an enveloped XML-DSig signature
over the root's ``ID``, RSA-SHA256 with a SHA-256 digest, exclusive canonicalisation, placed
right after the ``saml:Issuer`` as the schema of AuthnRequest, LogoutRequest and
LogoutResponse requires, with the SP certificate in ``KeyInfo`` (IdPs verify it with the key
they were given, as this package does with theirs).
"""

from __future__ import annotations

import xmlsec
from lxml import etree

from ..pem import pem_body
from .xml import q

__all__ = ["EnvelopedSigner"]


class EnvelopedSigner:
    """Signs whole SAML protocol messages with the SP key; keys are loaded once.

    :param key_pem: the SP's RSA private key (PEM, as ``Settings.sp_key`` holds it).
    :param cert_pem: its certificate (PEM), named in ``KeyInfo``.
    :raises ValueError: when the key or the certificate does not load.

    >>> signer = EnvelopedSigner(settings.sp_key, settings.sp_cert)  # doctest: +SKIP
    >>> signed = signer(b'<samlp:AuthnRequest ID="_1" ...><saml:Issuer>...')  # doctest: +SKIP
    """

    def __init__(self, key_pem: str, cert_pem: str) -> None:
        try:
            self._key = xmlsec.Key.from_memory(key_pem.encode(), xmlsec.constants.KeyDataFormatPem)
        except xmlsec.Error as exc:
            raise ValueError(f"the SP key does not load into xmlsec: {exc}") from None
        self._cert = pem_body(cert_pem)

    def __call__(self, xml: bytes) -> bytes:
        """``xml`` (one element with an ``ID``, made by this package) with its signature inside.

        :raises ValueError: when the root has no ``ID``.
        """
        root = etree.fromstring(xml)  # our own message, not untrusted input
        root_id = root.get("ID")
        if not root_id:
            raise ValueError(f"{root.tag} has no ID to sign")
        signature = xmlsec.template.create(
            root, xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformRsaSha256, ns="ds"
        )
        after_issuer = len(root) > 0 and root[0].tag == q("saml", "Issuer")
        root.insert(1 if after_issuer else 0, signature)
        ref = xmlsec.template.add_reference(signature, xmlsec.constants.TransformSha256, uri=f"#{root_id}")
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
        x509 = xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
        xmlsec.template.x509_data_add_certificate(x509).text = self._cert
        xmlsec.tree.add_ids(root, ["ID"])
        ctx = xmlsec.SignatureContext()
        ctx.key = self._key
        ctx.sign(signature)
        return etree.tostring(root, encoding="utf-8", xml_declaration=False)
