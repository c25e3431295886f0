"""``{PREFIX}/auth``: the verdict a reverse proxy asks for before it forwards a request.

Two modes, told apart by the headers the proxy sends (docs/forward-auth.md):

* **nginx** ``auth_request`` - ``X-Original-URI`` (``$request_uri``), or no original URI at
  all. 202 with the identity headers, or 401 for everybody (nginx sends browsers to the login
  itself, with ``error_page 401``). ``X-Original-URI`` wins whenever it is present, because
  nginx sets it over anything a client sent; a client-sent ``X-Forwarded-Uri`` never switches
  an nginx deployment into the other mode.
* **forward auth** (Traefik ``ForwardAuth``, Caddy ``forward_auth``) - ``X-Forwarded-Uri``
  with ``X-Forwarded-Method``, ``-Proto`` and ``-Host``. 200 with the identity headers (these
  proxies need a 2xx); without a session, a browser (GET/HEAD, ``Accept`` admitting HTML, as
  the proxy forwards the client's) gets 302 to ``{BASE}{PREFIX}/login?next=<original URI>``,
  anything else 401 with a JSON body naming the login URL.

In both modes the original URI goes through :func:`~saml_middleware.paths.canonical_path`
first: a path it refuses gets 403 whoever asks. ``SAML_PUBLIC_PATHS`` never applies here: these
headers only ever refuse (a client reaching ``/auth`` through a misconfigured proxy could send
them), so public routes are the proxy's own. With path rules in force (``decide``:
``AccessGuard.forward``), nginx must send ``X-Original-URI``: without a path to judge, a
signed-in user gets 403 ``forbidden`` (audit rule ``auth_request``), never judged as ``/``.

The return target is a same-origin path only, and only for a host this deployment serves
(``SAML_BASE_URL``'s host, or what the ``hosts`` hook answers, e.g. the connections' hosts):
an ``X-Forwarded-Host`` naming any other host gets 403 ``host_not_served``, never a redirect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote, urlsplit

from ..config import Settings
from ..http import HTTPRequest, HTTPResponse
from ..pages import page
from ..paths import BadPath, canonical_path, safe_return_path
from ..sessions import Session
from .acs import Resolver
from .identity_headers import IdentityHeaders
from .login import login_required
from .upstream_jwt import UpstreamJWT

__all__ = ["Decide", "ForwardAuth", "served_host"]

logger = logging.getLogger("saml_middleware")

#: The access decision on the ORIGINAL request: ``decide(request, method, path, session)`` gives
#: ``None`` to let it pass or the response to send instead (``AccessGuard.forward``).
Decide = Callable[[HTTPRequest, str, str, Session], HTTPResponse | None]
_NO_STORE = ("cache-control", "no-store")


def served_host(netloc: str) -> str:
    """A host as compared against the served ones: lower case, a default port dropped.

    >>> served_host("App.Example.com:443"), served_host("127.0.0.1:8080")
    ('app.example.com', '127.0.0.1:8080')
    """
    host = netloc.strip().lower()
    for default in (":80", ":443"):
        if host.endswith(default):
            return host[: -len(default)]
    return host


class ForwardAuth:
    """``{PREFIX}/auth`` for nginx ``auth_request``, Traefik ``ForwardAuth`` and Caddy ``forward_auth``.

    :param settings: ``base_url``, ``login_path``, ``default_redirect``.
    :param session: the gate's session loader (a ``Cookie`` header and the request's host to
        the session and a refreshed ``Set-Cookie``, or ``None``).
    :param identity: the identity headers sent with a 2xx.
    :param jwt: signs ``X-Remote-Jwt`` (``None`` when ``SAML_JWT=off``).
    :param decide: the access rules (:data:`Decide`); ``None`` lets every signed-in user pass.
    :param hosts: the base URL logins use for a forwarded host (as :func:`served_host` spells
        it), or ``None`` for a host this deployment does not serve. Default: only
        ``SAML_BASE_URL``'s host. With many tenants, the connections' hosts hook in here.
    """

    def __init__(
        self,
        settings: Settings,
        session: Callable[[str | None, str | None], tuple[Session, str | None] | None],
        identity: IdentityHeaders,
        jwt: UpstreamJWT | None = None,
        *,
        decide: Decide | None = None,
        hosts: Callable[[str], str | None] | None = None,
    ) -> None:
        self.settings = settings
        self.session = session
        self.identity = identity
        self.jwt = jwt
        self.decide = decide
        base_host = served_host(urlsplit(settings.base_url).netloc)
        self.hosts = hosts or (lambda host: settings.base_url if host == base_host else None)

    def __call__(self, request: HTTPRequest, resolve: Resolver) -> HTTPResponse:
        headers = request.headers
        original = headers.get("x-original-uri")
        forwarded = original is None and headers.get("x-forwarded-uri") is not None
        uri = original if original is not None else headers.get("x-forwarded-uri") or "/"
        if forwarded:
            method = headers.get("x-forwarded-method", "GET").upper()
        else:
            method = headers.get("x-original-method", request.method).upper()
        try:
            path = canonical_path(uri.split("?", 1)[0])
        except BadPath as exc:
            logger.warning("auth_request refused reason=%s detail=%r", exc.reason, exc.detail)
            return HTTPResponse(403, [_NO_STORE])
        # the host the browser asked for (Traefik/Caddy: X-Forwarded-Host; nginx passes Host on):
        # with connections, a session counts only on its connection's hosts
        host = headers.get("x-forwarded-host", "").split(",")[0].strip() if forwarded else ""
        found = self.session(headers.get("cookie"), host or headers.get("host"))
        if found is None:
            if forwarded:
                return self._challenge(request, method, uri)
            return HTTPResponse(401, [_NO_STORE])
        session, refresh = found
        if self.decide is not None:  # the access rules, on the original method and path
            refused = self.decide(request, method, path, session)
            if refused is not None:
                return refused
        out = [_NO_STORE, *self.identity.for_user(session.user)]
        if self.jwt is not None:
            out.append(self.jwt.header(session.user))
        if refresh:
            out.append(("set-cookie", refresh))
        return HTTPResponse(200 if forwarded else 202, out)

    def _challenge(self, request: HTTPRequest, method: str, uri: str) -> HTTPResponse:
        """Traefik / Caddy without a session: 302 to the login for a browser, else 401 JSON."""
        host = served_host(request.headers.get("x-forwarded-host", "").split(",")[0])
        base = self.hosts(host) if host else self.settings.base_url
        if base is None:
            logger.warning(
                "forward auth refused reason=host_not_served detail=%r (not SAML_BASE_URL's host)", host
            )
            body = page("Not served here", "Sign-in is not set up for this address.")
            return HTTPResponse.html(403, body)
        target = safe_return_path(uri) or self.settings.default_redirect
        login_url = f"{base}{self.settings.login_path}?next={quote(target, safe='/')}"
        return (
            HTTPResponse.redirect(302, login_url) if request.navigating(method) else login_required(login_url)
        )
