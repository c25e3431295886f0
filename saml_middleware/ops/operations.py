"""What operators see of a running middleware: audit log, metrics, setup page, expiry warnings.

One :class:`Operations` per :class:`~saml_middleware.gate.Gate` (``gate.ops``), built
by the gate from values (settings, the IdP in use, its session reader, a clock).
The ACS and the logout endpoint report each event to :meth:`Operations.record`,
which writes the audit line, counts it, and keeps the last 50 refusals for the
setup page.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

from ..config import Settings
from ..http import HTTPRequest, HTTPResponse
from ..pages import page
from ..sessions import Session
from ..user import normalize_email
from .audit import AuditEvent, emit
from .expiry import ExpiryWatch, certificate_statuses
from .metrics import Metrics, metrics_access
from .setup_page import render_setup

__all__ = ["REFUSALS_KEPT", "Operations"]

#: How many refusals the setup page shows.
REFUSALS_KEPT = 50


class _IdP(Protocol):
    @property
    def entity_id(self) -> str: ...
    @property
    def sso_url(self) -> str: ...
    @property
    def certificates(self) -> tuple[str, ...]: ...


class Operations:
    """Audit, metrics, setup page and expiry watch for one gate.

    :param settings: the configuration (``SAML_ADMIN_EMAILS``, ``SAML_METRICS_TOKEN``).
    :param idp: returns the IdP in use now (a metadata refresh may replace it).
    :param session: the gate's ``session(cookie_header)``.
    :param challenge: the gate's answer to an unauthenticated request.
    :param active_sessions: live session count, or ``None`` when the store cannot tell cheaply.
    :param logout_url: the Logout URL to give the IdP, when single logout is served.
    :param metadata_state: ``(last successful metadata load or None, refresh failures)``.
    :param clock: epoch seconds.
    :param timer: a monotonic clock for latencies.
    :param metrics: metrics shared with other gates (one registry for every connection);
        a registry of its own when omitted.
    :param connection: the connection id (``""``: the single env IdP); audit records and the
        ``saml_connection_logins`` metric carry it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        idp: Callable[[], _IdP],
        session: Callable[[str | None], tuple[Session, str | None] | None],
        challenge: Callable[[HTTPRequest], HTTPResponse],
        active_sessions: Callable[[], int | None] = lambda: None,
        logout_url: Callable[[], str | None] = lambda: None,
        metadata_state: Callable[[], tuple[float | None, int]] = lambda: (None, 0),
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
        metrics: Metrics | None = None,
        connection: str = "",
    ) -> None:
        self.settings = settings
        self.idp = idp
        self.session = session
        self.challenge = challenge
        self.logout_url = logout_url
        self.clock = clock
        self.timer = timer
        self.refusals: deque[AuditEvent] = deque(maxlen=REFUSALS_KEPT)
        self.connection = connection
        self.metrics = (
            metrics
            if metrics is not None
            else Metrics(
                certificates=self.certificates,
                active_sessions=active_sessions,
                clock=clock,
                metadata_state=metadata_state,
            )
        )
        self.expiry = ExpiryWatch(self.certificates, clock)
        self.expiry.tick()  # warn at start-up, then once a day

    def certificates(self) -> tuple[Iterable[str], str]:
        """The IdP signing certificates in use and the SP certificate (``""`` if none)."""
        return self.idp().certificates, self.settings.sp_cert

    # -- events -------------------------------------------------------------
    def event(
        self,
        name: str,
        request: HTTPRequest | None,
        *,
        email: str | None = None,
        reason: str | None = None,
        ref: str | None = None,
        started: float | None = None,
        rule: str | None = None,
    ) -> None:
        """Record one login, refusal or logout seen while handling ``request``."""
        headers = request.headers if request is not None else {}
        self.record(
            AuditEvent(
                name,
                self.clock(),
                email=email,
                idp=self.idp().entity_id or None,
                reason=reason,
                ref=ref,
                client=request.client if request is not None else None,
                user_agent=headers.get("user-agent"),
                duration=None if started is None else max(self.timer() - started, 0.0),
                connection=self.connection or None,
                rule=rule,
            )
        )

    def record(self, event: AuditEvent) -> None:
        """Audit line, metrics, and the refusal ring."""
        emit(event)
        self.metrics.record(event)
        if event.event == "refusal":
            self.refusals.appendleft(event)

    def store_error(self) -> None:
        """Count a store failure seen outside the ACS (session reads)."""
        self.metrics.store_errors.inc()

    # -- endpoints ----------------------------------------------------------
    def metrics_endpoint(self, request: HTTPRequest, resolve: object = None) -> HTTPResponse:
        """``GET {prefix}/metrics``: the Prometheus text format, for authorised scrapers."""
        if request.method not in ("GET", "HEAD"):
            return HTTPResponse.html(405, page("Method not allowed", "Use GET."))
        refused = metrics_access(request, self.settings.metrics_token)
        return refused if refused is not None else self.metrics.exposition()

    def setup_endpoint(self, request: HTTPRequest, resolve: object = None) -> HTTPResponse:
        """``GET {prefix}/setup``: the admin page; login first, 403 for non-admins."""
        if request.method not in ("GET", "HEAD"):
            return HTTPResponse.html(405, page("Method not allowed", "Use GET."))
        found = self.session(request.headers.get("cookie"))
        if found is None:
            return self.challenge(request)
        session, refresh = found
        cookies = [refresh] if refresh else []
        if not self.is_admin(session.user.email):
            body = page(
                "Not allowed",
                f"Signed in as {session.user.email}, which is not in SAML_ADMIN_EMAILS.",
            )
            return HTTPResponse.html(403, body, *cookies)
        idp = self.idp()
        body = render_setup(
            self.settings,
            idp_entity_id=idp.entity_id,
            idp_sso_url=idp.sso_url,
            certificates=certificate_statuses(*self.certificates(), self.clock()),
            refusals=list(self.refusals),
            logout_url=self.logout_url(),
            user_email=session.user.email,
        )
        return HTTPResponse.html(200, body, *cookies)

    def is_admin(self, email: str) -> bool:
        """Is ``email`` in ``SAML_ADMIN_EMAILS`` (compared by :func:`normalize_email`)?"""
        return normalize_email(email) in self.settings.admin_emails
