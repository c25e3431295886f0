"""Single logout, the protocol part: the HTTP-Redirect binding and the checks on logout messages.

No HTTP objects in or out: a raw query string or form fields in, a checked
:class:`LogoutMessage` out (``gate/logout.py`` makes the HTTP decisions; ``sp.py``
builds the outgoing XML). Every refusal is a
:class:`~saml_middleware.errors.ResponseRejected` with its reason code.

Redirect-binding signatures are checked over the query string *as received*:
the signed string is rebuilt from the raw, still percent-encoded parameters,
so an IdP that encodes with lower-case hex (Entra ID: ``%2f``) verifies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote_plus

import xmlsec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from ..config import Settings
from ..errors import ResponseRejected
from ..pem import certificate_object
from .bindings import RSA_SHA1, SIG_HASHES, b64decode_strict, inflate, signed_strings, split_query
from .checks import check_signature_shape, parse_instant, same_url
from .signatures import SignatureVerifier
from .xml import parse_untrusted, q

__all__ = ["LogoutMessage", "LogoutVerifier", "matches", "sls_url"]

_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
#: An inflated logout message larger than this is refused (they are about 1 KB).
MAX_INFLATED = 64 * 1024


def sls_url(settings: Settings) -> str:
    """The SP's single logout service, ``{SAML_BASE_URL}{SAML_PATH_PREFIX}/sls``."""
    return settings.base_url + settings.path_prefix + "/sls"


@dataclass(frozen=True)
class LogoutMessage:
    """A LogoutRequest or LogoutResponse that passed every check."""

    kind: str  # "LogoutRequest" or "LogoutResponse"
    id: str
    relay_state: str | None
    name_id: str = ""
    session_indexes: tuple[str, ...] = ()


def matches(name_id: str, session_index: str | None, message: LogoutMessage) -> bool:
    """Does a session of ``name_id`` / ``session_index`` fall under this LogoutRequest?"""
    if name_id != message.name_id:
        return False
    return not message.session_indexes or session_index in message.session_indexes


def _inflate(raw: bytes) -> bytes:
    try:
        return inflate(raw, MAX_INFLATED)
    except ValueError as exc:
        raise ResponseRejected("logout_invalid", str(exc)) from None


def _b64(value: str) -> bytes:
    try:
        return b64decode_strict(value)
    except ValueError:
        raise ResponseRejected("bad_encoding", "the message is not strict base64") from None


class LogoutVerifier:
    """Checks logout messages arriving at the SLS.

    :param settings: SLS URL, SHA-1 policy, clock skew and message lifetime.
    :param idp_entity_id: the only accepted Issuer.
    :param certificates: the IdP's signing certificates (PEM) from configuration.
    :param clock: epoch seconds.
    """

    def __init__(
        self,
        settings: Settings,
        idp_entity_id: str,
        certificates: Sequence[str],
        *,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.idp_entity_id = idp_entity_id
        self.sls_url = sls_url(settings)
        self.clock = clock
        self.keys = [certificate_object(pem).public_key() for pem in certificates]
        self.algorithms: dict[str, Callable[[], hashes.HashAlgorithm]] = dict(SIG_HASHES)
        if settings.allow_sha1:
            self.algorithms[RSA_SHA1] = hashes.SHA1
        self.verify_xml = SignatureVerifier(certificates, allow_sha1=settings.allow_sha1)

    # -- bindings ---------------------------------------------------------
    def from_redirect(self, raw_query: str, expected_request_id: str | None) -> LogoutMessage:
        """Check a message on the HTTP-Redirect binding; a signature is required."""
        try:
            raw = split_query(raw_query)
        except ValueError as exc:
            raise ResponseRejected("logout_invalid", str(exc)) from None
        param = self._which(raw)
        if "Signature" not in raw or "SigAlg" not in raw:
            raise ResponseRejected("logout_unsigned", "the Redirect-binding message carries no Signature")
        alg = unquote_plus(raw["SigAlg"])
        if alg not in self.algorithms:
            raise ResponseRejected("weak_algorithm", f"SigAlg {alg!r} is not allowed")
        signature = _b64(unquote_plus(raw["Signature"]))
        if not any(self._verify(signature, signed, alg) for signed in signed_strings(raw, param)):
            raise ResponseRejected("signature_invalid", "the Redirect-binding signature does not verify")
        root = parse_untrusted(_inflate(_b64(unquote_plus(raw[param]))))
        relay = unquote_plus(raw["RelayState"]) if "RelayState" in raw else None
        return self._check(root, param, relay, expected_request_id)

    def from_post(self, form: Mapping[str, list[str]], expected_request_id: str | None) -> LogoutMessage:
        """Check a message on the HTTP-POST binding; an enveloped signature is required."""
        param = self._which(form)
        if len(form[param]) != 1 or len(form.get("RelayState", [])) > 1:
            raise ResponseRejected("logout_invalid", "repeated form fields")
        root = parse_untrusted(_b64(form[param][0]))
        signatures = list(root.iter(q("ds", "Signature")))
        if not signatures:
            raise ResponseRejected("logout_unsigned", "the POSTed message carries no signature")
        if len(signatures) != 1 or signatures[0].getparent() is not root:
            raise ResponseRejected("wrapped_signature", "the signature is not the root's only signature")
        check_signature_shape(signatures[0], root)
        xmlsec.tree.add_ids(root, ["ID"])
        self.verify_xml(signatures[0])
        relay = form.get("RelayState", [None])[0]
        return self._check(root, param, relay, expected_request_id)

    # -- checks ---------------------------------------------------------
    @staticmethod
    def _which(params: Mapping[str, object]) -> str:
        found = [p for p in ("SAMLRequest", "SAMLResponse") if p in params]
        if len(found) != 1:
            raise ResponseRejected("logout_invalid", "expected exactly one of SAMLRequest and SAMLResponse")
        return found[0]

    def _verify(self, signature: bytes, signed: bytes, alg: str) -> bool:
        for key in self.keys:
            if not isinstance(key, rsa.RSAPublicKey):
                continue
            try:
                key.verify(signature, signed, padding.PKCS1v15(), self.algorithms[alg]())
            except InvalidSignature:
                continue
            return True
        return False

    def _check(
        self, root: etree._Element, param: str, relay: str | None, expected_request_id: str | None
    ) -> LogoutMessage:
        kind = "LogoutRequest" if param == "SAMLRequest" else "LogoutResponse"
        if root.tag != q("samlp", kind):
            raise ResponseRejected("logout_invalid", f"{param} holds {root.tag!r}, not samlp:{kind}")
        ident = root.get("ID", "")
        if not ident or root.get("Version") != "2.0":
            raise ResponseRejected("logout_invalid", "the message has no ID or is not SAML 2.0")
        issuer = (root.findtext(q("saml", "Issuer")) or "").strip()
        if issuer != self.idp_entity_id:
            raise ResponseRejected("issuer", f"Issuer {issuer!r} is not {self.idp_entity_id!r}")
        if not same_url(root.get("Destination", ""), self.sls_url):
            raise ResponseRejected("destination", f"Destination {root.get('Destination')!r} is not the SLS")
        now, s = self.clock(), self.settings
        issued = parse_instant(root.get("IssueInstant"), "IssueInstant")
        if issued > now + s.clock_skew:
            raise ResponseRejected("not_yet_valid", "IssueInstant is in the future")
        if issued < now - s.response_max_age - s.clock_skew:
            raise ResponseRejected("expired", "IssueInstant is too old")
        if kind == "LogoutResponse":
            if not expected_request_id or root.get("InResponseTo") != expected_request_id:
                raise ResponseRejected(
                    "logout_in_response_to",
                    f"InResponseTo {root.get('InResponseTo')!r} is not the pending {expected_request_id!r}",
                )
            code = root.find(f"{q('samlp', 'Status')}/{q('samlp', 'StatusCode')}")
            if code is None or code.get("Value") != _SUCCESS:
                raise ResponseRejected("status", f"status {None if code is None else code.get('Value')!r}")
            return LogoutMessage(kind, ident, relay)
        limit = root.get("NotOnOrAfter")
        if limit is not None and now >= parse_instant(limit, "NotOnOrAfter") + s.clock_skew:
            raise ResponseRejected("expired", "the LogoutRequest is past its NotOnOrAfter")
        name_id = root.find(q("saml", "NameID"))
        if name_id is None or not "".join(str(t) for t in name_id.itertext()).strip():
            raise ResponseRejected("logout_invalid", "the LogoutRequest names no (unencrypted) NameID")
        indexes = tuple((el.text or "").strip() for el in root.findall(q("samlp", "SessionIndex")))
        return LogoutMessage(kind, ident, relay, "".join(str(t) for t in name_id.itertext()).strip(), indexes)
