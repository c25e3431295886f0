"""XML Encryption read strictly: only inline ``CipherValue`` data is ever decrypted.

libxmlsec follows whatever an ``EncryptedData`` points at: a ``CipherReference`` or a
``ds:RetrievalMethod`` with a ``file://`` URI is opened (``/dev/zero`` grows memory without
bound), transforms run, named keys are looked up. Attacker XML never reaches it here: the
message is checked against a whitelist of elements and algorithms first, and libxmlsec is
handed a fresh ``EncryptedData`` built from the checked values only (algorithm URIs and
base64 text), with no ``Type``, so it returns the plaintext as bytes and changes no tree.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import xmlsec
from lxml import etree

from ..errors import ResponseRejected
from .bindings import b64decode_strict
from .xml import NS, q

__all__ = [
    "DATA_ALGORITHMS",
    "KEY_TRANSPORT",
    "MAX_CIPHER_CHARS",
    "MAX_ENCRYPTED_KEYS",
    "MAX_KEY_CIPHER_CHARS",
    "InlineDecryptor",
]

_XENC = NS["xenc"]
_XENC11 = "http://www.w3.org/2009/xmlenc11#"
_DSIG = NS["ds"]
_MORE = "http://www.w3.org/2001/04/xmldsig-more#"

#: content encryption. Triple-DES-CBC is what pysaml2 (and so SATOSA) always uses for an
#: EncryptedAssertion; each message has a fresh key, so Sweet32's 2^32 blocks never occur.
DATA_ALGORITHMS = frozenset(
    {
        _XENC + "aes128-cbc",
        _XENC + "aes192-cbc",
        _XENC + "aes256-cbc",
        _XENC11 + "aes128-gcm",
        _XENC11 + "aes192-gcm",
        _XENC11 + "aes256-gcm",
        _XENC + "tripledes-cbc",
    }
)
#: key transport: RSA-OAEP only (PKCS#1 v1.5, ``rsa-1_5``, is a padding oracle).
KEY_TRANSPORT = frozenset({_XENC + "rsa-oaep-mgf1p", _XENC11 + "rsa-oaep"})
_OAEP_DIGESTS = frozenset({_DSIG + "sha1", _XENC + "sha256", _MORE + "sha384", _XENC + "sha512"})
_MGFS = frozenset(_XENC11 + f"mgf1sha{n}" for n in (1, 224, 256, 384, 512))
_ENCRYPTED_KEY_TYPE = _XENC + "EncryptedKey"

#: base64 characters of the content's CipherValue (whitespace included), checked before decoding
MAX_CIPHER_CHARS = 1024 * 1024
#: base64 characters of a wrapped key's CipherValue: RSA-8192 needs 1,368
MAX_KEY_CIPHER_CHARS = 2048
#: EncryptedKey elements tried (one per recipient; two during an IdP's rollover)
MAX_ENCRYPTED_KEYS = 4
_MAX_OAEP_PARAMS = 256


def _refuse(detail: str) -> ResponseRejected:
    return ResponseRejected("unsupported_encryption", detail)


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _children(el: etree._Element, allowed: set[str], where: str) -> list[etree._Element]:
    """The child elements of ``el``; any outside ``allowed`` (Clark names) is refused."""
    found = []
    for child in el:
        if not isinstance(child.tag, str):
            continue  # comments (processing instructions never get past the parser)
        if child.tag not in allowed:
            raise _refuse(f"{_local(child)} inside {where} is not accepted (only inline data is decrypted)")
        found.append(child)
    return found


def _optional(found: list[etree._Element], tag: str, where: str) -> etree._Element | None:
    matching = [c for c in found if c.tag == tag]
    if len(matching) > 1:
        raise _refuse(f"{len(matching)} {etree.QName(tag).localname} in {where}, expected at most one")
    return matching[0] if matching else None


def _one(found: list[etree._Element], tag: str, where: str) -> etree._Element:
    element = _optional(found, tag, where)
    if element is None:
        raise _refuse(f"no {etree.QName(tag).localname} in {where}")
    return element


def _algorithm(method: etree._Element, allowed: frozenset[str], what: str) -> str:
    value = method.get("Algorithm", "")
    if value not in allowed:
        raise ResponseRejected("weak_algorithm", f"{what} algorithm {value!r} is not accepted")
    return value


def _cipher_value(found: list[etree._Element], limit: int, where: str) -> str:
    """The inline CipherValue's base64 text; a CipherReference (or anything else) is refused."""
    data = _one(found, q("xenc", "CipherData"), where)
    value = _one(_children(data, {q("xenc", "CipherValue")}, "CipherData"), q("xenc", "CipherValue"), where)
    if len(value):
        raise _refuse(f"CipherValue in {where} has child nodes")
    text = value.text or ""
    if len(text) > limit:
        raise ResponseRejected(
            "too_large", f"CipherValue in {where} has {len(text)} characters, at most {limit}"
        )
    compact = "".join(text.split())
    try:
        b64decode_strict(compact)
    except ValueError:
        raise ResponseRejected("decryption_failed", f"CipherValue in {where} is not base64") from None
    return compact


@dataclass(frozen=True)
class _Key:
    """One EncryptedKey, reduced to the checked values libxmlsec needs."""

    algorithm: str
    cipher: str
    digest: str | None = None
    mgf: str | None = None
    oaep_params: str | None = None


def _read_key(el: etree._Element) -> _Key:
    allowed = {q("xenc", t) for t in ("EncryptionMethod", "CipherData", "ReferenceList", "CarriedKeyName")}
    found = _children(el, allowed | {q("ds", "KeyInfo")}, "EncryptedKey")
    method = _one(found, q("xenc", "EncryptionMethod"), "EncryptedKey")
    algorithm = _algorithm(method, KEY_TRANSPORT, "key transport")
    params = _children(
        method,
        {q("ds", "DigestMethod"), f"{{{_XENC11}}}MGF", q("xenc", "OAEPparams")},
        "key EncryptionMethod",
    )
    digest = _optional(params, q("ds", "DigestMethod"), "key EncryptionMethod")
    mgf = _optional(params, f"{{{_XENC11}}}MGF", "key EncryptionMethod")
    oaep = _optional(params, q("xenc", "OAEPparams"), "key EncryptionMethod")
    if oaep is not None and len(oaep.text or "") > _MAX_OAEP_PARAMS:
        raise ResponseRejected("too_large", "OAEPparams is too long")
    key_info = _optional(found, q("ds", "KeyInfo"), "EncryptedKey")
    if key_info is not None:
        # which SP key it was made for: never looked up, every configured key is tried
        _children(key_info, {q("ds", "X509Data"), q("ds", "KeyName")}, "EncryptedKey/KeyInfo")
    for references in (c for c in found if c.tag == q("xenc", "ReferenceList")):
        for ref in _children(
            references, {q("xenc", "DataReference"), q("xenc", "KeyReference")}, "ReferenceList"
        ):
            if not ref.get("URI", "").startswith("#") or len(ref):
                raise _refuse(f"{_local(ref)} {ref.get('URI')!r} points outside the message")
    return _Key(
        algorithm,
        _cipher_value(found, MAX_KEY_CIPHER_CHARS, "EncryptedKey"),
        None if digest is None else _algorithm(digest, _OAEP_DIGESTS, "OAEP digest"),
        None if mgf is None else _algorithm(mgf, _MGFS, "OAEP mask generation"),
        None if oaep is None else "".join((oaep.text or "").split()),
    )


def _read(container: etree._Element) -> tuple[str, str, list[_Key]]:
    """Check an EncryptedAssertion / EncryptedID; return (content algorithm, base64, keys)."""
    where = _local(container)
    found = _children(container, {q("xenc", "EncryptedData"), q("xenc", "EncryptedKey")}, where)
    data = _one(found, q("xenc", "EncryptedData"), where)
    beside = [c for c in found if c.tag == q("xenc", "EncryptedKey")]
    parts = _children(
        data, {q("xenc", "EncryptionMethod"), q("ds", "KeyInfo"), q("xenc", "CipherData")}, "EncryptedData"
    )
    method = _one(parts, q("xenc", "EncryptionMethod"), "EncryptedData")
    algorithm = _algorithm(method, DATA_ALGORITHMS, "content encryption")
    _children(method, {q("xenc", "KeySize")}, "EncryptionMethod")
    key_info = _optional(parts, q("ds", "KeyInfo"), "EncryptedData")
    inline: list[etree._Element] = []
    if key_info is not None:
        inside = _children(
            key_info, {q("xenc", "EncryptedKey"), q("ds", "RetrievalMethod")}, "EncryptedData/KeyInfo"
        )
        ids = {k.get("Id") for k in beside if k.get("Id")}
        for retrieval in (c for c in inside if c.tag == q("ds", "RetrievalMethod")):
            # Shibboleth's layout: a same-document pointer to an EncryptedKey beside EncryptedData
            uri, kind = retrieval.get("URI", ""), retrieval.get("Type", _ENCRYPTED_KEY_TYPE)
            if not uri.startswith("#") or uri[1:] not in ids or kind != _ENCRYPTED_KEY_TYPE or len(retrieval):
                raise _refuse(f"RetrievalMethod {uri!r} does not name an EncryptedKey beside the data")
        inline = [c for c in inside if c.tag == q("xenc", "EncryptedKey")]
    candidates = inline + beside
    if not candidates:
        raise ResponseRejected("decryption_failed", f"{where} carries no EncryptedKey")
    if len(candidates) > MAX_ENCRYPTED_KEYS:
        raise _refuse(f"{len(candidates)} EncryptedKey elements, at most {MAX_ENCRYPTED_KEYS}")
    keys = [_read_key(k) for k in candidates]
    return algorithm, _cipher_value(parts, MAX_CIPHER_CHARS, "EncryptedData"), keys


def _clean_data(algorithm: str, cipher: str, key: _Key) -> etree._Element:
    """A fresh EncryptedData holding only checked values, for libxmlsec."""
    xenc11: Any = {"xenc": _XENC, "ds": _DSIG, "xenc11": _XENC11}
    data = etree.Element(q("xenc", "EncryptedData"), nsmap=xenc11)
    etree.SubElement(data, q("xenc", "EncryptionMethod"), Algorithm=algorithm)
    encrypted_key = etree.SubElement(etree.SubElement(data, q("ds", "KeyInfo")), q("xenc", "EncryptedKey"))
    method = etree.SubElement(encrypted_key, q("xenc", "EncryptionMethod"), Algorithm=key.algorithm)
    if key.digest:
        etree.SubElement(method, q("ds", "DigestMethod"), Algorithm=key.digest)
    if key.mgf:
        etree.SubElement(method, f"{{{_XENC11}}}MGF", Algorithm=key.mgf)
    if key.oaep_params:
        etree.SubElement(method, q("xenc", "OAEPparams")).text = key.oaep_params
    key_data = etree.SubElement(encrypted_key, q("xenc", "CipherData"))
    etree.SubElement(key_data, q("xenc", "CipherValue")).text = key.cipher
    content = etree.SubElement(data, q("xenc", "CipherData"))
    etree.SubElement(content, q("xenc", "CipherValue")).text = cipher
    return data


class InlineDecryptor:
    """Decrypts an ``EncryptedAssertion`` or ``EncryptedID`` to its plaintext bytes.

    :param key_pems: the SP private keys (PKCS#8 PEM), each tried in turn.

    >>> plaintext = InlineDecryptor(sp_key_pem)(encrypted_assertion)   # doctest: +SKIP

    Refuses, before libxmlsec sees anything: ``unsupported_encryption`` for any element
    outside the whitelist (``CipherReference``, ``Transforms``, a ``RetrievalMethod`` other
    than to an ``EncryptedKey`` beside the data, ``AgreementMethod``, ``KeyName`` or a nested
    ``EncryptedKey`` as the content key, ``EncryptionProperties``) or more than
    :data:`MAX_ENCRYPTED_KEYS` keys; ``weak_algorithm`` for an algorithm outside
    :data:`DATA_ALGORITHMS` / :data:`KEY_TRANSPORT`; ``too_large`` for a CipherValue over
    :data:`MAX_CIPHER_CHARS` (or :data:`MAX_KEY_CIPHER_CHARS`); ``decryption_failed`` when
    no key decrypts it.
    """

    def __init__(self, *key_pems: str) -> None:
        if not key_pems:
            raise ValueError("at least one SP key is required")
        self._keys = [xmlsec.Key.from_memory(k.encode(), xmlsec.constants.KeyDataFormatPem) for k in key_pems]

    def __call__(self, container: etree._Element) -> bytes:
        algorithm, cipher, keys = _read(container)
        failure: Exception | None = None
        for encrypted_key in keys:
            clean = _clean_data(algorithm, cipher, encrypted_key)
            for key in self._keys:
                manager = xmlsec.KeysManager()
                manager.add_key(key)
                try:
                    plain = xmlsec.EncryptionContext(manager).decrypt(copy.deepcopy(clean))
                except (xmlsec.Error, ValueError) as exc:
                    failure = exc
                    continue
                if isinstance(plain, bytes):
                    return plain
        raise ResponseRejected("decryption_failed", f"it does not decrypt with the SP key: {failure}")
