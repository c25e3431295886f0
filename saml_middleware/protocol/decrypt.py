"""Decrypting an ``EncryptedAssertion`` or an ``EncryptedID`` with the SP's own key, in process.

Entra ID "token encryption", AD FS, Shibboleth, Okta and pysaml2/SATOSA encrypt for the key
in the SP metadata: AES-CBC, AES-GCM or Triple-DES content, the key wrapped with RSA-OAEP.
RSA PKCS#1 v1.5 key transport is refused (Bleichenbacher's padding oracle). Only inline data
is decrypted (``xmlenc.py``).

The decrypted assertion is never spliced into the Response: it is parsed as its own document,
its prefixes exactly as the IdP wrote them, so its signature verifies there (moving it under
the Response let lxml rewrite prefixes, which changes the canonical form), and the identity
is read from that same, verified element.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from ..errors import ResponseRejected
from .checks import Parts, check_structure
from .xml import NS, parse_untrusted, q
from .xmlenc import InlineDecryptor

__all__ = ["AssertionDecryptor", "parse_plaintext", "reveal_name_id"]


class AssertionDecryptor:
    """Decrypts an ``EncryptedAssertion`` into a document of its own.

    :param key_pems: the SP private keys, PKCS#8 PEM: ``SAML_SP_KEY`` and, during a
        rollover, ``SAML_SP_KEY_NEXT``; each is tried in turn.

    >>> decrypt = AssertionDecryptor(settings.sp_key)           # doctest: +SKIP
    >>> inner = decrypt(response.find(".../EncryptedAssertion"))  # doctest: +SKIP
    >>> inner.assertion, inner.assertion_signature             # doctest: +SKIP

    .. warning:: a Response signature covers the *encrypted* form: verify it
       before calling this; the assertion's own signature is verified on the result.
    """

    def __init__(self, *key_pems: str) -> None:
        self._decrypt = InlineDecryptor(*key_pems)

    def __call__(self, encrypted: etree._Element) -> Parts:
        """The decrypted assertion, checked by ``check_structure`` as the only child of a
        synthetic, unsigned ``samlp:Response`` (so ``Parts.response_signature`` is None).

        :raises ResponseRejected: as :class:`~saml_middleware.protocol.xmlenc.InlineDecryptor` and
            :func:`~saml_middleware.protocol.xmlenc.parse_plaintext`; ``duplicate_id`` when an ``ID``
            inside the assertion is also used outside it; the structure codes of step 4.
        """
        context = encrypted.getparent()
        if context is None:
            raise ResponseRejected("decryption_failed", "EncryptedAssertion has no parent")
        assertion = parse_plaintext(self._decrypt(encrypted), context, q("saml", "Assertion"))
        outside = {el.get("ID") for el in context.getroottree().iter(etree.Element)} - {None}
        for el in assertion.iter(etree.Element):
            if el.get("ID") in outside:
                raise ResponseRejected("duplicate_id", f"ID {el.get('ID')!r} appears twice")
        wrapper = assertion.getparent()
        if wrapper is None:  # pragma: no cover - parse_plaintext returns a child
            raise ResponseRejected("decryption_failed", "no decrypted assertion")
        return check_structure(wrapper)

    def name_id(self, encrypted_id: etree._Element) -> etree._Element:
        """The ``saml:NameID`` inside an ``EncryptedID`` (same rules as for an assertion)."""
        context = encrypted_id.getparent()
        if context is None:
            raise ResponseRejected("decryption_failed", "EncryptedID has no parent")
        return parse_plaintext(self._decrypt(encrypted_id), context, q("saml", "NameID"))


def reveal_name_id(assertion: etree._Element, decrypt: AssertionDecryptor | None) -> None:
    """Replace ``Subject/EncryptedID`` of a *verified* assertion by the NameID it holds.

    :raises ResponseRejected: ``encrypted_name_id`` when no SP key is configured;
        otherwise as :meth:`AssertionDecryptor.name_id`.
    """
    subject = assertion.find(q("saml", "Subject"))
    encrypted = None if subject is None else subject.find(q("saml", "EncryptedID"))
    if subject is None or encrypted is None:
        return
    if decrypt is None:
        raise ResponseRejected("encrypted_name_id", "set SAML_SP_KEY and SAML_SP_CERT to decrypt it")
    subject.replace(encrypted, decrypt.name_id(encrypted))


_WRAPPER_PREFIX = "saml-middleware-decrypted"


def parse_plaintext(plain: bytes, context: etree._Element, tag: str) -> etree._Element:
    """Parse decrypted ``plain`` with the hardened parser, as the only child of a new
    ``samlp:Response`` declaring the namespaces in scope at ``context`` (where the encrypted
    element stood). The plaintext's own prefixes are kept byte for byte, so a signature
    inside it verifies as the IdP made it. Returns the one ``tag`` element.

    :raises ResponseRejected: as :func:`~saml_middleware.protocol.xml.parse_untrusted`
        (``dtd_forbidden``, ``malformed_xml``, ...), or ``decryption_failed`` unless the
        plaintext is exactly one ``tag`` element.
    """
    body = plain.lstrip(b"\xef\xbb\xbf \t\r\n")
    if body.startswith(b"<?xml"):
        declaration, _, body = body.partition(b"?>")
        parse_untrusted(declaration + b"?><x/>")  # the encoding rule of the parser
    nsmap: Any = dict(context.nsmap)
    if NS["samlp"] not in nsmap.values():
        nsmap[_WRAPPER_PREFIX] = NS["samlp"]
    wrapper = etree.Element(q("samlp", "Response"), nsmap=nsmap)
    wrapper.text = ""
    head, _, tail = etree.tostring(wrapper).rpartition(b"</")
    root = parse_untrusted(head + body + b"</" + tail)
    children = list(root)
    if (
        len(children) != 1
        or children[0].tag != tag
        or (root.text or "").strip()
        or (children[0].tail or "").strip()
    ):
        raise ResponseRejected(
            "decryption_failed", f"the decrypted content is not one {etree.QName(tag).localname}"
        )
    return children[0]
