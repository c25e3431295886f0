"""Single logout, the HTTP part: ``/saml/logout`` out to the IdP and ``/saml/sls`` back. No XML here.

* SP-initiated: the local session ends first; then, when the IdP has a
  SingleLogoutService, the browser goes there with a LogoutRequest. Its
  RelayState is an opaque key naming a short-lived signed cookie that holds
  the request ID, which the IdP's LogoutResponse at ``/saml/sls`` must answer.
* IdP-initiated: a signed LogoutRequest at ``/saml/sls`` ends the matching
  sessions (every one of them with server sessions; this browser's own
  cookie with cookie sessions), then the browser goes back to the IdP with a
  signed LogoutResponse.

Refusals are 4xx pages with a reference id and one log record with the
reason (``protocol/logout.py`` and ``errors.REASONS``); never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from html import escape

from ..config import Settings
from ..errors import ResponseRejected, StoreUnavailable
from ..http import FormError, HTTPRequest, HTTPResponse, form_text, query_fields
from ..pages import page
from ..protocol.logout import LogoutMessage, LogoutVerifier, matches
from ..protocol.metadata import IdPInfo
from ..protocol.sp import ServiceProvider
from ..sessions import Session, SessionManager
from ..sessions.cookies import CookieCodec
from ..user import SAMLUser
from .acs import LOGIN_COOKIE_AGE, Resolver, log_refusal
from .pending import PendingCookies
from .postform import send

__all__ = ["SingleLogout"]

logger = logging.getLogger("saml_middleware")


class SingleLogout:
    """SP-initiated logout (:meth:`start`) and the single logout service (``__call__``).

    :param sp: builds the outgoing messages and holds the current IdP.
    :param sessions: ends sessions (all matching ones with server sessions).
    :param codec: signs the pending-logout cookie.
    :param token: randomness for RelayState keys and reference ids.
    """

    def __init__(
        self,
        settings: Settings,
        sp: ServiceProvider,
        sessions: SessionManager,
        codec: CookieCodec,
        token: Callable[[int], str],
    ) -> None:
        self.settings = settings
        self.sp = sp
        self.sessions = sessions
        self.codec = codec
        self.token = token
        self.path = settings.path_prefix + "/sls"
        #: the per-logout cookies, at most MAX_PENDING per browser (pending.py)
        self.pending = PendingCookies(settings, "logout", self.path)
        self._verifier: tuple[IdPInfo, LogoutVerifier] | None = None
        link = f'<p><a href="{escape(settings.login_path)}">Sign in again</a></p>'
        #: the page once the session ended here (the local logout endpoint shows it too)
        self.signed_out: bytes = page(
            "You are signed out", "Your session in this application has ended.", extra_html=link
        )

    @property
    def slo_url(self) -> str:
        """The IdP's single logout service: ``SAML_IDP_SLO_URL``, else the metadata's; "" when none."""
        return self.settings.idp_slo_url or self.sp.idp.slo_url or ""

    def verifier(self) -> LogoutVerifier:
        """A verifier for the current IdP (rebuilt when refreshed metadata replaced it)."""
        idp = self.sp.idp
        if self._verifier is None or self._verifier[0] is not idp:
            checker = LogoutVerifier(self.settings, idp.entity_id, idp.certificates, clock=self.sp.clock)
            self._verifier = (idp, checker)
        return self._verifier[1]

    # -- SP-initiated -----------------------------------------------------
    def start(self, session: Session, *cookies: str, header: str | None = None) -> HTTPResponse | None:
        """After ``session`` ended locally: the LogoutRequest to the IdP's SLO (a redirect, or a page
        posting it when the IdP takes HTTP-POST only), or ``None`` without one.

        :param header: the request's ``Cookie`` header (bounds the pending logouts).
        """
        slo = self.slo_url
        if not slo or not session.user.name_id:
            return None
        relay = self.token(18)
        request = self.sp.build_logout(session.user, slo, relay)
        value = self.codec.dump_login({"r": request.request_id, "k": "logout"})
        return send(request, 303, *cookies, *self.pending.start(header, relay, value), title="Signing out")

    # -- the single logout service ---------------------------------------
    def __call__(self, request: HTTPRequest, resolve: Resolver) -> HTTPResponse:
        ref = self.token(6)
        relay = None
        try:
            params = self._params(request)
            relay = params["RelayState"][0] if params.get("RelayState") else None
            pending = self._pending(request, relay) if "SAMLResponse" in params else None
            if request.method == "POST":
                message = self.verifier().from_post(params, pending)
            else:
                message = self.verifier().from_redirect(request.query, pending)
            if message.kind == "LogoutResponse":
                return self._completed(request, message, pending or "", ref)
            return self._requested(request, message, ref)
        except ResponseRejected as exc:
            return self._refuse(exc, ref, request, relay)
        except StoreUnavailable:
            raise
        except Exception:
            logger.exception("SAML logout message caused an unexpected error ref=%s", ref)
            error = ResponseRejected("logout_invalid", "unexpected error")
            return self._refuse(error, ref, request, relay, log=False)

    def _completed(
        self, request: HTTPRequest, message: LogoutMessage, request_id: str, ref: str
    ) -> HTTPResponse:
        key = f"{self.settings.sp_entity_id}|request|{request_id}"
        if not self.sp.replay.add(key, self.sp.clock() + LOGIN_COOKIE_AGE):
            raise ResponseRejected("logout_in_response_to", "this logout request was already answered")
        logger.info(
            "SAML single logout completed ref=%s idp=%s",
            ref,
            self.sp.idp.entity_id,
            extra={"saml_event": "logout", "saml_ref": ref},
        )
        return HTTPResponse.html(
            200,
            self.signed_out,
            self.sessions.clear_header(),
            *self.pending.forget(request, message.relay_state),
        )

    def _requested(self, request: HTTPRequest, message: LogoutMessage, ref: str) -> HTTPResponse:
        s = self.settings
        lifetime = s.response_max_age + 2 * s.clock_skew
        if not self.sp.replay.add(f"{s.sp_entity_id}|logout|{message.id}", self.sp.clock() + lifetime):
            raise ResponseRejected("replayed", f"LogoutRequest {message.id} was already used")

        def accept(user: SAMLUser) -> bool:
            return matches(user.name_id, user.session_index, message)

        own = self.sessions.load(request.cookies.get(self.sessions.name))
        mine = own is not None and accept(own[0].user)
        # server sessions: every matching one, wherever its browser is; cookie sessions: the one
        # shown, and every matching one that overflowed into the store (SAML_SESSION_OVERFLOW)
        ended = self.sessions.end_matching(message.name_id, accept)
        if not self.sessions.blocking:
            ended += int(own is not None and mine and not own[0].stored)
        logger.info(
            "SAML single logout requested by the IdP name_id=%s ended=%d ref=%s",
            message.name_id,
            ended,
            ref,
            extra={"saml_event": "logout", "saml_email": message.name_id, "saml_ref": ref},
        )
        cookies = [self.sessions.clear_header()] if mine else []
        slo = self.slo_url
        if not slo:
            return HTTPResponse.html(200, self.signed_out, *cookies)
        answer = self.sp.build_logout_response(slo, message.id, message.relay_state)
        return send(answer, 302, *cookies, title="Signing out")

    # -- helpers ------------------------------------------------------------
    def _params(self, request: HTTPRequest) -> dict[str, list[str]]:
        s = self.settings
        if request.method not in ("GET", "HEAD", "POST"):
            raise ResponseRejected("logout_invalid", f"{request.method} on the SLS")
        try:
            if request.method == "POST":
                raw = form_text(request.headers.get("content-type", ""), request.body)
            else:
                raw = request.query
            if len(raw) > s.max_body:
                raise ResponseRejected("too_large", f"logout message over {s.max_body} bytes")
            return query_fields(raw, max_fields=10)
        except FormError as exc:
            raise ResponseRejected(
                "bad_encoding" if exc.problem == "encoding" else "logout_invalid", str(exc)
            ) from None

    def _pending(self, request: HTTPRequest, relay: str | None) -> str | None:
        data = self.pending.load(request, relay, self.codec)
        return str(data["r"]) if data is not None and data.get("k") == "logout" else None

    def _refuse(
        self, exc: ResponseRejected, ref: str, request: HTTPRequest, relay: str | None, *, log: bool = True
    ) -> HTTPResponse:
        if log:
            log_refusal("logout message", exc, ref, self.sp.idp.entity_id)
        body = page(
            "Sign-out failed",
            "The sign-out message could not be accepted. If you were signed in to this application, "
            "sign out from its pages; if this keeps happening give your administrator the reference below.",
            reference=ref,
        )
        return HTTPResponse.html(
            exc.status if exc.status < 500 else 400, body, *self.pending.forget(request, relay)
        )
