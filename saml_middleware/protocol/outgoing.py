"""Messages the SP sends to the IdP, put on the binding the IdP takes (SAML 2.0 Bindings 3.4, 3.5).

* HTTP-Redirect: the message deflated into the query string, the query signed
  (:func:`~saml_middleware.protocol.bindings.redirect_url`); the browser gets a redirect.
* HTTP-POST: the message base64-encoded (never deflated) into a form field, signed
  inside the XML (:class:`~saml_middleware.protocol.xmlsign.EnvelopedSigner`); the
  browser gets a page that posts the form (``gate/postform.py``: this layer does no HTTP).

Which binding an IdP gets is decided once, when its metadata is read
(``metadata.py``, ``SAML_AUTHN_REQUEST_BINDING``).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from .bindings import Signer, redirect_url

__all__ = ["Binding", "LoginRequest", "XmlSigner", "encode"]

#: How a message travels to the IdP.
Binding = Literal["redirect", "post"]
#: Returns the XML message with an enveloped signature inside.
XmlSigner = Callable[[bytes], bytes]


@dataclass(frozen=True)
class LoginRequest:
    """A request ready to send, and its ID (the ID the answer must name in ``InResponseTo``).

    :ivar url: HTTP-Redirect: the IdP URL with the message in its query, to redirect to.
        HTTP-POST: the IdP endpoint, the form's ``action``.
    :ivar form: ``None`` on HTTP-Redirect; on HTTP-POST the fields to post
        (``SAMLRequest`` or ``SAMLResponse``, and ``RelayState`` when there is one).
    """

    url: str
    request_id: str
    form: Mapping[str, str] | None = None


def encode(
    binding: Binding,
    location: str,
    param: str,
    xml: bytes,
    relay_state: str | None,
    request_id: str,
    *,
    sign_query: Signer | None,
    sign_xml: XmlSigner | None,
) -> LoginRequest:
    """``xml`` as ``param`` (``SAMLRequest`` / ``SAMLResponse``) to ``location`` on ``binding``.

    :param sign_query: signs the query on HTTP-Redirect; ``None`` sends it unsigned.
    :param sign_xml: signs the message itself on HTTP-POST; ``None`` sends it unsigned.
    """
    if binding == "redirect":
        return LoginRequest(redirect_url(location, param, xml, relay_state, sign=sign_query), request_id)
    signed = sign_xml(xml) if sign_xml is not None else xml
    form = {param: base64.b64encode(signed).decode("ascii")}
    if relay_state:
        form["RelayState"] = relay_state
    return LoginRequest(location, request_id, form)
