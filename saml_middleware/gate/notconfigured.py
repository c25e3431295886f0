"""The "not configured yet" state: ``SAML_BASE_URL`` and ``SAML_SECRET_KEY`` set, no IdP.

Every Entra guide starts by giving Entra the SP's values (or its metadata) and only
then pastes the IdP's values into the app, so the app must run before the IdP is
known. In that state the gate serves ``{prefix}/metadata``, ``{prefix}/health`` and a
public ``{prefix}/setup`` page with the values to paste into the IdP and what is
still missing; a protected page, the login and the ACS answer 503
``sso_not_configured`` ("Sign-in is being set up"), never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from ..config import Settings
from ..http import HTTPRequest, HTTPResponse
from ..pages import page
from ..protocol.logout import sls_url

__all__ = ["idp_todo", "not_configured", "paste_values", "setup_page", "unconfigured_routes"]

#: Seconds a client is told to wait before retrying while sign-in is being set up.
RETRY_AFTER = "300"


def paste_values(settings: Settings) -> list[tuple[str, str]]:
    """``(Entra field, value)`` for the IdP's Basic SAML Configuration."""
    base = settings.base_url
    return [
        ("Identifier (Entity ID)", settings.sp_entity_id),
        ("Reply URL (ACS URL)", settings.acs_url),
        ("Sign on URL", base + "/"),
        ("Logout URL", sls_url(settings)),
        ("SP metadata", base + settings.metadata_path),
    ]


def idp_todo(settings: Settings) -> list[str]:
    """What is still missing before anyone can sign in (empty once an IdP is configured)."""
    if settings.idp_configured:
        return []
    return [
        "set SAML_IDP_METADATA_URL (Entra: App Federation Metadata Url, with its ?appid=), "
        "or SAML_IDP_METADATA_FILE (Entra: Federation Metadata XML), "
        "or SAML_IDP_SSO_URL + SAML_IDP_ENTITY_ID + SAML_IDP_CERT "
        "(Entra: Login URL, Microsoft Entra Identifier, Certificate (Base64))",
        "restart the app, then run saml-middleware check again",
    ]


def not_configured(request: HTTPRequest) -> HTTPResponse:
    """503 "Sign-in is being set up": an HTML page for browsers, JSON otherwise."""
    headers = {"retry-after": RETRY_AFTER}
    if "text/html" in request.headers.get("accept", ""):
        body = page(
            "Sign-in is being set up",
            "Single sign-on for this application is not configured yet. Please try again later.",
            "Administrators: run saml-middleware check to see what is missing.",
        )
        response = HTTPResponse.html(503, body)
        response.headers.extend(headers.items())
        return response
    return HTTPResponse.json(503, {"error": "sso_not_configured"}, headers)


def setup_page(settings: Settings, request: HTTPRequest) -> HTTPResponse:
    """``GET {prefix}/setup`` before an IdP exists: nobody can sign in yet, so the page is
    public. It shows only what ``{prefix}/metadata`` already publishes (the SP's own URLs)
    and the names of the missing settings; never a setting's value."""
    if request.method not in ("GET", "HEAD"):
        return HTTPResponse.html(405, page("Method not allowed", "Use GET."))
    rows = "".join(
        f"<tr><th>{escape(label)}</th><td><code>{escape(value)}</code></td></tr>"
        for label, value in paste_values(settings)
    )
    todo = "".join(f"<li>{escape(item)}</li>" for item in idp_todo(settings))
    extra = (
        f"<h2>Give these to the identity provider</h2><table>{rows}</table>"
        f'<p><a href="{escape(settings.metadata_path)}" download="sp-metadata.xml">'
        "Download the SP metadata (XML)</a></p>"
        f"<h2>Still to do</h2><ol>{todo}</ol>"
        "<p>Once the IdP is configured this page is for SAML_ADMIN_EMAILS only (sign-in first).</p>"
    )
    body = page("SAML setup: no identity provider yet", extra_html=extra)
    return HTTPResponse.html(200, body)


def unconfigured_routes(settings: Settings) -> dict[str, Callable[[HTTPRequest], HTTPResponse]]:
    """The endpoints that answer differently while no IdP is configured: the login, the ACS
    and the SLS answer 503; the setup page is public (the gate serves the others as usual)."""
    prefix = settings.path_prefix
    routes: dict[str, Callable[[HTTPRequest], HTTPResponse]] = dict.fromkeys(
        (settings.acs_path, prefix + "/login", prefix + "/sls"), not_configured
    )
    routes[prefix + "/setup"] = lambda request: setup_page(settings, request)
    return routes
