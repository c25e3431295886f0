"""SAMLWSGIMiddleware: plain WSGI over the same gate (no event loop, no a2wsgi)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from .access import OVERRIDE_HEADERS
from .config import Settings
from .connections import ConnectionLookup
from .errors import StoreUnavailable
from .framing import check_request
from .gate.surface import RequestGate, open_gate
from .http import HTTPRequest, HTTPResponse
from .paths import BadPath, canonical_path, decoded_path, encoded_path, has_encoded_separator, log_refusal

__all__ = ["SAMLWSGIMiddleware"]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
logger = logging.getLogger("saml_middleware")
#: X-HTTP-Method-Override and kin (access.OVERRIDE_HEADERS) as WSGI keys
_OVERRIDES = tuple("HTTP_" + h.upper().replace("-", "_") for h in OVERRIDE_HEADERS)

_REASONS = {
    200: "OK",
    202: "Accepted",
    302: "Found",
    303: "See Other",
    401: "Unauthorized",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    503: "Service Unavailable",
}


class SAMLWSGIMiddleware:
    """Put SAML single sign-on in front of any WSGI application (Flask, Django...).

    :param app: the WSGI application to protect.
    :param settings: the configuration; from ``SAML_*`` variables when omitted.
    :param connections: many tenants: where connections are looked up (as for
        :class:`~saml_middleware.SAMLMiddleware`).
    :param gate_options: passed to :class:`~saml_middleware.gate.Gate` (or ``TenantGate``).

    .. code-block:: python

        from saml_middleware import SAMLWSGIMiddleware
        application = SAMLWSGIMiddleware(application)

    The wrapped app sees ``environ["REMOTE_USER"]`` (the e-mail),
    ``environ["saml.user"]`` (the :class:`SAMLUser`) and ``environ["saml.logout_url"]``; with
    connections also ``environ["saml.tenant"]`` (the user's tenant).
    """

    def __init__(
        self,
        app: WSGIApp,
        settings: Settings | None = None,
        *,
        connections: ConnectionLookup | None = None,
        **gate_options: Any,
    ) -> None:
        self.app = app
        self.settings = settings if settings is not None else Settings.from_env()
        self.gate: RequestGate | None = (
            open_gate(self.settings, connections, **gate_options) if self.settings.enabled else None
        )

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        gate = self.gate
        if gate is None or gate.passes_through(environ.get("HTTP_HOST")):
            return self.app(environ, start_response)  # a disabled connection's host: as SAML_ENABLED=false
        try:
            judged = _judge(environ)
        except BadPath as exc:
            log_refusal(logger, exc, environ.get("REMOTE_ADDR"))
            return _respond(start_response, HTTPResponse.json(exc.status, {"error": exc.reason}))
        path = judged if judged is not None else _path(environ)
        if judged is not None and gate.is_endpoint(path):
            return _respond(
                start_response, gate.handle_endpoint(self._request(environ, path, read_body=True))
            )
        try:
            found = gate.session(environ.get("HTTP_COOKIE"), environ.get("HTTP_HOST"))
        except StoreUnavailable as exc:
            return _respond(
                start_response, gate.unavailable(self._request(environ, path, read_body=False), exc)
            )
        access = gate.access  # who may reach what (access/): decided on the judged path
        if found is not None and access.active:
            overrides = [environ[k] for k in _OVERRIDES if k in environ] if access.methods_matter else ()
            method = environ.get("REQUEST_METHOD", "GET")
            decision = access.decide(method, path, found[0].user, gate.clock(), overrides)
            if not decision.allowed:
                if judged is None or not gate.is_public(path):
                    request = self._request(environ, path, read_body=False)
                    return _respond(start_response, access.respond(request, decision, found[0]))
                found = None  # a public path: served as to anyone signed out
        if found is not None:
            session, refresh = found
            environ["REMOTE_USER"] = session.user.email
            environ["saml.user"] = session.user
            environ["saml.logout_url"] = gate.logout_url(session)
            if session.user.tenant:
                environ["saml.tenant"] = session.user.tenant
            if refresh is not None:
                return self.app(environ, _add_cookie(start_response, refresh))
            return self.app(environ, start_response)
        if judged is not None and gate.is_public(path):
            return self.app(environ, start_response)
        return _respond(start_response, gate.challenge(self._request(environ, path, read_body=False)))

    def _request(self, environ: Environ, path: str, *, read_body: bool) -> HTTPRequest:
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = environ[key]
        body = b""
        method = environ.get("REQUEST_METHOD", "GET")
        declared = headers.get("content-length", "")
        cap = self.gate.max_body_for(path) if self.gate is not None else self.settings.max_body
        if read_body and method == "POST" and declared.isdigit() and int(declared) <= cap:
            body = environ["wsgi.input"].read(int(declared))
        return HTTPRequest(
            method=method,
            path=path,
            query=environ.get("QUERY_STRING", ""),
            headers=headers,
            body=body,
            client=environ.get("REMOTE_ADDR"),
            raw_path=str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "").split("?", 1)[0] or None,
        )


def _judge(environ: Environ) -> str | None:
    """The path to decide on (``None``: never public, never ours), setting ``PATH_INFO`` to it.

    The raw target (``RAW_URI``/``REQUEST_URI``, or the ASGI ``raw_path`` under a2wsgi) is
    judged by :func:`~saml_middleware.paths.canonical_path`; when it differs from what the
    server decoded, ``PATH_INFO`` (and ``RAW_URI``/``REQUEST_URI``) are set to it, so the app
    serves exactly the path that was judged.

    :raises BadPath: the target is not a path, or the path is refused (also one that climbs
        out of ``SCRIPT_NAME``).
    """
    scope = environ.get("asgi.scope")
    if isinstance(scope, dict):
        headers = list(scope.get("headers", []))
    else:
        pairs = (("content-length", "CONTENT_LENGTH"), ("transfer-encoding", "HTTP_TRANSFER_ENCODING"))
        headers = [(k.encode(), _latin1(str(environ[v]))) for k, v in pairs if environ.get(v)]
    check_request(environ.get("REQUEST_METHOD"), headers)
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        raw = str(raw).split("?", 1)[0]
    elif isinstance(scope, dict) and scope.get("raw_path"):
        raw = scope["raw_path"].decode("latin-1")
    else:
        raw = encoded_path(_latin1(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")))
    canonical = canonical_path(raw, encoded_separators=True)
    if canonical != raw:
        full = unquote_to_bytes(canonical).decode("latin-1")
        script = environ.get("SCRIPT_NAME", "")
        if script and not (full == script or full.startswith(script.rstrip("/") + "/")):
            raise BadPath("bad_path", "the path leaves the application's mount point (SCRIPT_NAME)")
        environ["PATH_INFO"] = full[len(script) :]
        query = environ.get("QUERY_STRING")
        for key in ("RAW_URI", "REQUEST_URI"):
            if key in environ:
                environ[key] = canonical + ("?" + query if query else "")
    if has_encoded_separator(canonical):
        return None
    return decoded_path(canonical) if canonical != raw else _path(environ)


def _latin1(text: str) -> bytes:
    """The bytes behind a WSGI string (PEP 3333: latin-1); UTF-8 for a server that decoded them."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _path(environ: Environ) -> str:
    return (
        _latin1(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).decode("utf-8", "replace")
        or "/"
    )


def _respond(start_response: StartResponse, response: HTTPResponse) -> list[bytes]:
    status = f"{response.status} {_REASONS.get(response.status, 'Status')}"
    headers = [*response.headers, ("Content-Length", str(len(response.body)))]
    start_response(status, headers)
    return [response.body]


def _add_cookie(start_response: StartResponse, set_cookie: str) -> StartResponse:
    def wrapped(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, ("Set-Cookie", set_cookie)], exc_info)

    return wrapped
