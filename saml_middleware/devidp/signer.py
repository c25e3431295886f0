"""Enveloped XML signatures placed and shaped the way Entra ID makes them."""

from __future__ import annotations

import functools
from typing import Literal

import xmlsec
from lxml import etree

__all__ = ["Algorithm", "XmlSigner", "cert_base64", "sign_element"]

Algorithm = Literal["sha256", "sha1"]

_DS = "http://www.w3.org/2000/09/xmldsig#"
_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
_METHODS = {
    "sha256": (xmlsec.constants.TransformRsaSha256, xmlsec.constants.TransformSha256),
    "sha1": (xmlsec.constants.TransformRsaSha1, xmlsec.constants.TransformSha1),
}


def cert_base64(cert_pem: str) -> str:
    """The base64 body of a PEM certificate on one line, as in metadata and KeyInfo."""
    lines = [line.strip() for line in cert_pem.strip().splitlines()]
    if len(lines) < 3 or lines[0] != "-----BEGIN CERTIFICATE-----":
        raise ValueError("expected one PEM certificate (-----BEGIN CERTIFICATE-----)")
    end = lines.index("-----END CERTIFICATE-----")
    return "".join(lines[1:end])


class XmlSigner:
    """An RSA key and its certificate, loaded into xmlsec once, for many signatures."""

    def __init__(self, key_pem: str, cert_pem: str) -> None:
        """Load ``key_pem`` (PKCS#8 or PKCS#1 PEM) and ``cert_pem`` from memory.

        :raises ValueError: when either does not load.
        """
        try:
            key = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem)
        except xmlsec.Error as exc:
            raise ValueError(f"cannot load the private key: {exc}") from None
        try:
            key.load_cert_from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
        except xmlsec.Error as exc:
            raise ValueError(f"cannot load the certificate: {exc}") from None
        self._key = key
        self._cert_b64 = cert_base64(cert_pem)

    @property
    def cert_base64(self) -> str:
        """The signing certificate's base64 body, one line."""
        return self._cert_b64

    def sign(self, element: etree._Element, *, algorithm: Algorithm = "sha256") -> None:
        """Sign ``element`` in place with an enveloped signature over its ``ID``.

        The ``ds:Signature`` goes right after the element's ``saml:Issuer``
        child (or first, when it has none, as in Entra's metadata), with one
        ``Reference URI="#<ID>"``, the enveloped-signature and exclusive c14n
        transforms, exclusive c14n for SignedInfo, and the certificate in
        ``KeyInfo/X509Data/X509Certificate``. No whitespace is added.

        :param algorithm: ``"sha256"`` (rsa-sha256 + sha256, the default) or
            ``"sha1"`` (rsa-sha1 + sha1, for testing that SPs refuse it).
        :raises ValueError: when the element has no ``ID`` or the algorithm is unknown.
        """
        if algorithm not in _METHODS:
            raise ValueError(f"algorithm must be 'sha256' or 'sha1', not {algorithm!r}")
        element_id = element.get("ID")
        if not element_id:
            raise ValueError(f"{element.tag} has no ID attribute to sign")
        sign_method, digest_method = _METHODS[algorithm]
        signature = xmlsec.template.create(element, xmlsec.constants.TransformExclC14N, sign_method)
        after_issuer = len(element) > 0 and element[0].tag == f"{{{_SAML}}}Issuer"
        element.insert(1 if after_issuer else 0, signature)
        ref = xmlsec.template.add_reference(signature, digest_method, uri=f"#{element_id}")
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
        key_info = xmlsec.template.ensure_key_info(signature)
        x509_data = xmlsec.template.add_x509_data(key_info)
        xmlsec.template.x509_data_add_certificate(x509_data).text = self._cert_b64
        for node in signature.iter():  # Entra's signatures carry no indentation
            if node is not signature:
                node.tail = None
            if len(node) and node.text is not None and not node.text.strip():
                node.text = None
        xmlsec.tree.add_ids(element, ["ID"])
        ctx = xmlsec.SignatureContext()
        ctx.key = self._key
        ctx.sign(signature)
        value = signature.find(f"{{{_DS}}}SignatureValue")
        if value is not None and value.text:  # not covered by the signature: unwrap it
            value.text = "".join(value.text.split())


@functools.lru_cache(maxsize=8)
def _signer(key_pem: str, cert_pem: str) -> XmlSigner:
    return XmlSigner(key_pem, cert_pem)


def sign_element(
    element: etree._Element,
    key_pem: str,
    cert_pem: str,
    *,
    algorithm: Algorithm = "sha256",
) -> None:
    """Sign ``element`` in place; see :meth:`XmlSigner.sign`.

    Keys are loaded from memory and cached per (key, cert) pair; code that
    signs a lot should hold an :class:`XmlSigner` instead.
    """
    _signer(key_pem, cert_pem).sign(element, algorithm=algorithm)
