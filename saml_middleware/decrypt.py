"""Decrypting an ``EncryptedAssertion`` with the SP's own key, in process (python-xmlsec).

Entra ID "token encryption", AD FS, Shibboleth and Okta encrypt the assertion for the
key in the SP metadata: AES-CBC or AES-GCM content, the AES key wrapped with RSA-OAEP.
RSA PKCS#1 v1.5 key transport is refused (Bleichenbacher's padding oracle).
"""

from __future__ import annotations

import copy

import xmlsec
from lxml import etree

from .errors import ResponseRejected
from .xmlparse import check_depth_and_pis, q

__all__ = ["AssertionDecryptor"]

_XENC = "http://www.w3.org/2001/04/xmlenc#"
_XENC11 = "http://www.w3.org/2009/xmlenc11#"
ALLOWED = frozenset(
    {
        _XENC + "aes128-cbc",
        _XENC + "aes192-cbc",
        _XENC + "aes256-cbc",
        _XENC11 + "aes128-gcm",
        _XENC11 + "aes192-gcm",
        _XENC11 + "aes256-gcm",
        _XENC + "rsa-oaep-mgf1p",
        _XENC11 + "rsa-oaep",
    }
)


class AssertionDecryptor:
    """Replaces an ``EncryptedAssertion`` by the ``Assertion`` it holds.

    :param key_pems: the SP private keys, PKCS#8 PEM: ``SAML_SP_KEY`` and, during a
        rollover, ``SAML_SP_KEY_NEXT``; each is tried in turn.

    >>> decrypt = AssertionDecryptor(settings.sp_key)        # doctest: +SKIP
    >>> assertion = decrypt(response.find(".../EncryptedAssertion"))  # doctest: +SKIP

    .. warning:: a Response signature covers the *encrypted* form: verify it
       before calling this, because decryption changes the signed content.
    """

    def __init__(self, *key_pems: str) -> None:
        if not key_pems:
            raise ValueError("at least one SP key is required")
        self._keys = [xmlsec.Key.from_memory(k.encode(), xmlsec.constants.KeyDataFormatPem) for k in key_pems]

    def __call__(self, encrypted: etree._Element) -> etree._Element:
        """Decrypt in place; return the Assertion now standing where ``encrypted`` stood.

        :raises ResponseRejected: ``weak_algorithm`` for a refused algorithm,
            ``decryption_failed`` when it does not decrypt with this SP's key or
            does not yield exactly one Assertion.
        """
        data = encrypted.find(q("xenc", "EncryptedData"))
        if data is None:
            raise ResponseRejected("decryption_failed", "EncryptedAssertion without EncryptedData")
        for method in encrypted.iter(q("xenc", "EncryptionMethod")):
            if method.get("Algorithm") not in ALLOWED:
                raise ResponseRejected("weak_algorithm", f"encryption algorithm {method.get('Algorithm')!r}")
        _gather_encrypted_key(encrypted, data)
        plain: object = None
        failure: Exception | None = None
        position = list(encrypted).index(data)
        for key in self._keys:
            # each attempt on a copy: a failed one must not leave the tree half-changed
            trial = copy.deepcopy(encrypted)
            manager = xmlsec.KeysManager()
            manager.add_key(key)
            try:
                plain = xmlsec.EncryptionContext(manager).decrypt(trial[position])
                break
            except (xmlsec.Error, ValueError) as exc:
                failure = exc
        else:
            raise ResponseRejected(
                "decryption_failed", f"the assertion does not decrypt: {failure}"
            ) from None
        if not isinstance(plain, etree._Element) or plain.tag != q("saml", "Assertion"):
            raise ResponseRejected("decryption_failed", "the decrypted content is not one saml:Assertion")
        if len(trial) != 1:
            raise ResponseRejected("decryption_failed", "unexpected content beside the encrypted assertion")
        check_depth_and_pis(plain)
        parent = encrypted.getparent()
        if parent is None:
            raise ResponseRejected("decryption_failed", "EncryptedAssertion has no parent")
        parent.replace(encrypted, plain)
        return plain


def _gather_encrypted_key(encrypted: etree._Element, data: etree._Element) -> None:
    """Some IdPs put ``EncryptedKey`` beside ``EncryptedData`` (with a RetrievalMethod):
    move it into ``EncryptedData/KeyInfo`` where libxmlsec looks for it."""
    siblings = encrypted.findall(q("xenc", "EncryptedKey"))
    if not siblings:
        return
    key_info = data.find(q("ds", "KeyInfo"))
    if key_info is None:
        key_info = etree.SubElement(data, q("ds", "KeyInfo"))
        data.remove(key_info)
        method = data.find(q("xenc", "EncryptionMethod"))
        data.insert(1 if method is not None else 0, key_info)
    for retrieval in key_info.findall(q("ds", "RetrievalMethod")):
        key_info.remove(retrieval)
    for key in siblings:
        encrypted.remove(key)
        key_info.append(copy.deepcopy(key))
