"""Certificate expiry: the IdP's signing certificates and the SP's own, warned about in time.

``saml-middleware check`` warns 30 days before a certificate expires and fails
7 days before; a running middleware logs the same warning to the
``saml_middleware`` logger once a day (:class:`ExpiryWatch`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from ..pem import certificate_object, certificate_summary

__all__ = [
    "FAIL_DAYS",
    "WARN_DAYS",
    "CertificateStatus",
    "ExpiryWatch",
    "certificate_statuses",
    "expiry_report",
    "quiet_expiry_log",
]

logger = logging.getLogger("saml_middleware")
#: Days before expiry when a warning starts.
WARN_DAYS = 30
#: Days before expiry when ``saml-middleware check`` fails.
FAIL_DAYS = 7
_DAY = 86400.0


@dataclass(frozen=True)
class CertificateStatus:
    """One certificate and how long it has left.

    :param role: ``idp`` (an IdP signing certificate) or ``sp`` (the SP's own).
    :param level: ``ok``, ``warning`` (under 30 days) or ``fail`` (under 7 days or expired).
    """

    role: str
    subject: str
    sha256: str
    not_after: datetime
    days_left: float
    level: str

    @property
    def message(self) -> str:
        """A one-line description naming the certificate and its expiry date."""
        which = "IdP signing certificate" if self.role == "idp" else "SP certificate (SAML_SP_CERT)"
        when = self.not_after.strftime("%Y-%m-%d %H:%M UTC")
        if self.days_left <= 0:
            return f"{which} {self.subject} expired on {when}"
        return f"{which} {self.subject} expires on {when} (in {self.days_left:.0f} days)"


def certificate_statuses(
    idp_certificates: Iterable[str], sp_certificate: str, now: float
) -> list[CertificateStatus]:
    """Every IdP signing certificate and the SP certificate (when set), at time ``now``."""
    out = []
    pems = [("idp", pem) for pem in idp_certificates] + ([("sp", sp_certificate)] if sp_certificate else [])
    for role, pem in pems:
        info = certificate_summary(pem)
        not_after = certificate_object(pem).not_valid_after_utc
        days = (not_after.timestamp() - now) / _DAY
        level = "fail" if days < FAIL_DAYS else "warning" if days < WARN_DAYS else "ok"
        out.append(CertificateStatus(role, info["subject"], info["sha256"], not_after, days, level))
    return out


class ExpiryWatch:
    """Logs expiring certificates at most once a day, from the request path.

    :param certificates: returns ``(idp_certificates, sp_certificate)`` as loaded now
        (so a metadata refresh is seen).
    :param clock: epoch seconds.

    :meth:`tick` is one clock call and a comparison until the next check is due.
    """

    def __init__(
        self, certificates: Callable[[], tuple[Iterable[str], str]], clock: Callable[[], float]
    ) -> None:
        self.certificates = certificates
        self.clock = clock
        self.next_check = 0.0

    def tick(self) -> None:
        """Check now if the last check is a day old."""
        now = self.clock()
        if now < self.next_check:
            return
        self.next_check = now + _DAY
        try:
            idp, sp = self.certificates()
            statuses = certificate_statuses(idp, sp, now)
        except ValueError as exc:  # an unparsable certificate is reported by `check`
            logger.warning("cannot check certificate expiry: %s", exc)
            return
        for status in statuses:
            if status.level != "ok":
                logger.warning(
                    "SAML certificate expiring: %s",
                    status.message,
                    extra={"saml_event": "certificate_expiry", "saml_days_left": round(status.days_left, 1)},
                )


def expiry_report(idp_certificates: Iterable[str], sp_certificate: str, now: float) -> int:
    """Print a warning per certificate expiring within 30 days (to stderr); the exit status.

    :returns: 1 if one expires within 7 days (or has expired), else 0.
    """
    failed = 0
    for status in certificate_statuses(idp_certificates, sp_certificate, now):
        if status.level == "fail":
            failed = 1
            print(f"error: {status.message} (check fails {FAIL_DAYS} days before expiry)", file=sys.stderr)
        elif status.level == "warning":
            print(f"warning: {status.message}", file=sys.stderr)
    return failed


def _not_expiry(record: logging.LogRecord) -> bool:
    return getattr(record, "saml_event", None) != "certificate_expiry"


@contextmanager
def quiet_expiry_log() -> Iterator[None]:
    """No :class:`ExpiryWatch` record while inside: for ``check``, which prints its own report."""
    logger.addFilter(_not_expiry)
    try:
        yield
    finally:
        logger.removeFilter(_not_expiry)
