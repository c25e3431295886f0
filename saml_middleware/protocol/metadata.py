"""The identity provider as configured: entity ID, login URL, signing certificates.

From federation metadata (Entra's FederationMetadata.xml with its UTF-8 BOM and
WS-Federation RoleDescriptors, AD FS, Okta, Google, Keycloak...) or from the
manual ``SAML_IDP_SSO_URL`` / ``SAML_IDP_ENTITY_ID`` / ``SAML_IDP_CERT``. Reading the
settings' file or URL is the gate's (:func:`saml_middleware.gate.metadata_refresh.load_idp`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from ..config import Settings
from ..errors import ResponseRejected
from ..pem import load_certificates
from .outgoing import Binding
from .signatures import verify_metadata_signature
from .xml import parse_untrusted, q

__all__ = [
    "NOT_CONFIGURED",
    "IdPInfo",
    "choose",
    "idp_from_metadata",
    "manual_binding",
    "parse_idp_metadata",
]

_BINDINGS: dict[Binding, str] = {
    "redirect": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
    "post": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
}
#: per SAML_AUTHN_REQUEST_BINDING, the bindings tried in order for AuthnRequests and for logout
_SSO_ORDER: dict[str, tuple[Binding, ...]] = {
    "auto": ("redirect", "post"),
    "redirect": ("redirect",),
    "post": ("post",),
}
_SLO_ORDER: dict[str, tuple[Binding, ...]] = {**_SSO_ORDER, "post": ("post", "redirect")}
_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"


@dataclass(frozen=True)
class IdPInfo:
    """What the SP needs to know about its IdP.

    :param entity_id: the IdP's Issuer (Entra: ``https://sts.windows.net/{tenant}/``).
    :param sso_url: where AuthnRequests go, on ``sso_binding``.
    :param certificates: PEM signing certificates; a signature by any of them is accepted.
    :param slo_url: the IdP's single logout service, when it has one, on ``slo_binding``.
    :param sso_binding: ``"redirect"`` or ``"post"`` (``SAML_AUTHN_REQUEST_BINDING``, :func:`choose`).
    :param slo_binding: the same for LogoutRequests and LogoutResponses to ``slo_url``.
    """

    entity_id: str
    sso_url: str
    certificates: tuple[str, ...]
    slo_url: str | None = None
    sso_binding: Binding = "redirect"
    slo_binding: Binding = "redirect"

    @property
    def configured(self) -> bool:
        """``False`` for :data:`NOT_CONFIGURED`, the IdP of a middleware still being set up."""
        return bool(self.entity_id or self.sso_url or self.certificates)


#: No IdP yet (``Settings.idp_configured`` is false): sign-in answers 503 ``sso_not_configured``.
NOT_CONFIGURED = IdPInfo("", "", ())


def _idp_descriptor(root: etree._Element, entity_id: str | None) -> tuple[str, etree._Element]:
    if root.tag == q("md", "EntityDescriptor"):
        entities = [root]
    elif root.tag == q("md", "EntitiesDescriptor"):
        entities = list(root.iter(q("md", "EntityDescriptor")))
    else:
        raise ValueError(f"root element is {root.tag}, expected md:EntityDescriptor")
    candidates = []
    for ent in entities:
        for desc in ent.findall(q("md", "IDPSSODescriptor")):
            if _PROTOCOL in desc.get("protocolSupportEnumeration", "").split():
                candidates.append((ent.get("entityID", ""), desc))
    if entity_id and candidates and entity_id not in (c[0] for c in candidates):
        found = ", ".join(repr(c[0]) for c in candidates[:5])
        raise ValueError(
            f"SAML_IDP_ENTITY_ID is {entity_id!r}, but the metadata's IdP entityID is {found}: "
            "set SAML_IDP_ENTITY_ID to it, or leave it unset to take it from the metadata"
        )
    candidates = [c for c in candidates if not entity_id or c[0] == entity_id]
    if not candidates:
        raise ValueError("no SAML 2.0 IDPSSODescriptor")
    if len(candidates) > 1:
        raise ValueError("several IdPs in the metadata: set SAML_IDP_ENTITY_ID to choose one")
    return candidates[0]


def parse_idp_metadata(xml: bytes, *, entity_id: str | None = None, binding: str = "auto") -> IdPInfo:
    """Read an IdP's SAML metadata.

    Only ``KeyDescriptor`` elements with ``use="signing"`` or no ``use`` count:
    AD FS lists its encryption certificate first, and taking "the first
    certificate" picks the wrong key.

    :param xml: the metadata document (a UTF-8 BOM is accepted).
    :param entity_id: pick this entity from an aggregate (``EntitiesDescriptor``).
    :param binding: ``SAML_AUTHN_REQUEST_BINDING`` (:func:`choose`).
    :raises ValueError: with a message fit for a ConfigError.
    """
    return _idp_info(_metadata_root(xml), entity_id, binding)


def _metadata_root(xml: bytes) -> etree._Element:
    try:
        return parse_untrusted(xml.lstrip(b"\xef\xbb\xbf").strip())
    except ResponseRejected as exc:
        raise ValueError(f"not usable XML metadata: {exc.detail}") from None


def _endpoints(desc: etree._Element, tag: str) -> dict[Binding, str]:
    """The first http(s) Location per binding this package speaks, of the ``tag`` endpoints."""
    found: dict[Binding, str] = {}
    for el in desc.findall(q("md", tag)):
        location = el.get("Location", "")
        for name, uri in _BINDINGS.items():
            if el.get("Binding") == uri and location.startswith(("https://", "http://")):
                found.setdefault(name, location)
    return found


def choose(setting: str, offered: Mapping[Binding, str]) -> tuple[str, Binding]:
    """The AuthnRequest endpoint and binding for ``SAML_AUTHN_REQUEST_BINDING=setting``.

    >>> choose("auto", {"post": "https://accounts.google.com/o/saml2/idp?idpid=C0"})
    ('https://accounts.google.com/o/saml2/idp?idpid=C0', 'post')
    >>> choose("auto", {"redirect": "https://r", "post": "https://p"})
    ('https://r', 'redirect')

    :raises ValueError: when the forced binding (or, with ``auto``, either) is not offered.
    """
    for binding in _SSO_ORDER.get(setting, _SSO_ORDER["auto"]):
        if binding in offered:
            return offered[binding], binding
    if setting == "auto":
        raise ValueError(
            "the IDPSSODescriptor has no HTTP-Redirect or HTTP-POST SingleSignOnService "
            "with an http(s) Location"
        )
    other = "HTTP-POST" if setting == "redirect" else "HTTP-Redirect"
    hint = f" (it offers {other}: set SAML_AUTHN_REQUEST_BINDING=auto)" if offered else ""
    raise ValueError(
        f"SAML_AUTHN_REQUEST_BINDING={setting}, but the IDPSSODescriptor has no "
        f"{'HTTP-Redirect' if setting == 'redirect' else 'HTTP-POST'} SingleSignOnService{hint}"
    )


def _slo(setting: str, offered: Mapping[Binding, str]) -> tuple[str | None, Binding]:
    """Logout: HTTP-Redirect when offered, else HTTP-POST (POST first with ``post``); none with
    ``redirect`` and no Redirect endpoint (sign-out then ends the local session only)."""
    for binding in _SLO_ORDER.get(setting, _SSO_ORDER["auto"]):
        if binding in offered:
            return offered[binding], binding
    return None, "redirect"


def _idp_info(root: etree._Element, entity_id: str | None, binding: str) -> IdPInfo:
    ident, desc = _idp_descriptor(root, entity_id)
    certs: list[str] = []
    for kd in desc.findall(q("md", "KeyDescriptor")):
        if kd.get("use") not in (None, "signing"):
            continue
        for el in kd.iter(q("ds", "X509Certificate")):
            certs.extend(load_certificates("".join((el.text or "").split())))
    if not certs:
        raise ValueError("the IDPSSODescriptor has no signing certificate")
    sso, sso_binding = choose(binding, _endpoints(desc, "SingleSignOnService"))
    slo, slo_binding = _slo(binding, _endpoints(desc, "SingleLogoutService"))
    return IdPInfo(ident, sso, tuple(dict.fromkeys(certs)), slo, sso_binding, slo_binding)


def manual_binding(settings: Settings) -> Binding:
    """The binding to a login or logout URL given by hand (no metadata says what it takes):
    HTTP-POST with ``SAML_AUTHN_REQUEST_BINDING=post``, else HTTP-Redirect."""
    return "post" if settings.authn_request_binding == "post" else "redirect"


def idp_from_metadata(settings: Settings, xml: bytes) -> IdPInfo:
    """The IdP from a metadata document, its signature checked against
    ``SAML_IDP_METADATA_CERT`` when set, and the manual settings applied.

    :raises ValueError: with a message fit for a ConfigError or a warning.
    """
    root = _metadata_root(xml)  # parsed once: the IdP is read from the tree whose signature was checked
    if settings.idp_metadata_cert:
        verify_metadata_signature(root, settings.idp_metadata_cert, allow_sha1=settings.allow_sha1)
    info = _idp_info(root, settings.idp_entity_id or None, settings.authn_request_binding)
    return IdPInfo(
        entity_id=info.entity_id,
        sso_url=settings.idp_sso_url or info.sso_url,
        certificates=tuple(dict.fromkeys(info.certificates + settings.idp_cert)),
        slo_url=settings.idp_slo_url or info.slo_url,
        sso_binding=info.sso_binding,
        slo_binding=manual_binding(settings) if settings.idp_slo_url else info.slo_binding,
    )
