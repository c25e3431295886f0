"""``{prefix}/logout``: ending the local session, safely against cross-site requests.

* ``POST`` from this site's pages ends the session, then goes on to the IdP's
  single logout when it has one (``logout.SingleLogout.start``).
* ``POST`` from another site (``Origin`` or ``Sec-Fetch-Site`` says so) is refused
  with 403 and the session kept: a hostile page cannot sign users out.
* ``GET`` with the session's logout token (the link the app shows, from
  ``scope["saml.logout_url"]`` / ``environ["saml.logout_url"]``) ends it too;
  ``GET`` without it (an ``<img src>`` elsewhere) only shows a confirmation form.
"""

from __future__ import annotations

import secrets
from html import escape
from urllib.parse import parse_qs, urlsplit

from ..config import Settings
from ..http import HTTPRequest, HTTPResponse
from ..ops.operations import Operations
from ..pages import page
from ..sessions import Session, SessionManager
from .logout import SingleLogout

__all__ = ["SignOut"]


class SignOut:
    """The local logout endpoint.

    :param settings: base URL (the only origin trusted to POST) and paths.
    :param sessions: reads and ends the session in the request's cookies.
    :param slo: continues to the IdP's single logout after the local session ended.
    :param events: records each logout in the audit log and metrics.
    """

    def __init__(
        self,
        settings: Settings,
        sessions: SessionManager,
        slo: SingleLogout,
        events: Operations,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.slo = slo
        self.events = events
        parts = urlsplit(settings.base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"

    def __call__(self, request: HTTPRequest, resolve: object = None) -> HTTPResponse:
        found = self.sessions.load_header(request.headers.get("cookie"))
        session = found[0] if found is not None else None
        if request.method == "POST":
            return self._post(request, session)
        if request.method not in ("GET", "HEAD"):
            return HTTPResponse.html(405, page("Method not allowed", "Use GET or POST."))
        if session is None:
            return HTTPResponse.html(200, self.slo.signed_out, self.sessions.clear_header())
        token = parse_qs(request.query).get("token", [""])[0]
        # bytes: compare_digest refuses str with non-ASCII characters (``?token=%C3%A9``)
        if secrets.compare_digest(token.encode(), session.logout_token.encode()):
            self._end(request, session)
            clear = self.sessions.clear_header()
            started = self.slo.start(session, clear, header=request.headers.get("cookie"))
            return started or HTTPResponse.html(200, self.slo.signed_out, clear)
        form = (
            f'<form method="post" action="{escape(self.settings.logout_path)}">'
            "<button type=submit>Sign out</button></form>"
        )
        return HTTPResponse.html(
            200, page("Sign out?", f"Signed in as {session.user.email}.", extra_html=form)
        )

    def _post(self, request: HTTPRequest, session: Session | None) -> HTTPResponse:
        origin = request.headers.get("origin")
        cross_site = request.headers.get("sec-fetch-site") == "cross-site"
        if cross_site or origin not in (None, "null", self._origin):
            return HTTPResponse.html(403, page("Not signed out", "Sign out from this application's pages."))
        clear = self.sessions.clear_header()
        if session is None:
            return HTTPResponse.redirect(303, self.settings.logout_path, clear)
        self._end(request, session)
        started = self.slo.start(session, clear, header=request.headers.get("cookie"))
        return started or HTTPResponse.redirect(303, self.settings.logout_path, clear)

    def _end(self, request: HTTPRequest, session: Session) -> None:
        self.sessions.end(session)
        self.events.event("logout", request, email=session.user.email)
