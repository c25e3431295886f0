"""Signing key pairs for the dev IdP: RSA-2048 with a self-signed certificate."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

__all__ = ["CERT_VALIDITY", "generate_keypair", "self_signed"]

#: Entra ID's SAML signing certificates are valid for three years by default.
CERT_VALIDITY = datetime.timedelta(days=3 * 365)


def generate_keypair(common_name: str = "saml-middleware dev IdP") -> tuple[str, str]:
    """Make a fresh RSA-2048 key and a self-signed SHA-256 certificate for it.

    The certificate is valid from now (back-dated one minute for clock skew)
    for three years, like the certificates Entra ID creates, and carries a
    positive random serial number.

    :param common_name: the certificate's subject and issuer CN.
    :return: ``(private_key_pem, certificate_pem)``; the key is unencrypted PKCS#8.

    >>> key_pem, cert_pem = generate_keypair()
    >>> key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    True
    """
    if not common_name:
        raise ValueError("common_name must not be empty")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    not_before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    not_before -= datetime.timedelta(minutes=1)
    return self_signed(key, common_name, not_before, not_before + CERT_VALIDITY)


def self_signed(
    key: CertificateIssuerPrivateKeyTypes,
    common_name: str,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> tuple[str, str]:
    """A self-signed SHA-256 certificate for ``key``, valid from ``not_before`` to ``not_after``.

    :return: ``(private_key_pem, certificate_pem)``; the key is unencrypted PKCS#8.
    """
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
