"""``saml-middleware verify``: a captured SAMLResponse checked against the current configuration."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from urllib.parse import unquote_to_bytes

from ..errors import REASONS, ConfigError, ResponseRejected
from ..gate.metadata_refresh import load_idp
from ..gate.notconfigured import idp_todo
from ..protocol.checks import parse_instant
from ..protocol.sp import ServiceProvider
from ..stores import MemoryReplayCache
from .report import load_settings, report

__all__ = ["HINTS", "verify_capture"]

#: reason code -> what to change, printed under a refusal
HINTS = {
    "audience": "set the Identifier (Entity ID) in the IdP to SAML_SP_ENTITY_ID, or SAML_SP_ENTITY_ID to it",
    "destination": "set the Reply URL (ACS) in the IdP to this ACS URL, or SAML_BASE_URL / SAML_ACS_PATH",
    "recipient": "set the Reply URL (ACS) in the IdP to this ACS URL, or SAML_BASE_URL / SAML_ACS_PATH",
    "issuer": "SAML_IDP_ENTITY_ID (or the metadata) names another IdP than the one that answered",
    "signature_invalid": "the IdP signs with a certificate not configured: download its current certificate",
    "weak_algorithm": "set the IdP to sign with SHA-256, or SAML_ALLOW_SHA1=true if it cannot",
    "expired": "check the machine clocks, or pass --now with the time the response was captured",
    "not_yet_valid": "check the machine clocks (SAML_CLOCK_SKEW), or pass --now",
    "in_response_to": "pass --request-id with the ID of the AuthnRequest that started this login",
    "unsolicited": "IdP-initiated login is off: set SAML_ALLOW_IDP_INITIATED=true to accept it",
    "no_email": "set SAML_EMAIL_ATTRIBUTE to the claim holding the e-mail",
    "authn_statement": "Keycloak: turn on 'Include AuthnStatement' in the client (or, if it must stay off, "
    "SAML_ALLOW_MISSING_AUTHN_STATEMENT=true)",
    "name_id": "give the NameID a value in the IdP (such as user.mail), or send an e-mail claim",
    "duplicate_attribute": "two claim mappings in the IdP write the same attribute: remove one",
    "encrypted_name_id": "set SAML_SP_KEY and SAML_SP_CERT to the key pair the IdP encrypts the NameID for",
    "unsupported_encryption": "the encrypted data points outside the message: an attack, or report the IdP",
}


def _capture(raw: bytes) -> bytes:
    """The capture as base64 or XML; a URL-encoded paste (``SAMLResponse=PHNh...%3D``, as a
    browser's network tab shows the form body) is decoded, with a note on stderr."""
    data = raw.strip()
    if data.startswith(b"<"):
        return data
    if data.startswith(b"SAMLResponse="):  # a base64 "+" is sent as %2B: a literal "+" stays one
        data = unquote_to_bytes(data.split(b"&", 1)[0][len(b"SAMLResponse=") :])
        print("note: read the SAMLResponse field of a URL-encoded form body", file=sys.stderr)
    elif re.search(rb"%[0-9A-Fa-f]{2}", data):
        data = unquote_to_bytes(data)
        print("note: the capture was URL-encoded (%2B, %3D...); decoded it first", file=sys.stderr)
    return data.strip()


def verify_capture(path: Path, *, now: str | None = None, request_id: str | None = None) -> int:
    """``saml-middleware verify``: run exactly the ACS checks on a captured SAMLResponse.

    :param path: base64 as copied from a SAML tracer, or the raw XML.
    :param now: ISO 8601 time to validate at (default: the real clock).
    :param request_id: the AuthnRequest ID the response answers.
    :returns: the exit code: 0 accepted (the identity printed as JSON), 1 refused
        (the reason code, its meaning and a hint), 2 bad arguments.
    """
    try:
        data = _capture(path.read_bytes())
    except OSError as exc:
        return report(f"verify: cannot read {str(path)!r}: {exc.strerror or exc}")
    settings = load_settings()
    if settings is None:
        return 1
    try:
        idp = load_idp(settings)
    except ConfigError as exc:
        return report(exc)
    if not idp.configured:
        return report("verify: no IdP is configured yet: " + idp_todo(settings)[0])
    try:
        frozen_at = parse_instant(now, "--now") if now else None
    except ResponseRejected:
        return report(f"--now must be an ISO 8601 time such as 2024-01-31T12:00:00Z, got {now!r}", 2)
    if frozen_at is not None:
        frozen = frozen_at
        sp = ServiceProvider(settings, idp, MemoryReplayCache(clock=lambda: frozen), clock=lambda: frozen)
    else:
        sp = ServiceProvider(settings, idp, MemoryReplayCache())
    try:
        verified = sp.process_response(
            data if data.startswith(b"<") else data.decode("ascii", "replace"), request_id
        )
    except ResponseRejected as exc:
        print(f"REFUSED {exc.reason}: {exc.detail}")
        print(f"  meaning: {REASONS[exc.reason][1]}")
        if exc.reason in HINTS:
            print(f"  hint: {HINTS[exc.reason]}")
        return 1
    out = {
        "result": "accepted",
        "not_before": verified.not_before,
        "not_on_or_after": verified.not_on_or_after,
        **verified.user.to_dict(),
        "assertion_id": verified.assertion_id,
        "replay_guard_until": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(verified.valid_until)),
        "signed": verified.signed,
    }
    print(json.dumps(out, indent=2))
    return 0
