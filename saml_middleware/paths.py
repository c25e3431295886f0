"""Path decisions: the one canonical path of a request, public prefixes, safe return paths.

Every mode (ASGI, WSGI, ``run``, ``proxy``, its WebSockets) judges a request on
:func:`canonical_path` of the path *as received* (still percent-encoded), and hands on or
forwards exactly that path: a decision is never made on one spelling while another one
travels on, where a later hop (httpx, nginx, a framework, the upstream) could resolve
``..`` or ``%2F`` differently. Pure functions, no I/O.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from urllib.parse import quote, unquote

__all__ = [
    "PATH_REASONS",
    "BadPath",
    "canonical_path",
    "decoded_path",
    "encoded_path",
    "has_encoded_separator",
    "is_public",
    "remove_dot_segments",
    "safe_return_path",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")

#: reason code -> (HTTP status, explanation) of the refusals of a request's path or target.
PATH_REASONS: dict[str, tuple[int, str]] = {
    "bad_request_target": (400, "the request target is not a path (absolute-form, authority-form or '*')"),
    "bad_path": (
        400,
        "the path has an encoded '/' or '\\', a backslash, a control character, a bad "
        "percent-escape, a double-encoded '.', '/' or '\\', or a '..;' segment",
    ),
    "bad_framing": (400, "the request has both Content-Length and Transfer-Encoding, or conflicting lengths"),
}

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
#: characters a path may carry unencoded (RFC 3986 pchar and "/")
_PATH_SAFE = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_HEX = frozenset("0123456789abcdefABCDEF")
#: the common case, which needs no work: only safe characters and no "/." anywhere
_PLAIN = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")
_DOUBLE = re.compile(r"%25(?:2[eEfF]|5[cC]|[01][0-9a-fA-F]|7[fF])")


class BadPath(ValueError):
    """A request path or target that is refused; ``reason`` is a code of :data:`PATH_REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.status = PATH_REASONS[reason][0]
        self.detail = detail


def log_refusal(logger: logging.Logger, exc: BadPath, client: str | None) -> None:
    """The one warning record of a refused request: reason, client address, detail
    (as ``repr``: control characters escaped, so a path cannot forge log lines)."""
    logger.warning("request refused reason=%s client=%s detail=%r", exc.reason, client or "-", exc.detail)


def canonical_path(raw: str, *, encoded_separators: bool = False) -> str:
    """The canonical, percent-encoded form of ``raw``, the path of a request as received.

    ``raw`` is the path part of the request target (no query), as text whose characters are
    the bytes received (latin-1), still percent-encoded. The result: percent-escapes of
    unreserved characters decoded (``%2e`` is ``.``, ``%7E`` is ``~``), other escapes in upper
    case, characters a path may not carry percent-encoded, then the dot-segments removed
    (RFC 3986 section 5.2.4). The result never contains a ``.`` or ``..`` segment, so no later
    hop can resolve it differently.

    :param encoded_separators: keep ``%2F`` and ``%5C`` (opaque, never a separator; see
        :func:`has_encoded_separator`) instead of refusing them.
    :raises BadPath: ``bad_request_target`` when ``raw`` does not start with ``/``
        (``http://host/x``, ``host:443``, ``*``, ``@host/x``); ``bad_path`` for an encoded ``/``
        or ``\\`` (unless allowed), a raw backslash, a control character (raw or encoded), a
        malformed escape, a double-encoded ``.``, ``/``, ``\\`` or control character (``%252e``),
        or a segment that is ``..`` or ``.`` followed by ``;`` parameters (``/..;/``).

    >>> canonical_path("/public/../private/secret.txt")
    '/private/secret.txt'
    >>> canonical_path("/public/%2e%2E/x/./y%7e")
    '/x/y~'
    >>> canonical_path("/public%2F..%2Fprivate")
    Traceback (most recent call last):
    ...
    saml_middleware.paths.BadPath: bad_path: an encoded '/' or '\\' (%2F)
    >>> canonical_path("/a%2fb", encoded_separators=True)
    '/a%2Fb'
    """
    if not raw.startswith("/"):
        raise BadPath("bad_request_target", f"the target does not start with '/': {raw[:80]!r}")
    if _PLAIN.fullmatch(raw) and "/." not in raw:
        return raw
    if _DOUBLE.search(raw):
        raise BadPath("bad_path", "a double-encoded '.', '/', '\\' or control character")
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        char = raw[i]
        if char == "%":
            hexa = raw[i + 1 : i + 3]
            if len(hexa) != 2 or not set(hexa) <= _HEX:
                raise BadPath("bad_path", f"a malformed percent-escape at {raw[i : i + 3]!r}")
            code = int(hexa, 16)
            if code < 0x20 or code == 0x7F:
                raise BadPath("bad_path", f"an encoded control character (%{hexa.upper()})")
            if chr(code) in "/\\":
                if not encoded_separators:
                    raise BadPath("bad_path", f"an encoded '/' or '\\' (%{hexa.upper()})")
            elif chr(code) in _UNRESERVED:
                out.append(chr(code))
                i += 3
                continue
            out.append("%" + hexa.upper())
            i += 3
            continue
        code = ord(char)
        if code < 0x20 or code == 0x7F:
            raise BadPath("bad_path", "a control character")
        if char == "\\":
            raise BadPath("bad_path", "a backslash")
        if char in _PATH_SAFE:
            out.append(char)
        else:  # space, quotes, non-ASCII bytes...: percent-encoded
            out.append(quote(char.encode("utf-8") if code > 0xFF else bytes([code]), safe=""))
        i += 1
    joined = "".join(out)
    if _DOUBLE.search(joined):  # spelt with encoded digits: %25%32%65 is %2e once decoded
        raise BadPath("bad_path", "a double-encoded '.', '/', '\\' or control character")
    return remove_dot_segments(joined)


def remove_dot_segments(path: str) -> str:
    """``path`` (absolute, ``.`` already decoded) without ``.`` and ``..`` segments (RFC 3986 5.2.4).

    ``..`` above the root stays at the root. A segment such as ``..;x`` (which Tomcat and
    Spring read as ``..``) is refused rather than guessed at.

    >>> remove_dot_segments("/a/b/c/./../../g"), remove_dot_segments("/../a/.."), remove_dot_segments("/a/.")
    ('/a/g', '/', '/a/')
    """
    segments = path.split("/")[1:]
    kept: list[str] = []
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if segment == ".":
            if index == last:
                kept.append("")
        elif segment == "..":
            if kept:
                kept.pop()
            if index == last:
                kept.append("")
        else:
            if unquote(segment).split(";", 1)[0] in (".", ".."):  # ..; and ..%3B alike
                raise BadPath("bad_path", f"a dot-segment with parameters ({segment[:40]!r})")
            kept.append(segment)
    return "/" + "/".join(kept)


def has_encoded_separator(canonical: str) -> bool:
    """True when a canonical path carries ``%2F`` or ``%5C`` (only with ``encoded_separators``)."""
    return "%2F" in canonical or "%5C" in canonical


def decoded_path(canonical: str) -> str:
    """The decoded text of a canonical path, for decisions and ``scope["path"]`` (UTF-8).

    >>> decoded_path("/caf%C3%A9/a%20b")
    '/café/a b'
    """
    return unquote(canonical, errors="replace") if "%" in canonical else canonical


def encoded_path(decoded: str | bytes) -> str:
    """A decoded path (a server gave no raw one) encoded again for :func:`canonical_path`.

    >>> encoded_path("/a b/;x=1/café")
    '/a%20b/;x=1/caf%C3%A9'
    """
    return quote(decoded, safe="/!$&'()*+,;=:@~")


def safe_return_path(value: str | None) -> str | None:
    """``value`` if it is a path on this site, else ``None``.

    Refuses absolute URLs and schemes (``https://evil``, ``javascript:``),
    protocol-relative ``//host``, backslash tricks (``/\\host``), control
    characters, and the same hidden behind percent-encoding, however many times nested
    (``/%2F%2Fhost``, ``/%25252F%25252Fhost``).

    >>> safe_return_path("/reports?q=1#top"), safe_return_path("//evil.example")
    ('/reports?q=1#top', None)
    """
    if not value or len(value) > 2048 or not value.startswith("/"):
        return None
    decoded = value
    while True:  # every layer of percent-encoding, however deep (each one is shorter)
        if _CONTROL.search(decoded) or decoded.startswith("//"):
            return None
        inner = unquote(decoded)
        if inner == decoded:
            break
        decoded = inner
    # A Location header is ASCII: percent-encode anything else (existing escapes kept).
    return quote(value, safe="/?#&=;:@!$'()*+,%-._~[]")


def is_public(path: str, prefixes: Sequence[str]) -> bool:
    """True if ``path`` is one of ``prefixes`` or below it (``/static`` covers ``/static/x``).

    ``path`` must be the decoded form of a :func:`canonical_path` without encoded separators.
    """
    return any(path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in prefixes)
