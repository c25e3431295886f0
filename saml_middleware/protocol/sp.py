"""ServiceProvider: the SAML protocol core. The only module that imports ``saml2``.

No HTTP objects in or out: strings and bytes in, plain values out. pysaml2
builds the outgoing messages (AuthnRequest, SP metadata); incoming responses
go through this package's own hardened pipeline (``checks.py``), because
pysaml2 alone accepts too much (see ``docs/security.md``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, md, saml, samlp
from saml2.xmldsig import KeyInfo, X509Certificate, X509Data

from ..config import Settings
from ..errors import ConfigError, ResponseRejected
from ..pem import pem_body, rsa_private_key
from ..stores import ReplayCache
from ..user import SAMLUser
from .bindings import rsa_signer
from .checks import Expected, Parts, check_protocol, check_signatures, check_structure
from .decrypt import AssertionDecryptor, reveal_name_id
from .identity import IdentityReader
from .logout import sls_url
from .metadata import IdPInfo
from .outgoing import LoginRequest, encode
from .signatures import SignatureVerifier
from .xml import parse_untrusted, q
from .xmlsign import EnvelopedSigner

__all__ = ["LoginRequest", "ServiceProvider", "Verified", "decode_post_binding", "sp_metadata_xml"]

_WHITESPACE = bytes.maketrans(b"", b"")


@dataclass(frozen=True)
class Verified:
    """A response that passed every check."""

    user: SAMLUser
    assertion_id: str
    valid_until: float
    signed: dict[str, str] = field(default_factory=dict)
    not_before: str | None = None
    not_on_or_after: str | None = None


def _instant(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def decode_post_binding(value: str | bytes) -> bytes:
    """Strict base64 of UTF-8 XML, as the HTTP-POST binding carries it. Never inflated."""
    raw = value.encode("ascii", "replace") if isinstance(value, str) else value
    raw = raw.translate(_WHITESPACE, b" \t\r\n")
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ResponseRejected("bad_encoding", "SAMLResponse is not strict base64") from None
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        raise ResponseRejected(
            "bad_encoding", "SAMLResponse is not XML (DEFLATE is not used on the POST binding)"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise ResponseRejected("bad_encoding", "SAMLResponse is not valid UTF-8") from None
    return data


def sp_metadata_xml(s: Settings) -> bytes:
    """The SP metadata for these settings (it does not depend on the IdP)."""
    keys = []
    for cert in [c for c in (s.sp_cert, s.sp_cert_next) if c]:  # both during a key rollover
        body = pem_body(cert)
        for use in ("signing", "encryption"):
            info = KeyInfo(x509_data=[X509Data(x509_certificate=X509Certificate(text=body))])
            keys.append(md.KeyDescriptor(use=use, key_info=info))
    descriptor = md.SPSSODescriptor(
        protocol_support_enumeration=samlp.NAMESPACE,
        authn_requests_signed="true" if s.sp_key else "false",
        want_assertions_signed="true",
        key_descriptor=keys,
        name_id_format=[md.NameIDFormat(text=saml.NAMEID_FORMAT_EMAILADDRESS)],
        single_logout_service=[md.SingleLogoutService(binding=BINDING_HTTP_REDIRECT, location=sls_url(s))],
        assertion_consumer_service=[
            md.AssertionConsumerService(
                binding=BINDING_HTTP_POST, location=s.acs_url, index="0", is_default="true"
            )
        ],
    )
    entity = md.EntityDescriptor(entity_id=s.sp_entity_id, spsso_descriptor=descriptor)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + bytes(entity.to_string())


def _verifier(idp: IdPInfo, allow_sha1: bool) -> Callable[[etree._Element], str]:
    if idp.configured:
        return SignatureVerifier(idp.certificates, allow_sha1=allow_sha1)

    def refuse(signature: etree._Element) -> str:
        raise ResponseRejected("sso_not_configured", "no IdP is configured yet, so no signature is trusted")

    return refuse


class ServiceProvider:
    """Builds AuthnRequests and SP metadata; validates SAML responses.

    :param settings: the configuration.
    :param idp: the IdP as loaded (``gate.metadata_refresh.load_idp``).
    :param replay: where accepted assertion IDs are remembered.
    :param clock: epoch seconds; tests freeze it.
    :param random_id: makes message IDs; tests make it predictable.

    >>> sp = ServiceProvider(settings, load_idp(settings), MemoryReplayCache())  # doctest: +SKIP
    >>> login = sp.build_login(relay_state="k3y")                                # doctest: +SKIP
    >>> verified = sp.process_response(form["SAMLResponse"], login.request_id)   # doctest: +SKIP
    >>> verified.user.email                                                      # doctest: +SKIP
    'b.simon@contoso.com'
    """

    def __init__(
        self,
        settings: Settings,
        idp: IdPInfo,
        replay: ReplayCache,
        *,
        clock: Callable[[], float] = time.time,
        random_id: Callable[[], str] = lambda: "_" + secrets.token_hex(16),
    ) -> None:
        problems = []  # NOT_CONFIGURED (no IdP yet) builds an SP that refuses every response
        if idp.configured and not idp.entity_id:
            problems.append("the IdP entity ID is unknown (SAML_IDP_ENTITY_ID)")
        if idp.configured and not idp.sso_url.startswith(("https://", "http://")):
            problems.append(f"the IdP login URL {idp.sso_url!r} is not an http(s) URL (SAML_IDP_SSO_URL)")
        if idp.configured and not idp.certificates:
            problems.append("no IdP signing certificate (SAML_IDP_CERT or metadata)")
        if problems:
            raise ConfigError(problems)
        self.settings = settings
        self.idp = idp
        self.replay = replay
        self.clock = clock
        self.random_id = random_id
        self.verify_signature = _verifier(idp, settings.allow_sha1)
        self.read_identity = IdentityReader(
            settings.email_attribute,
            settings.attribute_map,
            settings.allowed_domains,
            user_id_attribute=settings.user_id_attribute,
        )
        # During an SP key rollover either key pair decrypts (SAML_SP_KEY_NEXT).
        keys = [k for k in (settings.sp_key, settings.sp_key_next) if k]
        self.decrypt = AssertionDecryptor(*keys) if keys else None
        # Settings checked that the key is RSA and matches SAML_SP_CERT (keysettings.py).
        sign = rsa_signer(rsa_private_key(settings.sp_key)) if settings.sp_key else None
        sign_xml = EnvelopedSigner(settings.sp_key, settings.sp_cert) if settings.sp_key else None
        self._encode = functools.partial(encode, sign_query=sign, sign_xml=sign_xml)  # outgoing.py
        self._metadata = sp_metadata_xml(settings)

    # -- outgoing -------------------------------------------------------
    def build_login(self, relay_state: str, *, force_authn: bool = False) -> LoginRequest:
        """An AuthnRequest on the IdP's binding (``IdPInfo.sso_binding``), signed if keyed:
        HTTP-Redirect (deflated, query signed) or HTTP-POST (``form`` set, signed inside the XML).

        :param force_authn: ask the IdP to authenticate the user afresh (``ForceAuthn="true"``)
            for this login only (an access rule's ``max_auth_age``); always with ``SAML_FORCE_AUTHN``.

        No ``RequestedAuthnContext``: Entra refuses users who signed in with
        MFA when the SP asks for password authentication.
        """
        s = self.settings
        request_id = self.random_id()
        request = samlp.AuthnRequest(
            id=request_id,
            version="2.0",
            issue_instant=_instant(self.clock()),
            destination=self.idp.sso_url,
            assertion_consumer_service_url=s.acs_url,
            protocol_binding=BINDING_HTTP_POST,
            issuer=saml.Issuer(text=s.sp_entity_id),
            name_id_policy=samlp.NameIDPolicy(allow_create="true"),
            force_authn="true" if s.force_authn or force_authn else None,
        )
        idp = self.idp
        return self._encode(
            idp.sso_binding, idp.sso_url, "SAMLRequest", request.to_string(), relay_state, request_id
        )

    def build_logout(self, user: SAMLUser, location: str, relay_state: str) -> LoginRequest:
        """A LogoutRequest for ``user``'s IdP session to ``location`` (on ``IdPInfo.slo_binding``)."""
        request_id, now = self.random_id(), self.clock()
        request = samlp.LogoutRequest(
            id=request_id,
            version="2.0",
            issue_instant=_instant(now),
            destination=location,
            not_on_or_after=_instant(now + 600),
            issuer=saml.Issuer(text=self.settings.sp_entity_id),
            name_id=saml.NameID(text=user.name_id, format=user.name_id_format or None),
            session_index=[samlp.SessionIndex(text=user.session_index)] if user.session_index else [],
        )
        xml = request.to_string()
        return self._encode(self.idp.slo_binding, location, "SAMLRequest", xml, relay_state, request_id)

    def build_logout_response(
        self, location: str, in_response_to: str, relay_state: str | None
    ) -> LoginRequest:
        """A Success LogoutResponse to the IdP's ``location`` (``IdPInfo.slo_binding``, signed if keyed)."""
        response_id = self.random_id()
        response = samlp.LogoutResponse(
            id=response_id,
            version="2.0",
            issue_instant=_instant(self.clock()),
            destination=location,
            in_response_to=in_response_to,
            issuer=saml.Issuer(text=self.settings.sp_entity_id),
            status=samlp.Status(status_code=samlp.StatusCode(value=samlp.STATUS_SUCCESS)),
        )
        xml = response.to_string()
        return self._encode(self.idp.slo_binding, location, "SAMLResponse", xml, relay_state, response_id)

    def metadata_xml(self) -> bytes:
        """The SP metadata to give the IdP (Entra: "Upload metadata file")."""
        return self._metadata

    def use_idp(self, idp: IdPInfo) -> None:
        """Switch to refreshed IdP metadata (``gate/metadata_refresh.py``); in-flight checks keep the old."""
        self.idp, self.verify_signature = idp, _verifier(idp, self.settings.allow_sha1)

    # -- incoming -------------------------------------------------------
    def _decrypt(self, parts: Parts) -> tuple[Parts, dict[str, str]]:
        """Verify a Response signature over the encrypted form, then decrypt the assertion into a
        document of its own and verify its signature there; return the Parts to check."""
        if self.decrypt is None:
            raise ResponseRejected("encrypted_assertion", "set SAML_SP_KEY and SAML_SP_CERT to decrypt")
        verified = {}
        if parts.response_signature is not None:
            verified = check_signatures(parts, self.verify_signature)
        inner = self.decrypt(parts.assertion)
        signed = check_signatures(inner, self.verify_signature, verified)
        outer = Parts(parts.response, inner.assertion, parts.response_signature, inner.assertion_signature)
        return outer, signed

    def process_response(self, saml_response: str | bytes, expected_request_id: str | None) -> Verified:
        """Run every check of ``docs/security.md`` on a posted SAMLResponse.

        :param saml_response: the base64 form field (or raw XML bytes starting with ``<``).
        :param expected_request_id: the AuthnRequest ID this browser's login
            cookie names, or ``None`` (then only an unsolicited response can
            pass, and only with ``SAML_ALLOW_IDP_INITIATED``).
        :raises ResponseRejected: with the reason code of the first failed check.
        """
        s = self.settings
        if isinstance(saml_response, bytes) and saml_response.lstrip().startswith(b"<"):
            data = saml_response
        else:
            data = decode_post_binding(saml_response)
        root = parse_untrusted(data)
        parts = check_structure(root)
        if parts.assertion.tag == q("saml", "EncryptedAssertion"):
            parts, signed = self._decrypt(parts)
        elif s.require_encryption:
            raise ResponseRejected("encryption_required", "the assertion arrived unencrypted")
        else:
            signed = check_signatures(parts, self.verify_signature)
        reveal_name_id(parts.assertion, self.decrypt)
        now = self.clock()
        expected = Expected(
            acs_url=s.acs_url,
            sp_entity_id=s.sp_entity_id,
            idp_entity_id=self.idp.entity_id,
            request_id=expected_request_id,
            allow_unsolicited=s.allow_idp_initiated,
            clock_skew=s.clock_skew,
            max_age=s.response_max_age,
            allow_missing_authn_statement=s.allow_missing_authn_statement,
        )
        valid_until = check_protocol(parts, signed, expected, now)
        assertion_id = parts.assertion.get("ID", "")
        if not assertion_id:
            raise ResponseRejected("malformed_response", "the assertion has no ID")
        if not self.replay.add(f"{s.sp_entity_id}|assertion|{assertion_id}", max(valid_until, now + 1)):
            raise ResponseRejected("replayed", f"assertion {assertion_id} was already used")
        user = self.read_identity(parts.assertion, self.idp.entity_id)
        conditions = parts.assertion.find(q("saml", "Conditions"))
        window = (
            (None, None)
            if conditions is None
            else (conditions.get("NotBefore"), conditions.get("NotOnOrAfter"))
        )
        return Verified(user, assertion_id, valid_until, signed, *window)
