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


_FILE_HINT = "copy the whole file again, or give the path to the downloaded .cer/.pem file"


def _shown(text: str) -> str:
    """A value for a message: short ones whole, long ones as a prefix and a length (never 1 KB)."""
    return repr(text) if len(text) <= 40 else f"{text[:24]!r}... ({len(text)} characters)"


def _pem_shape(data: bytes) -> None:
    """Name the usual copy-and-paste accidents with PEM text, before a parser's error can."""
    if b"\\n" in data and b"-----" in data:
        raise ValueError(
            "this looks like PEM text whose line breaks were written as \\n: put real line breaks "
            "in the value (quote it over several lines), or give the path to the PEM file instead"
        )
    begins, ends = data.count(b"-----BEGIN "), data.count(b"-----END ")
    if ends > begins:
        raise ValueError(f"the PEM text lacks its '-----BEGIN ...-----' line: {_FILE_HINT}")
    if begins > ends:
        raise ValueError(f"the PEM text stops before its '-----END ...-----' line (cut off?): {_FILE_HINT}")


def _read(value: str | bytes) -> bytes:
    """PEM or base64 text as is; anything else is a path (or several, comma-separated)."""
    data = value.encode() if isinstance(value, str) else value
    stripped = data.strip()
    _pem_shape(stripped)
    if stripped.startswith(b"-----BEGIN") or not stripped:
        return stripped
    if re.fullmatch(rb"[A-Za-z0-9+/=\s]{64,}", stripped):
        return stripped  # bare base64, as copied from a metadata file
    if stripped.startswith(b"0\x82"):
        return stripped  # DER
    chunks = []
    for path in stripped.decode(errors="replace").split(","):
        path = path.strip()
        if not os.path.isfile(path):
            raise ValueError(f"{_shown(path)} is neither PEM text nor a readable file")
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
            try:
                ders.append(base64.b64decode(b"".join(block.split())))
            except (binascii.Error, ValueError):
                ders.append(b"")  # refused below, as any certificate that does not parse
    elif data.startswith(b"0\x82"):
        ders.append(data)
    elif data.startswith(b"-----BEGIN"):
        found = data[11 : data.find(b"-----", 11)].decode("ascii", "replace")
        raise ValueError(f"this is a PEM {found!r}, not a certificate: give the IdP's signing certificate")
    else:
        try:
            ders.append(base64.b64decode(b"".join(data.split()), validate=True))
        except (binascii.Error, ValueError):
            raise ValueError("no certificate found (expected PEM text or a path to a PEM file)") from None
    out = []
    for der in ders:
        try:
            cert = _parse_der_cert(der)
        except ValueError:
            raise ValueError(
                f"the certificate does not decode to a whole X.509 certificate (cut off or altered "
                f"when copied?): {_FILE_HINT}"
            ) from None
        out.append(cert.public_bytes(serialization.Encoding.PEM).decode())
    return out


def load_private_key(value: str | bytes) -> str:
    """An RSA/EC private key as unencrypted PKCS#8 PEM.

    :param value: PEM text (PKCS#1 or PKCS#8), PKCS#8 DER bytes, or a path.
    :raises ValueError: when it is not an unencrypted private key.
    """
    if isinstance(value, str):
        _pem_shape(value.strip().encode())
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
    except TypeError:
        raise ValueError(
            "not an unencrypted private key: it is protected by a passphrase; remove it with "
            "openssl pkey -in key.pem -out key-plain.pem"
        ) from None
    except ValueError:
        raise ValueError(
            "not an unencrypted private key: the text does not parse as one (cut off or altered "
            "when copied, or a certificate given as the key?); give the path to the key file"
        ) from None
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
