"""Single logout at the dev IdP: LogoutRequest / LogoutResponse on the HTTP-Redirect binding.

The IdP answers an SP's LogoutRequest with a signed LogoutResponse, and can
start an IdP-initiated logout for a user. Signatures are made the way the
binding says (over ``SAMLRequest=...&RelayState=...&SigAlg=...``); with
``lowercase=True`` the query is percent-encoded with lower-case hex digits,
as Entra ID does, which an SP must still verify.
"""

from __future__ import annotations

from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from ..protocol import bindings
from .authnrequest import decode_saml_message
from .responses import ASSERTION_NS, PROTOCOL_NS, format_instant
from .signer import Algorithm


class LogoutParty(Protocol):
    """What logout needs of :class:`~saml_middleware.devidp.DevIdP` (no import back to it)."""

    sp_sls_url: str | None

    @property
    def entity_id(self) -> str: ...

    @property
    def key_pem(self) -> str: ...


__all__ = [
    "LogoutParty",
    "answer_logout",
    "logout_request",
    "logout_response",
    "read_logout_request",
    "redirect_url",
    "start_logout",
]

_P = f"{{{PROTOCOL_NS}}}"
_A = f"{{{ASSERTION_NS}}}"
_EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
_SIG_ALGS = {"sha256": bindings.RSA_SHA256, "sha1": bindings.RSA_SHA1}


def _root(tag: str, ident: str, now: float, destination: str, issuer: str) -> etree._Element:
    root = etree.Element(
        _P + tag,
        nsmap={"samlp": PROTOCOL_NS},
        ID=ident,
        Version="2.0",
        IssueInstant=format_instant(now),
        Destination=destination,
    )
    etree.SubElement(root, _A + "Issuer", nsmap={None: ASSERTION_NS}).text = issuer  # type: ignore[dict-item]
    return root


def logout_request(
    *, issuer: str, destination: str, name_id: str, session_index: str | None, now: float, new_id: str
) -> bytes:
    """An IdP-initiated LogoutRequest for ``name_id`` (e-mail format), valid for five minutes."""
    root = _root("LogoutRequest", new_id, now, destination, issuer)
    root.set("NotOnOrAfter", format_instant(now + 300))
    name = etree.SubElement(root, _A + "NameID", nsmap={None: ASSERTION_NS}, Format=_EMAIL_FORMAT)  # type: ignore[dict-item]
    name.text = name_id
    if session_index:
        etree.SubElement(root, _P + "SessionIndex").text = session_index
    return etree.tostring(root)


def logout_response(
    *, issuer: str, destination: str, in_response_to: str, now: float, new_id: str, status: str = _SUCCESS
) -> bytes:
    """A LogoutResponse answering ``in_response_to``."""
    root = _root("LogoutResponse", new_id, now, destination, issuer)
    root.set("InResponseTo", in_response_to)
    etree.SubElement(etree.SubElement(root, _P + "Status"), _P + "StatusCode", Value=status)
    return etree.tostring(root)


def read_logout_request(saml_request: str) -> tuple[str, str]:
    """``(ID, Issuer)`` of an SP's LogoutRequest; ValueError when it is something else."""
    root = decode_saml_message(saml_request)
    ident, issuer = root.get("ID"), root.findtext(_A + "Issuer")
    if root.tag != _P + "LogoutRequest" or not ident or not issuer:
        raise ValueError("not a LogoutRequest with an ID and an Issuer")
    return ident, issuer.strip()


def redirect_url(
    location: str,
    param: str,
    xml: bytes,
    relay_state: str | None,
    key_pem: str | None,
    *,
    algorithm: Algorithm = "sha256",
    lowercase: bool = False,
) -> str:
    """``location`` with ``xml`` deflated on the HTTP-Redirect binding, signed with ``key_pem``.

    :param key_pem: the signing key; ``None`` sends the message unsigned.
    :param lowercase: percent-encode with lower-case hex digits (Entra ID's habit).
    """
    sign = None
    if key_pem is not None:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the dev IdP signs with an RSA key")
        sign = bindings.rsa_signer(key, _SIG_ALGS[algorithm])
    return bindings.redirect_url(
        location, param, xml, relay_state, sign=sign, sig_alg=_SIG_ALGS[algorithm], lowercase=lowercase
    )


def _sls(idp: LogoutParty) -> str:
    if not idp.sp_sls_url:
        raise ValueError("the dev IdP needs sp_sls_url (or sp_acs_url) for single logout")
    return idp.sp_sls_url


def start_logout(
    idp: LogoutParty,
    name_id: str,
    session_index: str | None,
    now: float,
    new_id: str,
    lowercase: bool = False,
) -> str:
    """The URL of an IdP-initiated, signed LogoutRequest at the SP's SLS."""
    xml = logout_request(
        issuer=idp.entity_id,
        destination=_sls(idp),
        name_id=name_id,
        session_index=session_index,
        now=now,
        new_id=new_id,
    )
    return redirect_url(_sls(idp), "SAMLRequest", xml, None, idp.key_pem, lowercase=lowercase)


def answer_logout(
    idp: LogoutParty, saml_request: str, relay_state: str | None, now: float, new_id: str
) -> str:
    """The URL of the signed LogoutResponse answering an SP's LogoutRequest, at the SP's SLS."""
    ident, _ = read_logout_request(saml_request)
    xml = logout_response(
        issuer=idp.entity_id, destination=_sls(idp), in_response_to=ident, now=now, new_id=new_id
    )
    return redirect_url(_sls(idp), "SAMLResponse", xml, relay_state, idp.key_pem)
