"""Argument checks of the dev IdP's constructor: URLs, choices, the signing key pair."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["check_choice", "check_pair", "check_url"]


def check_url(name: str, value: str) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an absolute http(s) URL, not {value!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"{name} must not have a query or fragment: {value!r}")
    return value


def check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; not {value!r}")


def check_pair(key_pem: str, cert_pem: str) -> None:
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"key_pem is not an unencrypted PEM private key: {exc}") from None
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError as exc:
        raise ValueError(f"cert_pem is not a PEM certificate: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("key_pem must be an RSA key (Entra signs with RSA)")
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey) or (
        public.public_numbers() != key.public_key().public_numbers()
    ):
        raise ValueError("cert_pem does not certify key_pem's public key")
