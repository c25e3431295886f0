"""Validation of the certificate and key settings, kept out of ``config.py``.

``SAML_IDP_CERT`` and ``SAML_IDP_METADATA_CERT`` (one or more PEM certificates),
the SP key pair ``SAML_SP_KEY`` / ``SAML_SP_CERT`` and, during an SP key
rollover, the next pair ``SAML_SP_KEY_NEXT`` / ``SAML_SP_CERT_NEXT``.

:func:`normalised_keys` only reads and returns: ``Settings.__post_init__``
stores the normalised values on the (frozen) settings itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .pem import certificate_object, load_certificates, load_private_key, rsa_private_key

__all__ = ["KeySettings", "normalised_keys"]


class KeySettings(Protocol):
    """The certificate and key fields of :class:`~saml_middleware.config.Settings`, as given."""

    @property
    def idp_cert(self) -> str | Sequence[str]: ...
    @property
    def idp_metadata_cert(self) -> str | Sequence[str]: ...
    @property
    def sp_key(self) -> str: ...
    @property
    def sp_cert(self) -> str: ...
    @property
    def sp_key_next(self) -> str: ...
    @property
    def sp_cert_next(self) -> str: ...
    @property
    def require_encryption(self) -> bool: ...


def _certs(value: str | Sequence[str], name: str, problems: list[str]) -> tuple[str, ...]:
    items = ((value,) if value else ()) if isinstance(value, str) else value
    certs: list[str] = []
    for item in items:  # each item on its own: PEM text, a path, or several paths
        try:
            certs.extend(load_certificates(item))
        except ValueError as exc:
            problems.append(f"SAML_{name.upper()}: {exc}")
    return tuple(certs)


def _pair(key: str, cert: str, names: tuple[str, str], problems: list[str]) -> tuple[str, str]:
    """``(key PEM, certificate PEM)``; the values as given when they do not load."""
    key_var, cert_var = (f"SAML_{n.upper()}" for n in names)
    if bool(key) != bool(cert):
        problems.append(f"{key_var} and {cert_var} go together: give both or neither")
        return key, cert
    if not key:
        return key, cert
    try:
        key_pem, cert_pem = load_private_key(key), load_certificates(cert)[0]
    except ValueError as exc:
        problems.append(f"{key_var} / {cert_var}: {exc}")
        return key, cert
    try:
        private = rsa_private_key(key_pem)
    except ValueError:
        problems.append(f"{key_var} must be an RSA key (it signs requests and decrypts assertions)")
        return key_pem, cert_pem
    spki = Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    certified = certificate_object(cert_pem).public_key().public_bytes(*spki)
    if private.public_key().public_bytes(*spki) != certified:
        problems.append(f"{key_var} does not match {cert_var}: the certificate is for another key")
    return key_pem, cert_pem


def normalised_keys(settings: KeySettings, problems: list[str]) -> dict[str, str | tuple[str, ...]]:
    """Every certificate and key setting loaded into PEM text (field name to value), appending problems."""
    idp_cert = _certs(settings.idp_cert, "idp_cert", problems)
    idp_metadata_cert = _certs(settings.idp_metadata_cert, "idp_metadata_cert", problems)
    sp_key, sp_cert = _pair(settings.sp_key, settings.sp_cert, ("sp_key", "sp_cert"), problems)
    next_pair = ("sp_key_next", "sp_cert_next")
    sp_key_next, sp_cert_next = _pair(settings.sp_key_next, settings.sp_cert_next, next_pair, problems)
    if sp_key_next and not sp_key:
        problems.append("SAML_SP_KEY_NEXT needs SAML_SP_KEY (the current key pair) beside it")
    if settings.require_encryption and not sp_key:
        problems.append("SAML_REQUIRE_ENCRYPTION needs SAML_SP_KEY and SAML_SP_CERT")
    return {
        "idp_cert": idp_cert,
        "idp_metadata_cert": idp_metadata_cert,
        "sp_key": sp_key,
        "sp_cert": sp_cert,
        "sp_key_next": sp_key_next,
        "sp_cert_next": sp_cert_next,
    }
