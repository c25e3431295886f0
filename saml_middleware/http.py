"""Transport-neutral request and response values shared by the gate and the adapters."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

__all__ = ["HTTPRequest", "HTTPResponse", "parse_cookies"]


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
