"""SAMLWSGIMiddleware: plain WSGI over the same gate (no event loop, no a2wsgi)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .config import Settings
from .errors import StoreUnavailable
from .gate import Gate
from .http import HTTPRequest, HTTPResponse

__all__ = ["SAMLWSGIMiddleware"]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

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
    :param gate_options: passed to :class:`~saml_middleware.gate.Gate`.

    .. code-block:: python

        from saml_middleware import SAMLWSGIMiddleware
        application = SAMLWSGIMiddleware(application)

    The wrapped app sees ``environ["REMOTE_USER"]`` (the e-mail),
    ``environ["saml.user"]`` (the :class:`SAMLUser`) and ``environ["saml.logout_url"]``.
    """

    def __init__(self, app: WSGIApp, settings: Settings | None = None, **gate_options: Any) -> None:
        self.app = app
        self.settings = settings if settings is not None else Settings.from_env()
        self.gate = Gate(self.settings, **gate_options) if self.settings.enabled else None

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        gate = self.gate
        if gate is None:
            return self.app(environ, start_response)
        path = _path(environ)
        if gate.is_endpoint(path):
            return _respond(
                start_response, gate.handle_endpoint(self._request(environ, path, read_body=True))
            )
        try:
            found = gate.session(environ.get("HTTP_COOKIE"))
        except StoreUnavailable as exc:
            return _respond(
                start_response, gate.unavailable(self._request(environ, path, read_body=False), exc)
            )
        if found is not None:
            session, refresh = found
            environ["REMOTE_USER"] = session.user.email
            environ["saml.user"] = session.user
            environ["saml.logout_url"] = gate.logout_url(session)
            if refresh is not None:
                return self.app(environ, _add_cookie(start_response, refresh))
            return self.app(environ, start_response)
        if gate.is_public(path):
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
        cap = self.settings.max_body
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


def _path(environ: Environ) -> str:
    raw = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return raw.encode("latin-1").decode("utf-8", "replace") or "/"


def _respond(start_response: StartResponse, response: HTTPResponse) -> list[bytes]:
    status = f"{response.status} {_REASONS.get(response.status, 'Status')}"
    headers = [*response.headers, ("Content-Length", str(len(response.body)))]
    start_response(status, headers)
    return [response.body]


def _add_cookie(start_response: StartResponse, set_cookie: str) -> StartResponse:
    def wrapped(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, ("Set-Cookie", set_cookie)], exc_info)

    return wrapped
