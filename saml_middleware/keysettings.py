"""Validation of the certificate and key settings, kept out of ``config.py``.

``SAML_IDP_CERT`` and ``SAML_IDP_METADATA_CERT`` (one or more PEM certificates),
the SP key pair ``SAML_SP_KEY`` / ``SAML_SP_CERT`` and, during an SP key
rollover, the next pair ``SAML_SP_KEY_NEXT`` / ``SAML_SP_CERT_NEXT``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .pem import load_certificates, load_private_key

__all__ = ["normalise_keys"]


def _certs(settings: Any, name: str, set_: Callable[[Any, str, Any], None], problems: list[str]) -> None:
    value = getattr(settings, name)
    if isinstance(value, str):
        value = (value,) if value else ()
    try:
        set_(settings, name, tuple(load_certificates("\n".join(value))) if value else ())
    except ValueError as exc:
        problems.append(f"SAML_{name.upper()}: {exc}")


def _pair(
    settings: Any, key: str, cert: str, set_: Callable[[Any, str, Any], None], problems: list[str]
) -> None:
    names = f"SAML_{key.upper()} and SAML_{cert.upper()}"
    if bool(getattr(settings, key)) != bool(getattr(settings, cert)):
        problems.append(f"{names} go together: give both or neither")
    elif getattr(settings, key):
        try:
            set_(settings, key, load_private_key(getattr(settings, key)))
            set_(settings, cert, load_certificates(getattr(settings, cert))[0])
        except ValueError as exc:
            problems.append(f"SAML_{key.upper()} / SAML_{cert.upper()}: {exc}")


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
