"""The dev IdP's web endpoints: metadata, sign-in, IdP-initiated launch, logout."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from html import escape
from typing import Protocol
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..http import FORM, FormError, form_text, media_type, query_fields
from .authnrequest import AuthnRequestInfo, decode_saml_message, parse_authn_request
from .pages import auto_post_page, message_page, page, user_button_forms
from .requestsig import verify_post_signature, verify_redirect_signature
from .responses import PROTOCOL_NS
from .users import DevUser

__all__ = ["ServedIdP", "build_app"]

_MAX_FORM_BYTES = 1024 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

Endpoint = Callable[[Request], Awaitable[Response]]


class ServedIdP(Protocol):
    """What the endpoints need of :class:`~saml_middleware.devidp.DevIdP` (no import back to it)."""

    sp_acs_url: str | None
    sp_entity_id: str | None
    sp_sls_url: str | None
    sp_cert_pem: str | None

    @property
    def base_url(self) -> str: ...
    @property
    def path_prefix(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def entity_id(self) -> str: ...
    @property
    def sso_url(self) -> str: ...
    @property
    def slo_url(self) -> str: ...
    @property
    def metadata_url(self) -> str: ...
    @property
    def users(self) -> tuple[DevUser, ...]: ...
    def get_user(self, email: str) -> DevUser: ...
    def metadata_xml(self) -> bytes: ...
    def issue_response(
        self, user: DevUser | str, *, acs_url: str, audience: str, in_response_to: str | None = None
    ) -> bytes: ...
    def logout_request_url(
        self, email: str, session_index: str | None = None, *, lowercase: bool = False
    ) -> str: ...
    def logout_response_url(self, saml_request: str, relay_state: str | None = None) -> str: ...


def _html(content: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status_code, headers=_NO_STORE)


def _error(status_code: int, message: str) -> HTMLResponse:
    return _html(message_page("Sorry, something went wrong", message), status_code)


def _post_response(acs_url: str, xml: bytes, relay_state: str | None) -> HTMLResponse:
    """The page that POSTs ``xml`` (and ``relay_state``, when given) to ``acs_url`` by itself."""
    post = {"SAMLResponse": base64.b64encode(xml).decode("ascii")}
    if relay_state:
        post["RelayState"] = relay_state
    return _html(auto_post_page(acs_url, post))


async def _form(request: Request) -> dict[str, str]:
    """URL-encoded form fields (first value of each), without python-multipart."""
    content_type = request.headers.get("content-type", "")
    if media_type(content_type) != FORM:
        raise ValueError(f"expected an {FORM} form")
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise ValueError("the form is too large")
    try:
        parsed = query_fields(form_text(content_type, body), max_fields=50, keep_blank=True)
    except FormError:
        raise ValueError("the form does not parse") from None
    return {name: values[0] for name, values in parsed.items()}


def build_app(idp: ServedIdP) -> Starlette:
    """A Starlette application serving ``idp``; routes are relative to ``idp.base_url``."""
    prefix = f"{idp.path_prefix}/{idp.tenant_id}"

    def for_tenant(endpoint: Endpoint) -> Endpoint:
        async def checked(request: Request) -> Response:
            if request.path_params["tenant"] != idp.tenant_id:
                return _error(404, f"Unknown tenant; this dev IdP serves {idp.tenant_id}.")
            return await endpoint(request)

        return checked

    def acs_url_for(info: AuthnRequestInfo) -> str | Response:
        """Where the response goes: the request's ACS URL, else ``sp_acs_url``; else a 400 page."""
        acs_url = info.acs_url or idp.sp_acs_url
        if acs_url:
            return acs_url
        return _error(
            400,
            "No ACS URL: the AuthnRequest names no AssertionConsumerServiceURL "
            "and the dev IdP has no sp_acs_url configured.",
        )

    async def metadata(request: Request) -> Response:
        return Response(idp.metadata_xml(), media_type="application/xml")

    async def sso(request: Request) -> Response:
        if request.method == "POST":
            try:
                fields = await _form(request)
            except ValueError as exc:
                return _error(400, f"Bad request: {exc}.")
        else:
            fields = dict(request.query_params)
        saml_request = fields.get("SAMLRequest", "")
        relay_state = fields.get("RelayState", "")
        if fields.get("SAMLResponse") and not saml_request:  # an SP's LogoutResponse
            return _signed_out()
        if not saml_request:
            return _error(400, "The request has no SAMLRequest parameter.")
        try:
            root = decode_saml_message(saml_request)
            if idp.sp_cert_pem is not None and request.method == "POST":
                verify_post_signature(root, idp.sp_cert_pem)
            elif idp.sp_cert_pem is not None:
                verify_redirect_signature(request.url.query, idp.sp_cert_pem)
            if root.tag == f"{{{PROTOCOL_NS}}}LogoutRequest":
                if not idp.sp_sls_url:
                    return _signed_out()
                location = idp.logout_response_url(saml_request, relay_state or None)
                return RedirectResponse(location, status_code=302, headers=_NO_STORE)
            info = parse_authn_request(saml_request)
        except ValueError as exc:
            return _error(400, f"The SAMLRequest is not usable: {exc}.")
        acs_url = acs_url_for(info)
        if isinstance(acs_url, Response):
            return acs_url
        hidden = {"SAMLRequest": saml_request}
        if relay_state:
            hidden["RelayState"] = relay_state
        accounts = [(user.display_name, user.email) for user in idp.users]
        notes = "".join(
            f"<p class=note>{escape(text)}</p>"
            for flag, text in (
                (info.force_authn, "The app asked for a fresh sign-in (ForceAuthn)."),
                (
                    info.has_requested_authn_context,
                    "The app requested an authentication "
                    "context; the dev IdP answers with PasswordProtectedTransport.",
                ),
            )
            if flag
        )
        body = (
            f"<p>Pick an account to sign in to <b>{escape(info.issuer)}</b>.</p>"
            f'<p class="note">Response goes to {escape(acs_url)}</p>{notes}'
            + user_button_forms(f"{prefix}/saml2/login", hidden, accounts)
        )
        return _html(page("Sign in", body))

    async def login(request: Request) -> Response:
        try:
            fields = await _form(request)
            info = parse_authn_request(fields.get("SAMLRequest", ""))
            user = idp.get_user(fields.get("email", ""))
        except ValueError as exc:
            return _error(400, f"Cannot sign in: {exc}.")
        acs_url = acs_url_for(info)
        if isinstance(acs_url, Response):
            return acs_url
        xml = idp.issue_response(user, acs_url=acs_url, audience=info.issuer, in_response_to=info.id)
        return _post_response(acs_url, xml, fields.get("RelayState"))

    async def launch(request: Request) -> Response:
        if not idp.sp_acs_url or not idp.sp_entity_id:
            return _error(
                400,
                "IdP-initiated sign-in needs the dev IdP to be configured with sp_acs_url and sp_entity_id.",
            )
        try:
            user = idp.get_user(request.query_params.get("email", ""))
        except ValueError as exc:
            return _error(400, f"Cannot sign in: {exc}.")
        xml = idp.issue_response(user, acs_url=idp.sp_acs_url, audience=idp.sp_entity_id)
        return _post_response(idp.sp_acs_url, xml, None)

    def _signed_out() -> Response:
        return _html(message_page("You have signed out", "You can close this window."))

    async def logout(request: Request) -> Response:
        """With ``?email=``: an IdP-initiated logout of that user at the SP (``&session_index=`` optional)."""
        email = request.query_params.get("email")
        if not email:
            return _signed_out()
        try:
            location = idp.logout_request_url(email, request.query_params.get("session_index"))
        except ValueError as exc:
            return _error(400, f"Cannot sign out: {exc}.")
        return RedirectResponse(location, status_code=302, headers=_NO_STORE)

    async def my_apps(request: Request) -> Response:
        if idp.sp_acs_url and idp.sp_entity_id:
            target = f"<p>Launch <b>{escape(idp.sp_entity_id)}</b> as:</p>"
        else:
            target = (
                "<p class=note>Configure sp_acs_url and sp_entity_id to enable IdP-initiated launches.</p>"
            )
        links = "".join(
            f'<li><a href="{escape(prefix)}/launch?email={escape(quote(u.email))}">'
            f"{escape(u.display_name)}</a> <span class=mail>{escape(u.email)}</span></li>"
            for u in idp.users
        )
        facts = "".join(
            f"<dt>{escape(label)}</dt><dd class=note>{escape(value)}</dd>"
            for label, value in (
                ("Federation metadata", idp.metadata_url),
                ("Identifier (Entity ID)", idp.entity_id),
                ("Login URL", idp.sso_url),
                ("Logout URL", idp.slo_url),
            )
        )
        return _html(page("My Apps", f"{target}<ul>{links}</ul><dl>{facts}</dl>"))

    routes = [
        Route("/", my_apps, methods=["GET"]),
        Route("/myapps", my_apps, methods=["GET"]),
        Route(
            "/{tenant}/federationmetadata/2007-06/federationmetadata.xml",
            for_tenant(metadata),
            methods=["GET"],
        ),
        Route("/{tenant}/saml2", for_tenant(sso), methods=["GET", "POST"]),
        Route("/{tenant}/saml2/login", for_tenant(login), methods=["POST"]),
        Route("/{tenant}/saml2/logout", for_tenant(logout), methods=["GET", "POST"]),
        Route("/{tenant}/launch", for_tenant(launch), methods=["GET"]),
    ]
    return Starlette(routes=routes)
