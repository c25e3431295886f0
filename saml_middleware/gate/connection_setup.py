"""A connection's self-service setup page, ``{PREFIX}/c/{id}/setup``, for the customer's IT admin.

Opened from a setup link (:mod:`saml_middleware.connections.setuplink`):

=============================  ======  =================================================
``setup?token=...``            GET     checks the link, sets the admin cookie, 303 to ``setup``
``setup``                      GET     the page (values for Entra, the IdP, claims, test, switch)
``setup/sp-metadata.xml``      GET     the SP metadata file to upload to Entra
``setup/idp``                  POST    saves the IdP (metadata URL, metadata XML, or by hand)
``setup/test?csrf=...``        GET     "Test sign-in": 302 to the IdP (``setup_test.py``)
``setup/enable``               POST    switches the connection's SSO on (or off)
=============================  ======  =================================================

A missing, tampered, expired or other connection's link or cookie gets 403, a form without
its CSRF token 403, a body over the upload cap 413: never a 500. Every change is audited
(event ``setup``: the connection, what changed, never a secret). The page reads and writes
only the connection its link names.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

from ..config import Settings
from ..connections import Connection, ConnectionRegistry, settings_for
from ..connections.safefetch import fetch_public_metadata
from ..connections.setuplink import SetupLinkRefused, check_setup_token
from ..errors import ConfigError
from ..http import HTTPRequest, HTTPResponse
from ..masking import redact
from ..ops.audit import AuditEvent, emit
from ..protocol.metadata import IdPInfo
from ..protocol.sp import sp_metadata_xml
from ..stores import MemoryReplayCache, ReplayCache
from .acs import Resolver
from .connection_setup_page import SetupView, render_setup_page, secure_html, setup_error_page
from .metadata_refresh import load_idp
from .setup_cookies import ADMIN_AGE, AdminSession, SetupCookies
from .setup_idp import FORM_CAP, SetupInputError, describe_idp, idp_candidate, read_setup_form
from .setup_test import SetupTest

__all__ = ["ConnectionSetup"]

logger = logging.getLogger("saml_middleware")
_NOTICES = {
    "idp": "Identity provider saved. Next: Test sign-in (step 6).",
    "on": "Single sign-on is now on.",
    "off": "Single sign-on is now off.",
}


class ConnectionSetup:
    """Serves every connection's setup page and judges its test sign-ins.

    :param settings: the deployment's settings (``SAML_SECRET_KEY``, ``SAML_BASE_URL``,
        ``SAML_SETUP_LINK_TTL``, ``SAML_SETUP_ALLOW_PRIVATE_METADATA``).
    :param registry: where connections are read and saved.
    :param clock: epoch seconds; ``token``: randomness (``token(n)``: n url-safe random bytes).
    :param replay: the replay cache test sign-ins consume their assertion and request in
        (the gate's, so a tested response cannot be replayed at the ACS).
    :param audit: where ``setup`` audit events go (default: the audit log).
    :param fetch: fetches a metadata URL; default SSRF-safe (https, public addresses only).

    >>> from saml_middleware.connections import Connection, MemoryRegistry
    >>> settings = Settings(base_url="https://app.example.com", secret_key=("k" * 32,))
    >>> setup = ConnectionSetup(settings, MemoryRegistry([Connection("acme", domains=("acme.com",))]))
    >>> setup.handles("/saml/c/acme/setup"), setup.handles("/saml/c/acme/acs")
    (True, False)
    """

    #: the largest request body a setup endpoint reads (adapters ask :meth:`max_body_for`)
    max_body = FORM_CAP

    def __init__(
        self,
        settings: Settings,
        registry: ConnectionRegistry,
        *,
        clock: Callable[[], float] = time.time,
        token: Callable[[int], str] = secrets.token_urlsafe,
        replay: ReplayCache | None = None,
        audit: Callable[[AuditEvent], None] = emit,
        fetch: Callable[[str], bytes] | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.clock = clock
        self.token = token
        self.emit = audit
        self.fetch = fetch or functools.partial(
            fetch_public_metadata, allow_private=settings.setup_allow_private_metadata
        )
        self.cookies = SetupCookies(settings)
        self._prefix = settings.path_prefix + "/c/"
        self._origin = "{0.scheme}://{0.netloc}".format(urlsplit(settings.base_url))
        self.test = SetupTest(
            settings,
            registry,
            self.cookies,
            replay=replay if replay is not None else MemoryReplayCache(clock=clock),
            fetch=self.fetch,
            audit=self.audit,
            clock=clock,
            token=token,
        )

    # -- routing --------------------------------------------------------------
    def _split(self, path: str) -> tuple[str, str] | None:
        """``("acme", "idp")`` for ``{PREFIX}/c/acme/setup/idp``; ``("acme", "")`` for the page."""
        if not path.startswith(self._prefix):
            return None
        connection_id, _, rest = path[len(self._prefix) :].partition("/")
        if not connection_id or not (rest == "setup" or rest.startswith("setup/")):
            return None
        return connection_id, rest[len("setup/") :] if rest != "setup" else ""

    def handles(self, path: str) -> bool:
        """Is ``path`` a setup page path (``{PREFIX}/c/{id}/setup`` and below)?"""
        return self._split(path) is not None

    def max_body_for(self, path: str) -> int | None:
        """The body cap of ``path`` when it takes uploads (``setup/idp``), else ``None`` (the gate's)."""
        split = self._split(path)
        return self.max_body if split is not None and split[1] == "idp" else None

    def consume_test(self, request: HTTPRequest, resolve: Resolver | None = None) -> HTTPResponse | None:
        """For ``POST {PREFIX}/c/{id}/acs``: the result page of this browser's test sign-in, or
        ``None`` (not a test: the ACS goes on as usual). Asked before the ACS."""
        return self.test.consume(request)

    def __call__(self, request: HTTPRequest, resolve: Resolver | None = None) -> HTTPResponse:
        split = self._split(request.path)
        if split is None:
            return setup_error_page(404, "There is nothing here.")
        connection_id, action = split
        now = self.clock()
        query = parse_qs(request.query, keep_blank_values=True)
        if action == "" and request.method in ("GET", "HEAD") and "token" in query:
            return self._open_link(connection_id, query["token"][0], now, request)
        session = self.cookies.admin(request, connection_id, now)
        if session is None:
            return setup_error_page(
                403, "Open the setup link you were given (it may have expired: ask for a new one)."
            )
        connection = self.registry.get(connection_id)
        if connection is None:
            return setup_error_page(404, "This connection no longer exists.")
        method = "GET" if request.method == "HEAD" else request.method
        routes: dict[tuple[str, str], Callable[[], HTTPResponse]] = {
            ("GET", ""): lambda: self._page(connection, session, notice=query.get("done", [""])[0]),
            ("GET", "sp-metadata.xml"): lambda: self._sp_metadata(connection),
            ("GET", "test"): lambda: self._test(request, connection, session, query),
            ("POST", "idp"): lambda: self._save_idp(request, connection, session),
            ("POST", "enable"): lambda: self._enable(request, connection, session),
        }
        handler = routes.get((method, action))
        if handler is None:
            allowed = [m for m, a in routes if a == action]
            if allowed:
                response = setup_error_page(405, f"Use {allowed[0]}.")
                response.headers.append(("allow", allowed[0]))
                return response
            return setup_error_page(404, "There is nothing here.")
        try:
            return handler()
        except ConfigError as exc:  # a stored record this deployment cannot use (edited elsewhere)
            problems = "; ".join(redact(p) for p in exc.problems)
            logger.warning("SAML setup page: connection %r unusable: %r", connection_id, problems)
            return setup_error_page(
                409,
                f"This connection's stored set-up cannot be used; ask the application's operator: {problems}",
            )

    # -- the link and the page -----------------------------------------------
    def _open_link(self, connection_id: str, token: str, now: float, request: HTTPRequest) -> HTTPResponse:
        try:
            expires = check_setup_token(self.settings, token, connection_id, now=now)
        except SetupLinkRefused as exc:
            logger.warning("SAML setup link refused connection=%r reason=%s", connection_id, exc.reason)
            return setup_error_page(403, exc.message.capitalize() + ".")
        if self.registry.get(connection_id) is None:
            return setup_error_page(404, "This connection no longer exists.")
        session = AdminSession(connection_id, self.token(16), min(int(now) + ADMIN_AGE, expires))
        self.audit(connection_id, "setup link opened", request)
        location = f"{self.settings.path_prefix}/c/{connection_id}/setup"  # the token leaves the URL
        return HTTPResponse.redirect(303, location, self.cookies.admin_cookie(session, now))

    def _view(
        self, connection: Connection, session: AdminSession, *, notice: str = "", error: str = ""
    ) -> SetupView:
        idp: IdPInfo | None = None
        settings = settings_for(self.settings, connection)
        if connection.idp_configured and not connection.idp_metadata_url:  # no fetch to show a page
            try:
                idp = load_idp(settings, fetch=False)
            except ConfigError as exc:
                error = error or "The saved identity provider cannot be used: " + "; ".join(exc.problems)
        return SetupView(settings, connection, idp, self.cookies.csrf_token(session), notice, error)

    def _page(self, connection: Connection, session: AdminSession, *, notice: str = "") -> HTTPResponse:
        view = self._view(connection, session, notice=_NOTICES.get(notice, ""))
        return secure_html(200, render_setup_page(view))

    def _sp_metadata(self, connection: Connection) -> HTTPResponse:
        headers = [
            ("content-type", "application/samlmetadata+xml"),
            ("content-disposition", f'attachment; filename="{connection.id}-sp-metadata.xml"'),
            ("cache-control", "no-store"),
        ]
        return HTTPResponse(200, headers, sp_metadata_xml(settings_for(self.settings, connection)))

    # -- changes ----------------------------------------------------------------
    def _checked_form(self, request: HTTPRequest, session: AdminSession) -> dict[str, str]:
        """The form of a POST that comes from this site and carries the admin's CSRF token."""
        origin = request.headers.get("origin")
        if origin is not None and origin != self._origin:
            raise SetupInputError("this form was posted from another site", 403)
        form = read_setup_form(request, self.max_body_for(request.path) or self.settings.max_body)
        if not self.cookies.csrf_ok(session, form.get("csrf")):
            raise SetupInputError(
                "this form is out of date or was not sent from the setup page: reload it", 403
            )
        return form

    def _refused(self, connection: Connection, session: AdminSession, exc: SetupInputError) -> HTTPResponse:
        if exc.status in (403, 413, 415):
            return setup_error_page(exc.status, exc.message)
        return secure_html(exc.status, render_setup_page(self._view(connection, session, error=exc.message)))

    def _done(self, connection: Connection, what: str) -> HTTPResponse:
        location = f"{self.settings.path_prefix}/c/{connection.id}/setup?done={what}"
        return HTTPResponse.redirect(303, location)

    def _save_idp(self, request: HTTPRequest, connection: Connection, session: AdminSession) -> HTTPResponse:
        try:
            form = self._checked_form(request, session)
            candidate, idp = idp_candidate(self.settings, connection, form, fetch=self.fetch)
            self._put(candidate)
        except SetupInputError as exc:
            return self._refused(connection, session, exc)
        self.audit(connection.id, describe_idp(candidate, idp), request)
        return self._done(connection, "idp")

    def _enable(self, request: HTTPRequest, connection: Connection, session: AdminSession) -> HTTPResponse:
        try:
            form = self._checked_form(request, session)
            on = form.get("enabled") == "true"
            if on and not connection.idp_configured:
                raise SetupInputError("save the identity provider before enabling single sign-on")
            self._put(replace(connection, enabled=on))
        except SetupInputError as exc:
            return self._refused(connection, session, exc)
        self.audit(connection.id, "sso enabled" if on else "sso disabled", request)
        return self._done(connection, "on" if on else "off")

    def _test(
        self, request: HTTPRequest, connection: Connection, session: AdminSession, query: dict[str, list[str]]
    ) -> HTTPResponse:
        if not self.cookies.csrf_ok(session, query.get("csrf", [""])[0]):
            return setup_error_page(403, "Start the test from the setup page (reload it).")
        return self.test.start(request, connection)

    def _put(self, connection: Connection) -> None:
        try:
            self.registry.put(connection)
        except ConfigError as exc:  # DomainTaken, ReadOnlyRegistry
            raise SetupInputError("; ".join(exc.problems), 409) from None

    def audit(self, connection_id: str, change: str, request: HTTPRequest) -> None:
        """One ``setup`` audit record: who (the link's connection), what changed, from where."""
        self.emit(
            AuditEvent(
                "setup",
                self.clock(),
                client=request.client,
                user_agent=request.headers.get("user-agent"),
                connection=connection_id,
                change=change,
            )
        )
