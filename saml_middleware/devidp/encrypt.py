"""Encrypting an assertion for an SP, as Entra "token encryption" does (AES-256-CBC, RSA-OAEP)."""

from __future__ import annotations

from typing import Any

import xmlsec
from lxml import etree

from .responses import ASSERTION_NS

__all__ = ["encrypt_assertion", "encrypt_element"]


def encrypt_assertion(assertion: etree._Element, sp_cert_pem: str) -> etree._Element:
    """Replace ``assertion`` (already signed, if it is to be) by an ``EncryptedAssertion``
    for the holder of ``sp_cert_pem``; return the new element.

    The content key is a fresh AES-256 key, wrapped with RSA-OAEP (MGF1-SHA1) under the
    SP's public key and carried in ``EncryptedData/KeyInfo/EncryptedKey``.
    """
    return encrypt_element(assertion, sp_cert_pem, "EncryptedAssertion")


def encrypt_element(element: etree._Element, sp_cert_pem: str, wrapper: str) -> etree._Element:
    """Replace ``element`` by a SAML ``wrapper`` (``EncryptedAssertion``, ``EncryptedID``)
    holding it encrypted for ``sp_cert_pem``, as :func:`encrypt_assertion` does; return it."""
    parent = element.getparent()
    if parent is None:
        raise ValueError("the element to encrypt must have a parent")
    # Encrypt in place first: moving a signed element under a new parent first
    # would let lxml rewrite its namespace prefixes and break its signature.
    template = xmlsec.template.encrypted_data_create(
        parent, xmlsec.constants.TransformAes256Cbc, type=xmlsec.constants.TypeEncElement, ns="xenc"
    )
    xmlsec.template.encrypted_data_ensure_cipher_value(template)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(template, ns="ds")
    encrypted_key = xmlsec.template.add_encrypted_key(key_info, xmlsec.constants.TransformRsaOaep)
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(sp_cert_pem.encode(), xmlsec.constants.KeyDataFormatCertPem))
    ctx = xmlsec.EncryptionContext(manager)
    ctx.key = xmlsec.Key.generate(xmlsec.constants.KeyDataAes, 256, xmlsec.constants.KeyDataTypeSession)
    encrypted = ctx.encrypt_xml(template, element)
    default_ns: Any = {None: ASSERTION_NS}  # Entra's spelling: xmlns="...assertion"
    holder = etree.Element(f"{{{ASSERTION_NS}}}{wrapper}", nsmap=default_ns)
    encrypted.addprevious(holder)
    holder.append(encrypted)
    return holder
