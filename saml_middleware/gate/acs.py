"""The Assertion Consumer Service: a posted SAMLResponse in, a session or a refusal out.

Every refusal is a 4xx (or 503 when the store is down) with a generic page, a
reference id, no session cookie, and exactly one log record with the reason.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from html import escape
from typing import Any, TypeVar

from ..config import Settings
from ..errors import ResponseRejected, StoreUnavailable
from ..http import FormError, HTTPRequest, HTTPResponse, form_text, query_fields
from ..ops.operations import Operations
from ..pages import page
from ..paths import safe_return_path
from ..protocol.sp import ServiceProvider
from ..sessions import Session, SessionManager
from ..sessions.cookies import CookieCodec
from ..user import SAMLUser
from ..users.base import UserDirectory
from .metadata_refresh import MetadataRefresher
from .pending import PENDING_AGE, RELAY_KEY, PendingCookies

__all__ = [
    "LOGIN_COOKIE_AGE",
    "RELAY_KEY",
    "AssertionConsumer",
    "Resolver",
    "log_refusal",
    "read_acs_form",
    "run_here",
]

logger = logging.getLogger("saml_middleware")
T = TypeVar("T")
#: Runs an awaitable to completion from the calling thread (adapter-specific).
Resolver = Callable[[Awaitable[Any]], Any]


def run_here(awaitable: Awaitable[Any]) -> Any:
    """The default :data:`Resolver`: run ``awaitable`` on a new event loop (no loop running here)."""

    async def wait() -> Any:
        return await awaitable

    return asyncio.run(wait())


LOGIN_COOKIE_AGE = PENDING_AGE


def log_refusal(what: str, exc: ResponseRejected, ref: str, idp: str, *, with_email: bool = False) -> None:
    """The one log record of a refused SAML ``what`` (``"response"``, ``"logout message"``)."""
    extra: dict[str, str | None] = {"saml_event": "refusal", "saml_reason": exc.reason, "saml_ref": ref}
    email = ""
    if with_email:
        email, extra["saml_email"] = f" email={exc.email or '-'}", exc.email
    logger.warning(
        "SAML %s refused reason=%s ref=%s idp=%s%s detail=%r",
        what,
        exc.reason,
        ref,
        idp,
        email,
        exc.detail,
        extra=extra,
    )


def read_acs_form(s: Settings, request: HTTPRequest) -> tuple[str | None, dict[str, list[str]]]:
    """The transport checks of the ACS: ``(RelayState or None, form fields)`` of a posted response.

    :raises ResponseRejected: method, size, media type, encoding or fields refused.
    """
    if request.method != "POST":
        raise ResponseRejected("method_not_allowed", f"{request.method} on the ACS")
    declared = request.headers.get("content-length", "")
    if len(request.body) > s.max_body or (declared.isdigit() and int(declared) > s.max_body):
        raise ResponseRejected("too_large", f"body over {s.max_body} bytes")
    try:
        form = query_fields(form_text(request.headers.get("content-type", ""), request.body), max_fields=20)
    except FormError as exc:
        if exc.problem == "content_type":
            raise ResponseRejected("unsupported_media_type", str(exc)) from None
        raise ResponseRejected("bad_encoding", "the form body is not URL-encoded ASCII") from None
    if len(form.get("SAMLResponse", [])) != 1:
        raise ResponseRejected("missing_response", "expected exactly one SAMLResponse field")
    relays = form.get("RelayState", [])
    return (relays[0] if len(relays) == 1 else None), form


def _check_step_up(pending: dict[str, Any] | None, user: SAMLUser, now: float) -> None:
    """A login started for a step-up (``"m"``: the rule's ``max_auth_age``) must bring an
    ``AuthnInstant`` within it, or it is refused (403 ``step_up_failed``), never looped."""
    max_age = (pending or {}).get("m")
    if not isinstance(max_age, int):
        return
    instant = user.authn_instant
    if instant is None or now - instant > max_age:
        age = "none" if instant is None else f"{now - instant:.0f}s old"
        raise ResponseRejected(
            "step_up_failed",
            f"ForceAuthn asked; AuthnInstant {age}, max_auth_age {max_age}s",
            email=user.email,
        )


class AssertionConsumer:
    """Handles ``POST {SAML_ACS_PATH}``.

    :param sp: validates the response.
    :param directory: admits (and enriches) the user.
    :param sessions: creates the session cookie.
    :param token: randomness for reference ids.
    :param events: told of every login and refusal (audit log, metrics, setup page).
    """

    def __init__(
        self,
        settings: Settings,
        sp: ServiceProvider,
        directory: UserDirectory,
        sessions: SessionManager,
        codec: CookieCodec,
        token: Callable[[int], str],
        *,
        events: Operations | None = None,
    ) -> None:
        self.settings = settings
        self.sp = sp
        self.directory = directory
        self.sessions = sessions
        self.codec = codec
        self.token = token
        #: set by the gate with ``SAML_IDP_METADATA_URL`` (metadata_refresh.py)
        self.refresher: MetadataRefresher | None = None
        self.events = events
        #: the per-login cookies, at most MAX_PENDING per browser (pending.py)
        self.pending = PendingCookies(settings, "login", settings.acs_path)

    def __call__(self, request: HTTPRequest, resolve: Resolver) -> HTTPResponse:
        started = self.events.timer() if self.events is not None else 0.0
        ref = self.token(6)
        relay = None
        try:
            relay, form = self._read_form(request)
            pending = self.pending.load(request, relay, self.codec)
            posted, request_id = form["SAMLResponse"][0], pending.get("r") if pending else None
            verified = (
                self.refresher.guard(lambda: self.sp.process_response(posted, request_id))
                if self.refresher is not None
                else self.sp.process_response(posted, request_id)
            )
            if pending and not self.sp.replay.add(
                f"{self.settings.sp_entity_id}|request|{pending['r']}",
                self.sp.clock() + LOGIN_COOKIE_AGE,
            ):
                raise ResponseRejected("in_response_to", "this login request was already consumed")
            user = self._lookup(verified.user, resolve)
            if user is None:
                raise ResponseRejected("unknown_user", "not in the user directory", email=verified.user.email)
            _check_step_up(pending, verified.user, self.sp.clock())
            _, session_cookie = self.sessions.create(user)
            self._end_replaced(pending, user)
        except ResponseRejected as exc:
            self._event("refusal", request, started, ref, email=exc.email, reason=exc.reason)
            return self._refuse(exc, ref, request, relay)
        except StoreUnavailable as exc:
            logger.error("SAML login failed: store unavailable ref=%s: %s", ref, exc, extra={"saml_ref": ref})
            self._event("refusal", request, started, ref, reason="store_unavailable")
            body = page("Sign-in is unavailable", "Please try again in a minute.", reference=ref)
            return HTTPResponse.html(503, body, *self.pending.forget(request, relay))
        except Exception:
            logger.exception("SAML response caused an unexpected error ref=%s", ref, extra={"saml_ref": ref})
            self._event("refusal", request, started, ref, reason="malformed_response")
            return self._refuse(
                ResponseRejected("malformed_response", "unexpected error"), ref, request, relay, log=False
            )
        target = (pending or {}).get("n") or (safe_return_path(relay) if relay and not pending else None)
        logger.info(
            "SAML login accepted email=%s ref=%s idp=%s",
            user.email,
            ref,
            self.sp.idp.entity_id,
            extra={"saml_event": "login", "saml_email": user.email, "saml_ref": ref},
        )
        self._event("login", request, started, ref, email=user.email)
        return HTTPResponse.redirect(
            303,
            target or self.settings.default_redirect,
            session_cookie,
            *self.pending.forget(request, relay),
        )

    def _end_replaced(self, pending: dict[str, Any] | None, user: SAMLUser) -> None:
        """After a step-up login, end the session it replaces (``"o"``: its id and e-mail)."""
        old = (pending or {}).get("o")
        if isinstance(old, list) and len(old) == 2 and all(isinstance(x, str) for x in old):
            self.sessions.end(Session(old[0], replace(user, email=old[1]), 0.0, 0.0, ""))

    def _event(
        self, name: str, request: HTTPRequest, started: float, ref: str, *, email: str | None = None,
        reason: str | None = None,
    ) -> None:  # fmt: skip
        if self.events is not None:
            self.events.event(name, request, email=email, reason=reason, ref=ref, started=started)

    def _lookup(self, user: SAMLUser, resolve: Resolver) -> SAMLUser | None:
        try:
            found = self.directory.lookup(user)
            result = resolve(found) if inspect.isawaitable(found) else found
        except Exception as exc:
            logger.exception("user directory lookup failed for %s", user.email)
            raise ResponseRejected(
                "directory_unavailable", f"{type(exc).__name__}: {exc}", email=user.email
            ) from None
        if result is not None and not isinstance(result, SAMLUser):
            raise TypeError(f"the user directory returned {type(result).__name__}, not SAMLUser or None")
        return result

    def _read_form(self, request: HTTPRequest) -> tuple[str | None, dict[str, list[str]]]:
        return read_acs_form(self.settings, request)

    def _refuse(
        self, exc: ResponseRejected, ref: str, request: HTTPRequest, relay: str | None, *, log: bool = True
    ) -> HTTPResponse:
        if log:
            log_refusal("response", exc, ref, self.sp.idp.entity_id, with_email=True)
        retry = f'<p><a href="{escape(self.settings.login_path)}">Sign in again</a></p>'
        if exc.reason == "unknown_user":
            body = page(
                "No access to this application",
                f"You signed in as {exc.email}, but that account is not set up in this application.",
                "Ask an administrator to add it.",
                reference=ref,
            )
        elif exc.reason == "step_up_failed":
            body = page(
                "A fresh sign-in is needed",
                "This page needs a recent sign-in, and the identity provider did not ask you to "
                "sign in again. Sign out, sign in again, and retry.",
                reference=ref,
            )
        elif exc.reason == "session_too_large":
            body = page(
                "Too much to keep in a session",
                "Your account carries more claims (for example group memberships) than this "
                "application can keep in its session. Give your administrator the reference below.",
                reference=ref,
            )
        elif exc.reason == "unsolicited":
            body = page(
                "Start from the application",
                "Open the application and sign in from there.",
                reference=ref,
                extra_html=retry,
            )
        else:
            body = page(
                "Sign-in failed",
                "The sign-in response could not be accepted. Try again, and if it keeps failing "
                "give your administrator the reference below.",
                reference=ref,
                extra_html=retry,
            )
        response = HTTPResponse.html(exc.status, body, *self.pending.forget(request, relay))
        if exc.status == 405:
            response.headers.append(("allow", "POST"))
        return response
