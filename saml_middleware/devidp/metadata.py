"""Federation metadata shaped like an Entra ID tenant's FederationMetadata.xml."""

from __future__ import annotations

from typing import Any

from lxml import etree

from .signer import Algorithm, XmlSigner

__all__ = ["UTF8_BOM", "build_metadata"]

#: Entra serves (and the portal downloads) its metadata with a UTF-8 BOM.
UTF8_BOM = b"\xef\xbb\xbf"

_MD_NS = "urn:oasis:names:tc:SAML:2.0:metadata"
_DS_NS = "http://www.w3.org/2000/09/xmldsig#"
_FED_NS = "http://docs.oasis-open.org/wsfed/federation/200706"
_AUTH_NS = "http://docs.oasis-open.org/wsfed/authorization/200706"
_WSA_NS = "http://www.w3.org/2005/08/addressing"
_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_MD, _DS, _FED = f"{{{_MD_NS}}}", f"{{{_DS_NS}}}", f"{{{_FED_NS}}}"
_WSA, _AUTH = f"{{{_WSA_NS}}}", f"{{{_AUTH_NS}}}"
_MD_DEFAULT: dict[Any, str] = {None: _MD_NS}  # typed Any for lxml-stubs
_DS_DEFAULT: dict[Any, str] = {None: _DS_NS}
_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
_WS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"
_MS = "http://schemas.microsoft.com/identity/claims"

#: The claims the dev IdP offers, as listed in Entra's ClaimTypesOffered.
_CLAIMS = (
    (f"{_WS}/name", "Name", "The mutable display name of the user."),
    (f"{_WS}/givenname", "Given Name", "First name of the user."),
    (f"{_WS}/surname", "Surname", "Last name of the user."),
    (f"{_MS}/displayname", "Display Name", "Display name of the user."),
    (f"{_WS}/emailaddress", "Email", "Email address of the user."),
    (f"{_MS}/objectidentifier", "Object Identifier", "Primary identifier for the user."),
    (f"{_MS}/tenantid", "Tenant Identifier", "Identifier for the user's tenant."),
    (f"{_MS}/identityprovider", "Identity Provider", "Identity provider for the user."),
    (
        "http://schemas.microsoft.com/claims/authnmethodsreferences",
        "Authentication Methods References",
        "Used to indicate the authentication methods used to authenticate the subject.",
    ),
    ("http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", "Groups", "Groups."),
)


def _key_descriptor(parent: etree._Element, cert_b64: str) -> None:
    descriptor = etree.SubElement(parent, f"{_MD}KeyDescriptor", use="signing")
    key_info = etree.SubElement(descriptor, f"{_DS}KeyInfo", nsmap=_DS_DEFAULT)
    x509_data = etree.SubElement(key_info, f"{_DS}X509Data")
    etree.SubElement(x509_data, f"{_DS}X509Certificate").text = cert_b64


def _endpoint(parent: etree._Element, tag: str, address: str) -> None:
    holder = etree.SubElement(parent, f"{_FED}{tag}")
    reference = etree.SubElement(holder, f"{_WSA}EndpointReference", nsmap={"wsa": _WSA_NS})
    etree.SubElement(reference, f"{_WSA}Address").text = address


def _role(root: etree._Element, xsi_type: str, cert_b64: str) -> etree._Element:
    role = etree.SubElement(root, f"{_MD}RoleDescriptor", nsmap={"xsi": _XSI_NS, "fed": _FED_NS})
    role.set(f"{{{_XSI_NS}}}type", f"fed:{xsi_type}")
    role.set("protocolSupportEnumeration", _FED_NS)
    _key_descriptor(role, cert_b64)
    return role


def build_metadata(
    *,
    entity_id: str,
    sso_url: str,
    slo_url: str,
    wsfed_url: str,
    document_id: str,
    signer: XmlSigner,
    algorithm: Algorithm = "sha256",
    bindings: str = "both",
) -> bytes:
    """Signed federation metadata: BOM, XML declaration, then the EntityDescriptor.

    The EntityDescriptor's signature is its first child, followed by the
    WS-Federation ``SecurityTokenServiceType`` and ``ApplicationServiceType``
    RoleDescriptors and the SAML ``IDPSSODescriptor``, as in Entra's
    metadata. The WS-Federation endpoints point at ``wsfed_url``, which the
    dev IdP lists for shape only and does not serve.

    :param bindings: the SAML endpoints listed: ``"both"`` (HTTP-Redirect and HTTP-POST, as
        Entra), ``"post"`` (HTTP-POST only, as Google Workspace and OneLogin) or ``"redirect"``.
    """
    cert_b64 = signer.cert_base64
    root = etree.Element(f"{_MD}EntityDescriptor", nsmap=_MD_DEFAULT)
    root.set("ID", document_id)
    root.set("entityID", entity_id)

    sts = _role(root, "SecurityTokenServiceType", cert_b64)
    offered = etree.SubElement(sts, f"{_FED}ClaimTypesOffered")
    for uri, display, description in _CLAIMS:
        claim = etree.SubElement(offered, f"{_AUTH}ClaimType", nsmap={"auth": _AUTH_NS}, Uri=uri)
        etree.SubElement(claim, f"{_AUTH}DisplayName").text = display
        etree.SubElement(claim, f"{_AUTH}Description").text = description
    _endpoint(sts, "SecurityTokenServiceEndpoint", wsfed_url)
    _endpoint(sts, "PassiveRequestorEndpoint", wsfed_url)

    app = _role(root, "ApplicationServiceType", cert_b64)
    _endpoint(app, "TargetScopes", entity_id)
    _endpoint(app, "ApplicationServiceEndpoint", wsfed_url)
    _endpoint(app, "PassiveRequestorEndpoint", wsfed_url)

    idp = etree.SubElement(root, f"{_MD}IDPSSODescriptor")
    idp.set("protocolSupportEnumeration", "urn:oasis:names:tc:SAML:2.0:protocol")
    _key_descriptor(idp, cert_b64)
    listed = {"both": (_REDIRECT, _POST), "post": (_POST,), "redirect": (_REDIRECT,)}[bindings]
    etree.SubElement(idp, f"{_MD}SingleLogoutService", Binding=listed[0], Location=slo_url)
    for binding in listed:
        etree.SubElement(idp, f"{_MD}SingleSignOnService", Binding=binding, Location=sso_url)

    signer.sign(root, algorithm=algorithm)
    declaration = b'<?xml version="1.0" encoding="utf-8"?>'
    return UTF8_BOM + declaration + etree.tostring(root, encoding="utf-8", xml_declaration=False)
