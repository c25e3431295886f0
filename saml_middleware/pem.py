"""Loading certificates and keys given as PEM text, bare base64, DER, or a path."""

from __future__ import annotations

import base64
import binascii
import os
import re
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "certificate_object",
    "certificate_summary",
    "load_certificates",
    "load_private_key",
    "pem_body",
    "rsa_private_key",
]

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


def _read(value: str | bytes) -> bytes:
    """PEM or base64 text as is; anything else is a path (or several, comma-separated)."""
    data = value.encode() if isinstance(value, str) else value
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN") or not stripped:
        return stripped
    if re.fullmatch(rb"[A-Za-z0-9+/=\s]{64,}", stripped):
        return stripped  # bare base64, as copied from a metadata file
    chunks = []
    for path in stripped.decode(errors="replace").split(","):
        path = path.strip()
        if not os.path.isfile(path):
            raise ValueError(f"{path!r} is neither PEM text nor a readable file")
        with open(path, "rb") as fh:
            chunks.append(fh.read())
    return b"\n".join(chunks)


def _parse_der_cert(der: bytes) -> x509.Certificate:
    with warnings.catch_warnings():
        # IdP certificates with serial number 0 exist in the wild (TestShib).
        warnings.simplefilter("ignore")
        return x509.load_der_x509_certificate(der)


def load_certificates(value: str | bytes) -> list[str]:
    """Every certificate in ``value``, as normalised PEM strings.

    :param value: PEM text (one or more certificates), the bare base64 body of
        one certificate (as in IdP metadata), DER bytes, or a path / several
        comma-separated paths to such files.
    :raises ValueError: when nothing parses as an X.509 certificate.

    >>> load_certificates("tests/data/idp.pem")  # doctest: +SKIP
    ['-----BEGIN CERTIFICATE-----\\nMIIC...']
    """
    data = _read(value)
    ders: list[bytes] = []
    blocks = _PEM_CERT.findall(data)
    if blocks:
        for block in blocks:
            ders.append(base64.b64decode(b"".join(block.split())))
    elif data.startswith(b"0\x82"):
        ders.append(data)
    else:
        try:
            ders.append(base64.b64decode(b"".join(data.split()), validate=True))
        except (binascii.Error, ValueError):
            raise ValueError("no certificate found (expected PEM text or a path to a PEM file)") from None
    out = []
    for der in ders:
        try:
            cert = _parse_der_cert(der)
        except ValueError as exc:
            raise ValueError(f"not a valid X.509 certificate: {exc}") from None
        out.append(cert.public_bytes(serialization.Encoding.PEM).decode())
    return out


def load_private_key(value: str | bytes) -> str:
    """An RSA/EC private key as unencrypted PKCS#8 PEM.

    :param value: PEM text (PKCS#1 or PKCS#8), PKCS#8 DER bytes, or a path.
    :raises ValueError: when it is not an unencrypted private key.
    """
    if isinstance(value, str) and not value.strip().startswith("-----BEGIN"):
        path = value.strip()
        if not os.path.isfile(path):
            # a key body pasted without its PEM lines is key material: never echo it
            shown = "the value" if re.search(r"\s|[A-Za-z0-9+/=]{40}", path) else repr(path)
            raise ValueError(f"{shown} is neither PEM text nor a readable key file")
        with open(path, "rb") as fh:
            data = fh.read()
    else:
        data = value.encode() if isinstance(value, str) else value
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted private key: {exc}") from None
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def certificate_object(pem: str) -> x509.Certificate:
    """Parse one PEM certificate (tolerating serial number 0)."""
    block = _PEM_CERT.search(pem.encode())
    if block is None:
        raise ValueError("no PEM certificate")
    return _parse_der_cert(base64.b64decode(b"".join(block.group(1).split())))


def pem_body(pem: str) -> str:
    """The base64 body of one PEM block, without its BEGIN/END lines and line breaks."""
    return "".join(pem.strip().splitlines()[1:-1])


def rsa_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Parse an unencrypted PEM private key (as :func:`load_private_key` makes it) that must be RSA.

    :raises ValueError: when it is not an RSA key.
    """
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("must be an RSA key")
    return key


def certificate_summary(pem: str) -> dict[str, str]:
    """Subject, SHA-256 fingerprint and validity of one PEM certificate."""
    cert = certificate_object(pem)
    return {
        "subject": cert.subject.rfc4514_string(),
        "sha256": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
    }
