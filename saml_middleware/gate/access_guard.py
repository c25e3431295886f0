"""The access policy inside the gate: one decision call, and what a refusal looks like.

Every mode asks the same two things once a session is found (docs/access.md):

* :meth:`AccessGuard.decide` - ``decide(method, path, user, now, overrides=()) -> Decision``;
* :meth:`AccessGuard.respond` - the answer to a refused request: 403 (an HTML page naming what is
  missing, with the sign-out link, or JSON ``{"error": "forbidden", ...}``) with one audit record,
  or for ``step_up_required`` a fresh login with ForceAuthn (browsers) / 401 JSON (API clients).

A refusal never redirects, so it can never loop; a step-up login whose ``AuthnInstant`` is still
too old is refused at the ACS (``step_up_failed``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from html import escape
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlsplit

from ..access import AccessPolicy, Decision
from ..config import Settings
from ..http import HTTPRequest, HTTPResponse
from ..ops.operations import Operations
from ..pages import page
from ..paths import BadPath, canonical_path, decoded_path, safe_return_path
from ..sessions import Session
from ..user import SAMLUser
from .acs import Resolver
from .login import LoginStart, login_required

__all__ = ["AccessGuard", "GateAccess"]


class GateAccess(Protocol):
    """What the adapters and ``{prefix}/auth`` ask of a gate's access policy (``gate.access``):
    :class:`AccessGuard` for one IdP; with connections, each session's own connection's guard."""

    #: False: no rules and no allowed groups/roles anywhere (adapters skip the policy)
    active: bool
    #: some rule names methods: adapters pass X-HTTP-Method-Override-style headers
    methods_matter: bool

    def decide(
        self, method: str, path: str, user: SAMLUser, now: float, overrides: Sequence[str] = ()
    ) -> Decision: ...

    def respond(self, request: HTTPRequest, decision: Decision, session: Session) -> HTTPResponse: ...

    def audit(self, request: HTTPRequest | None, decision: Decision, user: SAMLUser) -> None: ...

    def forward(self, request: HTTPRequest, method: str, path: str, session: Session) -> HTTPResponse | None:
        """``{prefix}/auth``: ``None`` when the original request may pass, else its refusal."""


class AccessGuard:
    """``Gate.access``: the policy of one Gate (so of one connection), and its refusals.

    :param settings: ``SAML_ALLOWED_GROUPS``, ``SAML_ALLOWED_ROLES``, ``SAML_ACCESS_RULES``.
    :param login: starts the step-up login (ForceAuthn).
    :param ops: writes the ``access_denied`` audit record.
    :param session: the session of a ``Cookie`` header (the login endpoint's step-up).
    :param clock: epoch seconds.
    :raises ConfigError: the rules file has problems (every one listed).
    """

    def __init__(
        self,
        settings: Settings,
        login: LoginStart,
        ops: Operations,
        session: Callable[[str | None], tuple[Session, str | None] | None],
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.policy = AccessPolicy.from_settings(settings)
        #: False: no rules and no allowed groups/roles (adapters skip the policy entirely)
        self.active = self.policy.active
        #: some rule names methods: adapters pass X-HTTP-Method-Override-style headers
        self.methods_matter = self.policy.methods_matter
        #: ``decide(method, path, user, now, overrides=()) -> Decision``
        self.decide = self.policy.decide
        self._login, self._ops, self._session, self._clock = login, ops, session, clock

    def check(self, method: str, path: str, user: SAMLUser, overrides: Sequence[str] = ()) -> Decision:
        """:meth:`decide` at the gate's clock."""
        return self.policy.decide(method, path, user, self._clock(), overrides)

    def respond(self, request: HTTPRequest, decision: Decision, session: Session) -> HTTPResponse:
        """The answer to a refused request (``decision.allowed`` is false) of ``session``'s user.

        The 403 page carries the session's sign-out link; a step-up login replaces the session.
        """
        target, user = request.target, session.user
        logout_url = f"{self.settings.logout_path}?token={session.logout_token}"
        if decision.reason == "step_up_required":
            if request.navigating():
                next_path = safe_return_path(target) or self.settings.default_redirect
                return self._login.start(request, next_path, step_up=decision.max_auth_age, replaces=session)
            login_url = f"{self.settings.base_url}{self.settings.login_path}?next={quote(target, safe='/')}"
            return login_required(login_url, "step_up_required", max_auth_age=decision.max_auth_age)
        self.audit(request, decision, user)
        if "text/html" in request.headers.get("accept", ""):
            link = f'<p><a href="{escape(logout_url)}">Sign out</a> and sign in with another account.</p>'
            body_html = page(
                "Access denied",
                f"You are signed in as {user.email}, but this page {decision.needs}.",
                "Ask an administrator for access if you need it.",
                extra_html=link,
            )
            return HTTPResponse.html(403, body_html)
        payload: dict[str, Any] = {"error": "forbidden", "reason": decision.reason, "needs": decision.needs}
        payload["logout_url"] = logout_url
        return HTTPResponse.json(403, payload)

    def audit(self, request: HTTPRequest | None, decision: Decision, user: SAMLUser) -> None:
        """The one ``access_denied`` audit record of a refusal (rule and reason)."""
        self._ops.event(
            "access_denied", request, email=user.email, reason=decision.reason, rule=decision.rule
        )

    def login(self, request: HTTPRequest, resolve: Resolver) -> HTTPResponse:
        """``GET {prefix}/login?next=/path``: a step-up login (ForceAuthn) when the signed-in user
        needs one for ``next``, so a proxy's plain "401 -> /login" never loops."""
        if self.active and request.method in ("GET", "HEAD"):
            nxt = safe_return_path(parse_qs(request.query).get("next", [""])[0])
            found = self._session(request.headers.get("cookie")) if nxt else None
            if found is not None and nxt is not None:
                decision = self.check("GET", _decoded(urlsplit(nxt).path), found[0].user)
                if decision.reason == "step_up_required":
                    return self._login.start(request, nxt, step_up=decision.max_auth_age, replaces=found[0])
        return self._login(request, resolve)

    def forward(self, request: HTTPRequest, method: str, path: str, session: Session) -> HTTPResponse | None:
        """``{prefix}/auth``: the rules on the original request. nginx (``X-Original-URI``) as
        :meth:`for_auth`; Traefik / Caddy (``X-Forwarded-Uri``, already canonical ``path`` and
        ``method``) as a request to that path: 403 page or JSON, or the step-up login."""
        if not self.active:
            return None
        headers = request.headers
        if "x-original-uri" in headers or "x-forwarded-uri" not in headers:
            return self.for_auth(request, session)
        decision = self.check(method, path, session.user)
        if decision.allowed:
            return None
        original = replace(request, method=method, path=path, raw_path=None, query="")
        return self.respond(original, decision, session)

    def for_auth(self, request: HTTPRequest, session: Session) -> HTTPResponse | None:
        """``{prefix}/auth`` (nginx ``auth_request``): ``None`` when the user may pass, else the refusal
        for the original request (``X-Original-URI``, ``X-Original-Method``). With path rules and no
        ``X-Original-URI``, the path is unknown: refused (403), never waved through."""
        if not self.active:
            return None
        user = session.user
        original = request.headers.get("x-original-uri")
        method = request.headers.get("x-original-method") or "GET"
        if original is None and self.policy.rules:
            decision = Decision(False, "forbidden", "auth_request", "needs X-Original-URI from the proxy")
        else:
            path = _decoded((original or "/").split("?", 1)[0])
            decision = self.check(method, path, user)
        if decision.allowed:
            return None
        if decision.reason == "step_up_required":  # nginx: error_page 401 -> {prefix}/login?next=...
            nxt = quote(original or "/", safe="/")
            login_url = f"{self.settings.base_url}{self.settings.login_path}?next={nxt}"
            body = {
                "error": "step_up_required",
                "login_url": login_url,
                "max_auth_age": decision.max_auth_age,
            }
            return HTTPResponse.json(401, body)
        self.audit(request, decision, user)
        payload = {"error": "forbidden", "reason": decision.reason, "needs": decision.needs}
        return HTTPResponse.json(403, payload)


def _decoded(path: str) -> str:
    try:
        return decoded_path(canonical_path(path or "/", encoded_separators=True))
    except BadPath:
        return path
