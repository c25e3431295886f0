"""Starting a login: the AuthnRequest and its pending-login cookie.

``GET {prefix}/login?next=/path`` and every unauthenticated browser request
(:meth:`~saml_middleware.gate.Gate.challenge`) end here: a 302 to the IdP (HTTP-Redirect
binding; or, for an IdP that takes only HTTP-POST, a page posting the request, :mod:`.postform`)
and a signed, short-lived cookie holding the request ID and the same-origin return path,
named by the RelayState key (:mod:`.pending`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from urllib.parse import parse_qs, urlencode

from ..config import Settings
from ..http import HTTPRequest, HTTPResponse
from ..pages import page
from ..paths import safe_return_path
from ..protocol.sp import ServiceProvider
from ..sessions import Session
from ..sessions.cookies import CookieCodec
from .acs import Resolver
from .metadata_refresh import MetadataRefresher
from .pending import PendingCookies
from .postform import send

__all__ = ["LoginStart", "login_required"]


def login_required(login_url: str, error: str = "authentication_required", **extra: object) -> HTTPResponse:
    """401 for a request that is not a browser navigating: JSON naming the login URL (and
    ``extra``), and ``WWW-Authenticate: SAML login_url="..."``."""
    body = {"error": error, "login_url": login_url, **extra}
    return HTTPResponse.json(401, body, {"www-authenticate": f'SAML login_url="{login_url}"'})


class LoginStart:
    """Sends the browser to the IdP.

    :param settings: the configuration (``SAML_DEFAULT_REDIRECT``).
    :param sp: builds the AuthnRequest.
    :param codec: signs the pending-login cookie.
    :param pending: the pending-login cookies the ACS reads back (shared with it).
    :param token: randomness: ``token(n)`` returns a url-safe string of n bytes.
    """

    def __init__(
        self,
        settings: Settings,
        sp: ServiceProvider,
        codec: CookieCodec,
        pending: PendingCookies,
        token: Callable[[int], str],
    ) -> None:
        self.settings = settings
        self.sp = sp
        self.codec = codec
        self.pending = pending
        self.token = token
        #: set by the gate with ``SAML_IDP_METADATA_URL``: refreshed first when due
        self.refresher: MetadataRefresher | None = None

    def start(
        self,
        request: HTTPRequest,
        next_path: str,
        login_hint: str = "",
        *,
        step_up: int | None = None,
        replaces: Session | None = None,
    ) -> HTTPResponse:
        """302 to the IdP (or the HTTP-POST page); after the ACS, the browser lands on ``next_path``.

        :param login_hint: the e-mail typed on the sign-in page, passed to the IdP as the
            ``login_hint`` query parameter (Entra pre-fills its sign-in with it).
        :param step_up: an access rule's ``max_auth_age``: the AuthnRequest carries
            ``ForceAuthn="true"`` and the ACS refuses (``step_up_failed``) an ``AuthnInstant``
            older than this many seconds, so a step-up never loops.
        :param replaces: with ``step_up``, the session the new one replaces: the ACS ends it
            (server sessions: deleted from the store) once the fresh login succeeds.
        """
        if self.refresher is not None:
            self.refresher.refresh_if_due()
        relay = self.token(18)
        login = self.sp.build_login(relay, force_authn=step_up is not None)
        pending: dict[str, object] = {"r": login.request_id, "n": next_path}
        if step_up is not None:
            pending["m"] = step_up
            if replaces is not None:
                pending["o"] = [replaces.sid, replaces.user.email]
        value = self.codec.dump_login(pending)
        # its own cookie (sent to the ACS only), the oldest pending logins beyond the bound expired
        cookies = self.pending.start(request.headers.get("cookie"), relay, value)
        if login_hint:  # on the endpoint's URL, for either binding (Entra reads it from the query)
            sep = "&" if "?" in login.url else "?"
            login = replace(login, url=login.url + sep + urlencode({"login_hint": login_hint}))
        return send(login, 302, *cookies)

    def __call__(self, request: HTTPRequest, resolve: Resolver) -> HTTPResponse:
        """``GET {prefix}/login?next=/path``."""
        if request.method not in ("GET", "HEAD"):
            return HTTPResponse.html(405, page("Method not allowed", "Use GET."))
        nxt = parse_qs(request.query).get("next", [""])[0]
        return self.start(request, safe_return_path(nxt) or self.settings.default_redirect)
