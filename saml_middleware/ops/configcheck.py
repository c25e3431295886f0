"""Configuration warnings and live checks: what ``saml-middleware check`` adds to ``Settings``.

* :func:`config_warnings` - a misspelled ``SAML_*`` variable (with the closest known
  name), ``/`` in ``SAML_PUBLIC_PATHS``, an ``http://`` base URL on a host that is not
  loopback. Printed by ``check`` and logged once at start-up (:func:`log_startup_warnings`).
* :func:`store_problem` - ``SAML_STORE_URL`` is not ready (``check`` only; storecheck.py).
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields
from urllib.parse import urlsplit

from ..config import Settings
from ..configrules import TARGET_ENV, public_path_warnings

__all__ = ["config_warnings", "known_variables", "log_startup_warnings", "store_problem"]

logger = logging.getLogger("saml_middleware")

#: Warnings already logged or printed in this process (each is reported once).
_REPORTED: set[str] = set()


def known_variables() -> frozenset[str]:
    """Every ``SAML_*`` variable something in this package reads: each setting, its
    ``_FILE`` form, and the variables the commands use among themselves."""
    names = {"SAML_" + f.name.upper() for f in fields(Settings)}
    return frozenset(names | {n + "_FILE" for n in names} | {TARGET_ENV})


def _unknown(environ: Mapping[str, str]) -> list[str]:
    known = known_variables()
    out = []
    for name in sorted(n for n in environ if n.startswith("SAML_") and n not in known):
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
        fix = f"did you mean {close[0]}?" if close else "see docs/configuration.md for the variables"
        out.append(f"{name} is not a saml-middleware variable and is ignored: {fix}")
    return out


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_warnings(settings: Settings | None, environ: Mapping[str, str] | None = None) -> list[str]:
    """Settings that are valid but most likely a mistake, each naming the fix.

    :param settings: ``None`` when they did not load: only the variable names are checked.
    :param environ: the environment the settings came from (default ``os.environ``).
    """
    out = _unknown(os.environ if environ is None else environ)
    if settings is None:
        return out
    out.extend(public_path_warnings(settings.public_paths))
    parts = urlsplit(settings.base_url)
    if parts.scheme == "http" and not _loopback(parts.hostname or ""):
        out.append(
            f"SAML_BASE_URL {settings.base_url!r} is plain http on a host that is not loopback: "
            "session cookies are sent without Secure and Entra accepts an http Reply URL only "
            "for localhost. Use https:// (behind a TLS proxy, the URL browsers see)"
        )
    return out


NOT_CONFIGURED = "SAML sign-in is not configured yet (no IdP): protected pages answer 503"


def _not_not_configured(record: logging.LogRecord) -> bool:
    return record.msg != NOT_CONFIGURED


@contextmanager
def quiet_not_configured_log() -> Iterator[None]:
    """No "not configured yet" record while inside: for ``check``, which prints a to-do list."""
    logger.addFilter(_not_not_configured)
    try:
        yield
    finally:
        logger.removeFilter(_not_not_configured)


def log_startup_warnings(settings: Settings, *, configured: bool = True) -> None:
    """Log each of :func:`config_warnings` once per process (the gate calls it when built),
    and that sign-in is not configured yet when ``configured`` is false (every time)."""
    if not configured:
        logger.warning(NOT_CONFIGURED)
    for warning in config_warnings(settings):
        if warning not in _REPORTED:
            _REPORTED.add(warning)
            logger.warning("SAML configuration: %s", warning)


def mark_reported(warnings: list[str]) -> None:
    """``check`` printed these itself: the gate it builds need not log them again."""
    _REPORTED.update(warnings)


def store_problem(settings: Settings) -> str | None:
    """``None`` if ``SAML_STORE_URL`` is ready (:func:`saml_middleware.ops.storecheck.store_problem`)."""
    from .storecheck import store_problem as problem

    return problem(settings)
