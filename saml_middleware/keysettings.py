"""Validation of the certificate and key settings, kept out of ``config.py``.

``SAML_IDP_CERT`` and ``SAML_IDP_METADATA_CERT`` (one or more PEM certificates),
the SP key pair ``SAML_SP_KEY`` / ``SAML_SP_CERT`` and, during an SP key
rollover, the next pair ``SAML_SP_KEY_NEXT`` / ``SAML_SP_CERT_NEXT``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .pem import certificate_object, load_certificates, load_private_key, rsa_private_key

__all__ = ["normalise_keys"]


def _certs(settings: Any, name: str, set_: Callable[[Any, str, Any], None], problems: list[str]) -> None:
    value = getattr(settings, name)
    if isinstance(value, str):
        value = (value,) if value else ()
    certs: list[str] = []
    for item in value:  # each item on its own: PEM text, a path, or several paths
        try:
            certs.extend(load_certificates(item))
        except ValueError as exc:
            problems.append(f"SAML_{name.upper()}: {exc}")
    set_(settings, name, tuple(certs))


def _pair(
    settings: Any, key: str, cert: str, set_: Callable[[Any, str, Any], None], problems: list[str]
) -> None:
    key_var, cert_var = f"SAML_{key.upper()}", f"SAML_{cert.upper()}"
    if bool(getattr(settings, key)) != bool(getattr(settings, cert)):
        problems.append(f"{key_var} and {cert_var} go together: give both or neither")
    elif getattr(settings, key):
        try:
            set_(settings, key, load_private_key(getattr(settings, key)))
            set_(settings, cert, load_certificates(getattr(settings, cert))[0])
        except ValueError as exc:
            problems.append(f"{key_var} / {cert_var}: {exc}")
            return
        try:
            private = rsa_private_key(getattr(settings, key))
        except ValueError:
            problems.append(f"{key_var} must be an RSA key (it signs requests and decrypts assertions)")
            return
        spki = Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        certified = certificate_object(getattr(settings, cert)).public_key().public_bytes(*spki)
        if private.public_key().public_bytes(*spki) != certified:
            problems.append(f"{key_var} does not match {cert_var}: the certificate is for another key")


def normalise_keys(settings: Any, set_: Callable[[Any, str, Any], None], problems: list[str]) -> None:
    """Load every certificate and key setting into PEM text, appending problems."""
    _certs(settings, "idp_cert", set_, problems)
    _certs(settings, "idp_metadata_cert", set_, problems)
    _pair(settings, "sp_key", "sp_cert", set_, problems)
    _pair(settings, "sp_key_next", "sp_cert_next", set_, problems)
    if settings.sp_key_next and not settings.sp_key:
        problems.append("SAML_SP_KEY_NEXT needs SAML_SP_KEY (the current key pair) beside it")
    if settings.require_encryption and not settings.sp_key:
        problems.append("SAML_REQUIRE_ENCRYPTION needs SAML_SP_KEY and SAML_SP_CERT")
