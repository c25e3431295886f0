"""The checks pysaml2 does not make, as pure functions over the parsed tree.

Run in this order (``sp.ServiceProvider.process_response`` does):
:func:`check_structure` -> :func:`check_signatures` -> :func:`check_protocol`, which starts
with SAML core's envelope (``envelope.py``) and applies the Web Browser SSO profile's rules on
the Subject, ``InResponseTo`` and the AuthnStatement (``subject.py``).
Each refusal raises :class:`~saml_middleware.errors.ResponseRejected` with its
own reason code. See ``docs/security.md`` for why each one exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import xmlsec
from lxml import etree

from ..errors import ResponseRejected
from .envelope import check_envelope, parse_instant
from .subject import (
    Expected,
    bearer_confirmations,
    check_authn_statements,
    check_bearers,
    check_in_response_to,
    same_url,
)
from .xml import q

__all__ = [
    "Expected",
    "Parts",
    "check_protocol",
    "check_signature_shape",
    "check_signatures",
    "check_structure",
    "parse_instant",
    "same_url",
]

_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_ALLOWED_TRANSFORMS = {_ENVELOPED, _EXC_C14N}
_ALLOWED_C14N = {
    _EXC_C14N,
    _EXC_C14N + "WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/2006/12/xml-c14n11",
}
_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"


@dataclass(frozen=True)
class Parts:
    """The elements that matter, located once and handed to every later stage."""

    response: etree._Element
    assertion: etree._Element
    response_signature: etree._Element | None
    assertion_signature: etree._Element | None


def check_structure(root: etree._Element) -> Parts:
    """Shape before signatures: one Response, one Assertion, signatures in place."""
    if root.tag != q("samlp", "Response"):
        raise ResponseRejected("not_a_response", f"root element is {root.tag!r}, not samlp:Response")
    found = list(root.iter(q("saml", "Assertion"), q("saml", "EncryptedAssertion")))
    if len(found) != 1:
        raise ResponseRejected("multiple_assertions", f"{len(found)} assertions in the document, expected 1")
    assertion = found[0]
    if assertion.getparent() is not root:
        raise ResponseRejected("wrapped_signature", "the assertion is not a direct child of the Response")
    seen: set[str] = set()
    for el in root.iter(etree.Element):
        ident = el.get("ID")
        if ident is not None:
            if ident in seen:
                raise ResponseRejected("duplicate_id", f"ID {ident!r} appears twice")
            seen.add(ident)
    signatures: dict[int, etree._Element] = {}
    for sig in root.iter(q("ds", "Signature")):
        parent = sig.getparent()
        if parent is not root and parent is not assertion:
            raise ResponseRejected(
                "wrapped_signature", "a signature is not a child of the Response or Assertion"
            )
        if id(parent) in signatures:
            raise ResponseRejected("wrapped_signature", "two signatures on one element")
        check_signature_shape(sig, parent)
        signatures[id(parent)] = sig
    return Parts(root, assertion, signatures.get(id(root)), signatures.get(id(assertion)))


def check_signature_shape(sig: etree._Element, parent: etree._Element) -> None:
    signed_info = sig.find(q("ds", "SignedInfo"))
    if signed_info is None:
        raise ResponseRejected("wrapped_signature", "signature without SignedInfo")
    if sig.find(q("ds", "Object")) is not None:
        raise ResponseRejected("wrapped_signature", "ds:Object inside a signature")
    c14n = signed_info.find(q("ds", "CanonicalizationMethod"))
    if c14n is None or c14n.get("Algorithm") not in _ALLOWED_C14N:
        raise ResponseRejected("wrapped_signature", "unexpected SignedInfo canonicalization")
    refs = signed_info.findall(q("ds", "Reference"))
    if len(refs) != 1:
        raise ResponseRejected("wrapped_signature", f"{len(refs)} references in one signature, expected 1")
    ident = parent.get("ID")
    if not ident or refs[0].get("URI") != "#" + ident:
        raise ResponseRejected(
            "wrapped_signature",
            f"signature references {refs[0].get('URI')!r}, not its parent #{ident}",
        )
    transforms = [
        t.get("Algorithm") for t in refs[0].iterfind(f"{q('ds', 'Transforms')}/{q('ds', 'Transform')}")
    ]
    if _ENVELOPED not in transforms or any(t not in _ALLOWED_TRANSFORMS for t in transforms):
        raise ResponseRejected("wrapped_signature", f"unexpected transforms {transforms!r}")


def check_signatures(
    parts: Parts, verify: Callable[[etree._Element], str], verified: dict[str, str] | None = None
) -> dict[str, str]:
    """Verify every signature present; at least one must cover the assertion.

    :param verified: signatures already verified (a Response signature is
        checked before its encrypted assertion is decrypted).
    :returns: ``{"response": alg, "assertion": alg}`` for the parts signed.
    """
    done = dict(verified or {})
    present = {"response": parts.response_signature, "assertion": parts.assertion_signature}
    if not done and all(sig is None for sig in present.values()):
        raise ResponseRejected("signature_missing", "neither the Response nor the Assertion is signed")
    xmlsec.tree.add_ids(parts.response, ["ID"])
    for name, sig in present.items():
        if sig is not None and name not in done:
            done[name] = verify(sig)
    return done


def _issuer(el: etree._Element) -> str | None:
    issuer = el.find(q("saml", "Issuer"))
    return None if issuer is None else (issuer.text or "").strip()


def check_protocol(parts: Parts, signed: dict[str, str], expected: Expected, now: float) -> float:
    """Envelope, Status, Destination, Issuer, times, InResponseTo, Subject, audience, AuthnStatement.

    :returns: the time until which the assertion must be remembered (replay).
    """
    resp, a, skew = parts.response, parts.assertion, expected.clock_skew
    check_envelope(resp, a)
    code = resp.find(f"{q('samlp', 'Status')}/{q('samlp', 'StatusCode')}")
    if code is None or code.get("Value") != _SUCCESS:
        message = resp.findtext(f"{q('samlp', 'Status')}/{q('samlp', 'StatusMessage')}") or ""
        value = code.get("Value") if code is not None else "missing"
        raise ResponseRejected("status", f"IdP status {value}: {message}".strip())
    # Second-level codes qualify an error; one that is not Success under Success is contradictory.
    nested = [c.get("Value") for c in code.iter(q("samlp", "StatusCode")) if c is not code]
    if any(value != _SUCCESS for value in nested):
        raise ResponseRejected("status", f"Success with the second-level status {nested!r}")
    dest = resp.get("Destination")
    if dest is not None and not same_url(dest, expected.acs_url):
        raise ResponseRejected("destination", f"Destination is {dest!r}, this ACS is {expected.acs_url!r}")
    if dest is None and "assertion" not in signed:
        raise ResponseRejected("destination", "Destination is required when only the Response is signed")
    refused_as_old_from = now + expected.max_age + skew
    for where, el in (("Response", resp), ("Assertion", a)):
        issuer = _issuer(el)
        # Optional in the core schema, but every IdP sends it and docs/security.md requires it on both.
        if issuer != expected.idp_entity_id:
            raise ResponseRejected(
                "issuer",
                f"{where} Issuer is {issuer!r}, the IdP entity ID is {expected.idp_entity_id!r}",
            )
        issued = parse_instant(el.get("IssueInstant"), f"{where} IssueInstant")
        if issued > now + skew:
            raise ResponseRejected("not_yet_valid", f"{where} IssueInstant is in the future")
        if issued < now - expected.max_age - skew:
            raise ResponseRejected("expired", f"{where} was issued more than {expected.max_age:.0f}s ago")
        if where == "Assertion":  # always signed content (directly, or through the Response)
            refused_as_old_from = min(refused_as_old_from, issued + expected.max_age + skew)

    check_in_response_to(resp, bearer_confirmations(a), expected)
    keep_until = check_bearers(a, expected, now)
    conditions = a.find(q("saml", "Conditions"))
    if conditions is None:
        raise ResponseRejected("conditions_missing", "the assertion has no Conditions")
    not_before = conditions.get("NotBefore")
    if not_before is not None and parse_instant(not_before, "Conditions NotBefore") > now + skew:
        raise ResponseRejected("not_yet_valid", "Conditions NotBefore is in the future")
    if conditions.get("NotOnOrAfter") is not None:
        until = parse_instant(conditions.get("NotOnOrAfter"), "Conditions NotOnOrAfter")
        if now >= until + skew:
            raise ResponseRejected("expired", "Conditions NotOnOrAfter has passed")
        keep_until = max(keep_until, until)
    restrictions = conditions.findall(q("saml", "AudienceRestriction"))
    if not restrictions:
        raise ResponseRejected("audience", "no AudienceRestriction")
    for restriction in restrictions:
        audiences = [(x.text or "").strip() for x in restriction.findall(q("saml", "Audience"))]
        if expected.sp_entity_id not in audiences:
            raise ResponseRejected(
                "audience",
                f"Audience is {audiences!r}, SAML_SP_ENTITY_ID is {expected.sp_entity_id!r}",
            )
    check_authn_statements(a, now, skew, allow_missing=expected.allow_missing_authn_statement)
    # A replay is refused as too old once the assertion's IssueInstant is more than
    # max_age + skew in the past, so the replay cache need not remember it longer.
    return min(keep_until + skew, refused_as_old_from + 1)
