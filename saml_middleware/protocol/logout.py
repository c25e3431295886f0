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

import base64
import binascii
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote_plus, unquote_plus, urlencode

import xmlsec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from ..config import Settings
from ..errors import ResponseRejected
from ..pem import certificate_object
from .checks import check_signature_shape, parse_instant, same_url
from .signatures import SignatureVerifier
from .xml import parse_untrusted, q

__all__ = ["LogoutMessage", "LogoutVerifier", "matches", "redirect_url", "sls_url"]

_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    _MORE + "rsa-sha256": hashes.SHA256,
    _MORE + "rsa-sha384": hashes.SHA384,
    _MORE + "rsa-sha512": hashes.SHA512,
}
_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
#: An inflated logout message larger than this is refused (they are about 1 KB).
MAX_INFLATED = 64 * 1024


def sls_url(settings: Settings) -> str:
    """The SP's single logout service, ``{SAML_BASE_URL}{SAML_PATH_PREFIX}/sls``."""
    return settings.base_url + settings.path_prefix + "/sls"


def redirect_url(
    location: str, param: str, xml: bytes, relay_state: str | None, key: rsa.RSAPrivateKey | None
) -> str:
    """``location`` with a deflated message on the HTTP-Redirect binding, signed (RSA-SHA256) if keyed."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    args = {param: base64.b64encode(deflater.compress(xml) + deflater.flush()).decode("ascii")}
    if relay_state:
        args["RelayState"] = relay_state
    if key is not None:
        args["SigAlg"] = _MORE + "rsa-sha256"
        signature = key.sign(urlencode(args).encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        args["Signature"] = base64.b64encode(signature).decode("ascii")
    return location + ("&" if "?" in location else "?") + urlencode(args)


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
    inflater = zlib.decompressobj(-15)
    try:
        data = inflater.decompress(raw, MAX_INFLATED)
    except zlib.error:
        raise ResponseRejected("logout_invalid", "the message is not raw DEFLATE") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise ResponseRejected("logout_invalid", "the message is truncated or inflates too much")
    return data


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
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
        self.algorithms = dict(_HASHES)
        if settings.allow_sha1:
            self.algorithms[_SHA1] = hashes.SHA1
        self.verify_xml = SignatureVerifier(certificates, allow_sha1=settings.allow_sha1)

    # -- bindings ---------------------------------------------------------
    def from_redirect(self, raw_query: str, expected_request_id: str | None) -> LogoutMessage:
        """Check a message on the HTTP-Redirect binding; a signature is required."""
        raw: dict[str, str] = {}
        for part in raw_query.split("&"):
            name, _, value = part.partition("=")
            if name in raw:
                raise ResponseRejected("logout_invalid", f"the parameter {name!r} appears twice")
            raw[name] = value
        param = self._which(raw)
        if "Signature" not in raw or "SigAlg" not in raw:
            raise ResponseRejected("logout_unsigned", "the Redirect-binding message carries no Signature")
        alg = unquote_plus(raw["SigAlg"])
        if alg not in self.algorithms:
            raise ResponseRejected("weak_algorithm", f"SigAlg {alg!r} is not allowed")
        names = [param, *(["RelayState"] if "RelayState" in raw else []), "SigAlg"]
        as_received = "&".join(f"{n}={raw[n]}" for n in names)
        canonical = "&".join(f"{n}={quote_plus(unquote_plus(raw[n]))}" for n in names)
        signature = _b64(unquote_plus(raw["Signature"]))
        if not any(
            self._verify(signature, s.encode("ascii", "replace"), alg) for s in {as_received, canonical}
        ):
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
