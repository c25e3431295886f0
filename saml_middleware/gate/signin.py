"""``{PREFIX}/login`` with connections: "Sign in with your work e-mail".

The e-mail's domain picks the connection (``SAML_CONNECTION_ROUTING`` includes ``domain``);
the browser goes to that connection's IdP with the e-mail as ``login_hint``.
``GET {PREFIX}/login?email=alice@acme.com&next=/x`` skips the page. The form is a ``GET``
(a ``POST`` is answered with a 303 to the same ``GET``): it only ever redirects, so it needs
no CSRF token. The e-mail last used is remembered in a cookie and pre-filled next time.

Unknown domain, not an e-mail, or a disabled connection: the page again with a clear
message (400, 403), never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from urllib.parse import parse_qs, quote, unquote, urlencode

from ..config import Settings
from ..connections import Connection
from ..http import FormError, HTTPRequest, HTTPResponse, form_text, query_fields
from ..pages import page
from ..paths import safe_return_path
from ..sessions.cookies import cookie_header

__all__ = ["LAST_EMAIL_COOKIE", "SignInPage"]

#: the e-mail last used on the sign-in page, pre-filled next time (not a secret: the user's own)
LAST_EMAIL_COOKIE = "saml_last_email"
_YEAR = 365 * 86400
_MAX_EMAIL = 320

#: starts a login at a connection's IdP: ``(connection, request, next_path, login_hint)``
StartLogin = Callable[[Connection, HTTPRequest, str, str], HTTPResponse]


class SignInPage:
    """Serves ``{PREFIX}/login`` when the host names no connection.

    :param settings: the deployment's settings (paths, ``SAML_DEFAULT_REDIRECT``, https).
    :param by_email: the connection owning an e-mail's domain, or ``None``.
    :param start: starts the login at a connection's IdP.
    :param by_domain: ``False`` when ``SAML_CONNECTION_ROUTING`` leaves out ``domain``: the page
        then only says to use the organisation's own sign-in link.
    """

    def __init__(
        self,
        settings: Settings,
        by_email: Callable[[str], Connection | None],
        start: StartLogin,
        *,
        by_domain: bool = True,
    ) -> None:
        self.settings = settings
        self.by_email = by_email
        self.start = start
        self.by_domain = by_domain
        self.path = settings.login_path

    def __call__(self, request: HTTPRequest, resolve: object = None) -> HTTPResponse:
        if request.method == "POST":
            return self._post(request)
        if request.method not in ("GET", "HEAD"):
            return HTTPResponse.html(405, page("Method not allowed", "Use GET."))
        query = parse_qs(request.query)
        nxt = safe_return_path(query.get("next", [""])[0]) or self.settings.default_redirect
        if not self.by_domain:
            text = "Use the sign-in link your organisation gave you."
            return HTTPResponse.html(404, page("Sign in", text))
        email = query.get("email", [""])[0].strip()
        if not email:
            return self._form(200, nxt, self._remembered(request))
        if len(email) > _MAX_EMAIL or "@" not in email:
            return self._form(400, nxt, email, "That is not an e-mail address.")
        connection = self.by_email(email)
        if connection is None:
            domain = email.rpartition("@")[2]
            why = (
                f"No organisation signs in with {domain} addresses here. "
                "Check the address, or ask your administrator."
            )
            return self._form(400, nxt, email, why)
        if not connection.enabled:
            why = f"Single sign-on for {connection.name} is turned off. Ask your administrator."
            return self._form(403, nxt, email, why)
        response = self.start(connection, request, nxt, email)
        if response.status in (302, 303):
            response.headers.append(("set-cookie", self._remember(email)))
        return response

    def _post(self, request: HTTPRequest) -> HTTPResponse:
        try:
            form = query_fields(
                form_text(request.headers.get("content-type", ""), request.body), max_fields=5
            )
        except FormError:
            return self._form(400, self.settings.default_redirect, "", "Send the form from the sign-in page.")
        values = {k: v[0] for k, v in form.items() if k in ("email", "next") and v}
        return HTTPResponse.redirect(303, f"{self.path}?{urlencode(values)}")

    def _remembered(self, request: HTTPRequest) -> str:
        value = unquote(request.cookies.get(LAST_EMAIL_COOKIE, ""))
        return value if len(value) <= _MAX_EMAIL and "@" in value else ""

    def _remember(self, email: str) -> str:
        return cookie_header(
            LAST_EMAIL_COOKIE,
            quote(email, safe="@.+-_"),
            path=self.path,
            max_age=_YEAR,
            secure=self.settings.https,
        )

    def _form(self, status: int, nxt: str, email: str, problem: str = "") -> HTTPResponse:
        message = f"<p role=alert class=problem><strong>{escape(problem)}</strong></p>" if problem else ""
        form = (
            f'{message}<form method="get" action="{escape(self.path)}">'
            "<label for=email>Work e-mail</label><br>"
            "<input id=email name=email type=email autocomplete=email required autofocus"
            f' value="{escape(email)}">'
            f'<input type=hidden name=next value="{escape(nxt)}"> '
            "<button type=submit>Continue</button></form>"
        )
        body = page(
            "Sign in with your work e-mail",
            "We will send you to your organisation's sign-in.",
            extra_html=form,
        )
        return HTTPResponse.html(status, body)
