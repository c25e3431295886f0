""" "Test sign-in": a real login through a connection's new set-up that signs nobody in.

:meth:`SetupTest.start` sends the admin to the connection's IdP with an AuthnRequest built
from the connection's own Settings, and marks the login with the signed test cookie
(connection + request ID + RelayState key, ``setup_cookies.py``). When the IdP posts to
``{PREFIX}/c/{id}/acs``, :meth:`SetupTest.consume` (asked before the ACS) takes only the
response whose RelayState the test cookie names, runs exactly the ACS's checks on it
(:func:`~saml_middleware.gate.acs.read_acs_form`, then
:meth:`~saml_middleware.protocol.sp.ServiceProvider.process_response` against that
connection's IdP, the request ID consumed once) and shows the identity and claims
received, or the reason code and detail of the refusal (as ``saml-middleware verify``).
No session is created, no user directory is asked, and the connection's switch is not
touched: it works while the connection is disabled and changes nothing for anyone else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..config import Settings
from ..connections import Connection, ConnectionRegistry, settings_for
from ..errors import REASONS, ConfigError, ResponseRejected
from ..http import HTTPRequest, HTTPResponse
from ..protocol.sp import ServiceProvider
from ..stores import ReplayCache
from .acs import LOGIN_COOKIE_AGE, read_acs_form
from .connection_setup_page import render_test_result, secure_html, setup_error_page
from .metadata_refresh import load_idp
from .setup_cookies import PendingTest, SetupCookies

__all__ = ["SetupTest"]

logger = logging.getLogger("saml_middleware")


class SetupTest:
    """Starts and judges test sign-ins.

    :param base: the deployment's settings.
    :param registry: where the connections are read.
    :param cookies: the setup cookies (the test cookie).
    :param replay: the replay cache (the assertion and the request ID are consumed, as at the ACS).
    :param fetch: fetches a connection's metadata URL (SSRF-safe).
    :param audit: ``audit(connection_id, change, request)``: one audit record.
    :param clock: epoch seconds.
    :param token: randomness.
    """

    def __init__(
        self,
        base: Settings,
        registry: ConnectionRegistry,
        cookies: SetupCookies,
        *,
        replay: ReplayCache,
        fetch: Callable[[str], bytes],
        audit: Callable[[str, str, HTTPRequest], None],
        clock: Callable[[], float],
        token: Callable[[int], str],
    ) -> None:
        self.base = base
        self.registry = registry
        self.cookies = cookies
        self.replay = replay
        self.fetch = fetch
        self.audit = audit
        self.clock = clock
        self.token = token
        self._acs_prefix = base.path_prefix + "/c/"

    def _service_provider(self, connection: Connection) -> ServiceProvider:
        settings = settings_for(self.base, connection)
        idp = load_idp(settings, fetcher=self.fetch)
        return ServiceProvider(
            settings, idp, self.replay, clock=self.clock, random_id=lambda: "_" + self.token(16)
        )

    def start(self, request: HTTPRequest, connection: Connection) -> HTTPResponse:
        """302 to the connection's IdP, with the test cookie (the IdP must be saved first)."""
        if not connection.idp_configured:
            return setup_error_page(400, "Save the identity provider first (step 4), then test.")
        try:
            sp = self._service_provider(connection)
        except (ConfigError, ValueError) as exc:
            problems = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
            return setup_error_page(400, "The saved identity provider cannot be used: " + "; ".join(problems))
        relay = self.token(18)
        login = sp.build_login(relay)
        cookie = self.cookies.test_cookie(PendingTest(connection.id, login.request_id, relay), self.clock())
        self.audit(connection.id, "test sign-in started", request)
        return HTTPResponse.redirect(302, login.url, cookie)

    def connection_of_acs(self, path: str) -> str | None:
        """``acme`` for ``{PREFIX}/c/acme/acs``, else ``None``."""
        if not path.startswith(self._acs_prefix) or not path.endswith("/acs"):
            return None
        middle = path[len(self._acs_prefix) : -len("/acs")]
        return middle if middle and "/" not in middle else None

    def consume(self, request: HTTPRequest) -> HTTPResponse | None:
        """The result page of a test sign-in posted to ``{PREFIX}/c/{id}/acs``; ``None`` when the
        post is no test of this browser's (the ACS handles it as usual)."""
        connection_id = self.connection_of_acs(request.path)
        if connection_id is None:
            return None
        pending = self.cookies.pending_test(request, connection_id, self.clock())
        if pending is None:
            return None
        try:
            relay, form = read_acs_form(self.base, request)
        except ResponseRejected:
            return None  # not readable as a response: the ACS refuses it with its usual page
        if relay != pending.relay:
            return None
        forget = self.cookies.forget_test(connection_id)
        connection = self.registry.get(connection_id)
        if connection is None:
            return setup_error_page(404, "This connection no longer exists.", forget)
        try:
            sp = self._service_provider(connection)
            verified = sp.process_response(form["SAMLResponse"][0], pending.request_id)
            key = f"{sp.settings.sp_entity_id}|request|{pending.request_id}"
            if not self.replay.add(key, self.clock() + LOGIN_COOKIE_AGE):
                raise ResponseRejected("in_response_to", "this login request was already consumed")
        except ResponseRejected as exc:
            self.audit(connection_id, f"test sign-in refused: {exc.reason}", request)
            logger.warning(
                "SAML setup test sign-in refused connection=%r reason=%s detail=%r",
                connection_id,
                exc.reason,
                exc.detail,
            )
            body = render_test_result(
                self.base,
                connection,
                None,
                reason=exc.reason,
                detail=exc.detail,
                meaning=REASONS[exc.reason][1],
            )
            return secure_html(exc.status, body, forget)
        except (ConfigError, ValueError) as exc:
            problems = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
            return setup_error_page(
                400, "The saved identity provider cannot be used: " + "; ".join(problems), forget
            )
        self.audit(connection_id, f"test sign-in accepted for {verified.user.email}", request)
        body = render_test_result(self.base, connection, verified.user)
        return secure_html(200, body, forget)
