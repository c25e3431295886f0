"""The audit log: one JSON line per login, refusal, logout and session revocation.

Records go to the ``saml_middleware.audit`` logger at INFO (refusals at
WARNING); the message *is* the JSON document, so any handler that writes
``%(message)s`` produces JSON Lines ready for a SIEM. The same values are on
the record as a dict attribute ``saml_audit``.

Fields, always present (``null`` when unknown): ``time`` (ISO 8601, UTC),
``event`` (``login``, ``refusal``, ``logout``, ``revocation``, ``setup``), ``email``,
``idp`` (the IdP entity ID), ``reason`` (a code of
:data:`~saml_middleware.errors.REASONS`), ``ref`` (the reference id the
browser was shown), ``client`` (the client address as the server saw it),
``user_agent``; and, only when set, ``connection`` (with ``SAML_CONNECTIONS``: the
connection concerned), ``change`` (``setup`` events: what a setup page changed or
did, never a secret) and ``rule`` (``access_denied`` events, a signed-in user refused by
the access rules, docs/access.md: the label of the rule that refused).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

__all__ = ["EVENTS", "AuditEvent", "audit_logger", "emit"]

#: The ``event`` values.
EVENTS = ("login", "refusal", "logout", "revocation", "setup", "access_denied")
#: fields written only when set (the single-IdP records keep their shape)
_OPTIONAL = ("connection", "change", "rule")
audit_logger = logging.getLogger("saml_middleware.audit")  # the logger name is public: keep it


@dataclass(frozen=True)
class AuditEvent:
    """One audited event (see the module docstring for the fields).

    :param time: epoch seconds (from the injected clock).
    :param duration: seconds the ACS took, for the metrics; not logged.
    """

    event: str
    time: float
    email: str | None = None
    idp: str | None = None
    reason: str | None = None
    ref: str | None = None
    client: str | None = None
    user_agent: str | None = None
    duration: float | None = None
    connection: str | None = None
    change: str | None = None
    rule: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        """The documented fields in a fixed order, ``time`` as ISO 8601 UTC."""
        when = datetime.fromtimestamp(self.time, timezone.utc).isoformat(timespec="milliseconds")
        data: dict[str, str | None] = {"time": when.replace("+00:00", "Z")}
        data.update((k, v) for k, v in asdict(self).items() if k not in ("time", "duration", *_OPTIONAL))
        data.update((k, getattr(self, k)) for k in _OPTIONAL if getattr(self, k) is not None)
        return data

    def to_json(self) -> str:
        """The audit line: compact JSON of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)


def emit(event: AuditEvent, logger: logging.Logger = audit_logger) -> None:
    """Write ``event`` to the audit logger as one JSON line."""
    if event.event not in EVENTS:
        raise ValueError(f"unknown audit event {event.event!r}")
    level = logging.WARNING if event.event in ("refusal", "access_denied") else logging.INFO
    if not logger.isEnabledFor(level):
        return
    # one attribute, not saml_event/saml_reason...: those mark the operational log records
    logger.log(level, "%s", event.to_json(), extra={"saml_audit": event.to_dict()})
