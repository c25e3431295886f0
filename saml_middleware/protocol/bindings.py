"""The HTTP-Redirect binding (SAML 2.0 Bindings, 3.4), both ways.

Out: the message raw-DEFLATEd, base64-encoded and put in the query string,
signed over ``SAMLRequest=...&RelayState=...&SigAlg=...`` (:func:`redirect_url`).
In: the raw query split without decoding (:func:`split_query`), the strings a
signature may have been made over (:func:`signed_strings`), strict base64
(:func:`b64decode_strict`) and a bounded inflate (:func:`inflate`).

Errors are plain :class:`ValueError`; callers turn them into their own refusals.
Used by the SP (``protocol/sp.py``, ``protocol/logout.py``) and the dev IdP.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Callable, Mapping
from urllib.parse import quote_plus, unquote_plus

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "RSA_SHA1",
    "RSA_SHA256",
    "SIG_HASHES",
    "NotDeflated",
    "Signer",
    "b64decode_strict",
    "deflate_base64",
    "inflate",
    "redirect_url",
    "rsa_signer",
    "signed_strings",
    "split_query",
]

_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
RSA_SHA256 = _MORE + "rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
#: The ``SigAlg`` values accepted without ``SAML_ALLOW_SHA1``, and their hashes.
SIG_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    RSA_SHA256: hashes.SHA256,
    _MORE + "rsa-sha384": hashes.SHA384,
    _MORE + "rsa-sha512": hashes.SHA512,
}
#: Signs the bytes of the query string the binding says to sign.
Signer = Callable[[bytes], bytes]


def rsa_signer(key: rsa.RSAPrivateKey, sig_alg: str = RSA_SHA256) -> Signer:
    """A :data:`Signer` making RSA PKCS#1 v1.5 signatures for ``sig_alg`` (a ``SigAlg`` URI)."""
    digest = {**SIG_HASHES, RSA_SHA1: hashes.SHA1}[sig_alg]
    return lambda data: key.sign(data, padding.PKCS1v15(), digest())


def deflate_base64(xml: bytes) -> str:
    """``xml`` raw-DEFLATEd (no zlib header) and base64-encoded."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(deflater.compress(xml) + deflater.flush()).decode("ascii")


def _quote(value: str, lowercase: bool) -> str:
    encoded = quote_plus(value)
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded) if lowercase else encoded


def redirect_url(
    location: str,
    param: str,
    xml: bytes,
    relay_state: str | None,
    *,
    sign: Signer | None = None,
    sig_alg: str = RSA_SHA256,
    lowercase: bool = False,
) -> str:
    """``location`` with ``xml`` as ``param`` (``SAMLRequest`` or ``SAMLResponse``) on the binding.

    :param relay_state: added when not empty.
    :param sign: signs the query (``SigAlg`` = ``sig_alg``); ``None`` sends the message unsigned.
    :param lowercase: percent-encode with lower-case hex digits (Entra ID's habit).
    """
    pairs = [(param, deflate_base64(xml))] + ([("RelayState", relay_state)] if relay_state else [])
    if sign is not None:
        pairs.append(("SigAlg", sig_alg))
        signed = "&".join(f"{k}={_quote(v, lowercase)}" for k, v in pairs).encode("ascii")
        pairs.append(("Signature", base64.b64encode(sign(signed)).decode("ascii")))
    query = "&".join(f"{k}={_quote(v, lowercase)}" for k, v in pairs)
    return location + ("&" if "?" in location else "?") + query


def split_query(raw_query: str) -> dict[str, str]:
    """The parameters of a query string, values still percent-encoded.

    :raises ValueError: when a parameter appears twice.
    """
    raw: dict[str, str] = {}
    for part in raw_query.split("&"):
        name, _, value = part.partition("=")
        if name in raw:
            raise ValueError(f"the parameter {name!r} appears twice")
        raw[name] = value
    return raw


def signed_strings(raw: Mapping[str, str], param: str) -> set[bytes]:
    """What the sender may have signed: the parameters as received, and re-encoded canonically.

    Checking the string as received lets an IdP that percent-encodes with
    lower-case hex digits (Entra ID: ``%2f``) verify.
    """
    names = [param, *(["RelayState"] if "RelayState" in raw else []), "SigAlg"]
    as_received = "&".join(f"{n}={raw[n]}" for n in names)
    canonical = "&".join(f"{n}={quote_plus(unquote_plus(raw[n]))}" for n in names)
    return {s.encode("ascii", "replace") for s in (as_received, canonical)}


def b64decode_strict(value: str) -> bytes:
    """Strict base64 (white space ignored).

    :raises ValueError: on any other character or bad padding.
    """
    return base64.b64decode("".join(value.split()), validate=True)


class NotDeflated(ValueError):
    """The bytes are not one complete raw DEFLATE stream (they may not be compressed at all)."""


def inflate(raw: bytes, limit: int) -> bytes:
    """Raw-DEFLATE ``raw``, at most ``limit`` bytes.

    :raises NotDeflated: when ``raw`` is not raw DEFLATE, or is truncated.
    :raises ValueError: when it inflates to more than ``limit`` bytes.
    """
    inflater = zlib.decompressobj(-15)
    try:
        data = inflater.decompress(raw, limit)
    except zlib.error:
        raise NotDeflated("the message is not raw DEFLATE") from None
    if inflater.unconsumed_tail:
        raise ValueError(f"the message inflates to more than {limit} bytes")
    if not inflater.eof:
        raise NotDeflated("the message is truncated")
    return data
