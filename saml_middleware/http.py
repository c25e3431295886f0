"""Transport-neutral request and response values shared by the gate and the adapters."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote

__all__ = [
    "FORM",
    "FormError",
    "HTTPRequest",
    "HTTPResponse",
    "form_text",
    "media_type",
    "parse_cookies",
    "query_fields",
]

#: The only form encoding the SAML bindings (and the dev IdP's pages) post.
FORM = "application/x-www-form-urlencoded"


@dataclass
class HTTPRequest:
    """What the gate needs to know of a request. Header names are lower case."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    client: str | None = None
    raw_path: str | None = None
    _cookies: dict[str, str] | None = field(default=None, repr=False)

    @property
    def target(self) -> str:
        """The path and query as the browser sent them (percent-encoding kept)."""
        path = self.raw_path if self.raw_path is not None else quote(self.path)
        return path + ("?" + self.query if self.query else "")

    def navigating(self, method: str | None = None) -> bool:
        """A browser navigating: ``GET``/``HEAD`` (``method``: the original request's, for forward
        auth) asking for HTML, without ``X-Requested-With``. It gets redirected to sign in; any
        other request gets a 401 naming the login URL.

        >>> HTTPRequest("GET", "/", headers={"accept": "text/html"}).navigating()
        True
        >>> HTTPRequest("GET", "/", headers={"accept": "text/html"}).navigating("POST")
        False
        """
        accept = self.headers.get("accept", "")
        return (
            (method or self.method) in ("GET", "HEAD")
            and ("text/html" in accept or "application/xhtml+xml" in accept)
            and self.headers.get("x-requested-with") is None
        )

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            self._cookies = parse_cookies(self.headers.get("cookie", ""))
        return self._cookies


@dataclass
class HTTPResponse:
    """A complete response: status, header pairs, body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def html(cls, status: int, body: bytes, *cookies: str) -> HTTPResponse:
        headers = [("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store")]
        return cls(status, headers + [("set-cookie", c) for c in cookies], body)

    @classmethod
    def redirect(cls, status: int, location: str, *cookies: str) -> HTTPResponse:
        headers = [("location", location), ("cache-control", "no-store")]
        return cls(status, headers + [("set-cookie", c) for c in cookies])

    @classmethod
    def json(cls, status: int, data: Any, extra: Mapping[str, str] | None = None) -> HTTPResponse:
        headers = [
            ("content-type", "application/json"),
            ("cache-control", "no-store"),
            *(extra or {}).items(),
        ]
        return cls(status, headers, json.dumps(data).encode())


def parse_cookies(header: str) -> dict[str, str]:
    """A ``Cookie`` header as a dict (first value wins, like browsers send the most specific first)."""
    out: dict[str, str] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.strip().partition("=")
        if sep and name and name not in out:
            out[name] = value.strip().strip('"')
    return out


class FormError(ValueError):
    """A form or query string that cannot be read.

    :ivar problem: ``"content_type"`` (not :data:`FORM`), ``"encoding"`` (not
        ASCII) or ``"fields"`` (too many fields).
    """

    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem


def media_type(content_type: str) -> str:
    """``text/html`` of ``Text/HTML; charset=utf-8``."""
    return content_type.split(";")[0].strip().lower()


def form_text(content_type: str, body: bytes) -> str:
    """The body of a URL-encoded form, as text.

    :param content_type: the request's ``Content-Type`` header ("" when none).
    :raises FormError: when the body is not :data:`FORM` or not ASCII.
    """
    if media_type(content_type) != FORM:
        raise FormError("content_type", f"content type {media_type(content_type)!r}")
    try:
        return body.decode("ascii")
    except UnicodeDecodeError:
        raise FormError("encoding", "the form body is not ASCII") from None


def query_fields(text: str, *, max_fields: int, keep_blank: bool = False) -> dict[str, list[str]]:
    """The fields of a query string or form body, every value of each.

    :param keep_blank: keep fields with an empty value.
    :raises FormError: with more than ``max_fields`` fields.
    """
    try:
        return parse_qs(text, keep_blank_values=keep_blank, max_num_fields=max_fields)
    except ValueError:
        raise FormError("fields", f"more than {max_fields} fields") from None
