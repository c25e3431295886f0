"""Compact JWS (RFC 7515) for the signed identity header ``X-Remote-Jwt``: RS256 and HS256 only.

Written on ``cryptography`` (already a dependency) rather than a JWT library: signing is all
the middleware does (never verifying a token it is handed), with two fixed algorithms, so the
whole of it is a few lines. Upstreams verify with any JWT library (docs/forward-auth.md).

>>> token = sign_hs256({"sub": "b.simon@contoso.com"}, b"k" * 32, kid="hs")
>>> token.split(".")[0]
'eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzIiwidHlwIjoiSldUIn0'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["b64url", "rsa_jwk", "rsa_key_id", "sign_hs256", "sign_rs256"]


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2).

    >>> b64url(b"\\xff\\xfe")
    '__4'
    """
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def _uint(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8 or 1, "big"))


def _signing_input(alg: str, kid: str, claims: Mapping[str, Any]) -> bytes:
    header = {"alg": alg, "kid": kid, "typ": "JWT"}
    return f"{b64url(_json(header))}.{b64url(_json(claims))}".encode("ascii")


def sign_rs256(claims: Mapping[str, Any], key: rsa.RSAPrivateKey, *, kid: str) -> str:
    """``claims`` as a compact JWS signed with RSASSA-PKCS1-v1_5 SHA-256 by ``key``."""
    signing_input = _signing_input("RS256", kid, claims)
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode('ascii')}.{b64url(signature)}"


def sign_hs256(claims: Mapping[str, Any], secret: bytes, *, kid: str) -> str:
    """``claims`` as a compact JWS with an HMAC SHA-256 over ``secret``."""
    signing_input = _signing_input("HS256", kid, claims)
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode('ascii')}.{b64url(signature)}"


def rsa_key_id(key: rsa.RSAPublicKey) -> str:
    """The RFC 7638 thumbprint of ``key``: a ``kid`` that changes exactly when the key does."""
    numbers = key.public_numbers()
    canonical = _json({"e": _uint(numbers.e), "kty": "RSA", "n": _uint(numbers.n)})
    return b64url(hashlib.sha256(canonical).digest())


def rsa_jwk(key: rsa.RSAPublicKey) -> dict[str, str]:
    """The public JWK of ``key`` for a JWKS document (``use: sig``, ``alg: RS256``)."""
    numbers = key.public_numbers()
    return {
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": rsa_key_id(key),
        "n": _uint(numbers.n),
        "e": _uint(numbers.e),
    }
