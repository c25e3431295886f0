"""Decoding and reading SAML AuthnRequests sent to the dev IdP."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from ..errors import ResponseRejected
from ..protocol.bindings import NotDeflated, b64decode_strict, inflate
from ..protocol.xml import parse_untrusted
from .responses import ASSERTION_NS, PROTOCOL_NS

__all__ = ["MAX_REQUEST_BYTES", "AuthnRequestInfo", "decode_saml_message", "parse_authn_request"]

#: Upper bound for an inflated request; real AuthnRequests are a few kilobytes.
MAX_REQUEST_BYTES = 256 * 1024


@dataclass(frozen=True)
class AuthnRequestInfo:
    """What the dev IdP needs from an AuthnRequest.

    :ivar id: the request ID; the response's ``InResponseTo``.
    :ivar issuer: the SP's entity ID; the response's audience.
    :ivar acs_url: ``AssertionConsumerServiceURL``, when the request names one.
    """

    id: str
    issuer: str
    acs_url: str | None
    force_authn: bool
    has_requested_authn_context: bool


def decode_saml_message(saml_message: str) -> etree._Element:
    """Parse a base64 SAML protocol message, raw-DEFLATEd (HTTP-Redirect) or not (HTTP-POST).

    :raises ValueError: on bad base64, bad compression, oversized content,
        a DOCTYPE, or XML that does not parse.
    """
    compact = "".join(saml_message.split())
    if not compact:
        raise ValueError("SAMLRequest is empty")
    try:
        raw = b64decode_strict(compact)
    except ValueError:
        raise ValueError("SAMLRequest is not valid base64") from None
    try:
        xml = inflate(raw, MAX_REQUEST_BYTES)
    except NotDeflated:
        if not raw.lstrip().startswith(b"<"):
            raise ValueError("SAMLRequest is neither raw DEFLATE nor XML") from None
        xml = raw  # the HTTP-POST binding does not compress
    except ValueError:
        raise ValueError(f"SAMLRequest inflates to more than {MAX_REQUEST_BYTES} bytes") from None
    if len(xml) > MAX_REQUEST_BYTES:
        raise ValueError(f"SAMLRequest is larger than {MAX_REQUEST_BYTES} bytes")
    try:
        return parse_untrusted(xml)  # the same hardened parser as the SP's
    except ResponseRejected as exc:
        raise ValueError(f"SAMLRequest refused ({exc.reason}): {exc.detail}") from None


def parse_authn_request(saml_request: str) -> AuthnRequestInfo:
    """Read an AuthnRequest from a ``SAMLRequest`` parameter value.

    :raises ValueError: when it does not decode or is not an AuthnRequest
        with an ID and an Issuer.
    """
    root = decode_saml_message(saml_request)
    if root.tag != f"{{{PROTOCOL_NS}}}AuthnRequest":
        raise ValueError(f"SAMLRequest is a {etree.QName(root).localname}, not an AuthnRequest")
    request_id = root.get("ID")
    if not request_id:
        raise ValueError("the AuthnRequest has no ID")
    issuer_element = root.find(f"{{{ASSERTION_NS}}}Issuer")
    issuer = (issuer_element.text or "").strip() if issuer_element is not None else ""
    if not issuer:
        raise ValueError("the AuthnRequest has no Issuer (the SP entity ID)")
    return AuthnRequestInfo(
        id=request_id,
        issuer=issuer,
        acs_url=root.get("AssertionConsumerServiceURL") or None,
        force_authn=root.get("ForceAuthn", "false").strip() in ("true", "1"),
        has_requested_authn_context=root.find(f"{{{PROTOCOL_NS}}}RequestedAuthnContext") is not None,
    )
